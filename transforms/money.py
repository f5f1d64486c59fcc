"""Exact money: parsing without floats, ISO 4217 minor units, half-up rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache


class MoneyError(ValueError):
    """A value that cannot be read as an exact decimal amount."""


def parse_decimal(value: object) -> Decimal:
    """Read a money or quantity value exactly; floats are refused because they are already lossy."""
    if isinstance(value, bool | float):
        raise MoneyError(f"{value!r} is a float; write it as a quoted string")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise MoneyError(f"{value!r} is not a decimal number") from exc
    else:
        raise MoneyError(f"{value!r} is not a decimal number")
    if not result.is_finite():
        raise MoneyError(f"{value!r} is not finite")
    return result


@cache
def minor_units(currency: str) -> int:
    """Digits after the decimal point for an ISO 4217 currency (CLDR data via Babel)."""
    from babel.numbers import get_currency_precision, list_currencies

    code = currency.upper()
    if code not in list_currencies():
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code")
    return get_currency_precision(code)


def is_currency(code: str) -> bool:
    try:
        minor_units(code)
    except MoneyError:
        return False
    return True


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up (away from zero) to the currency's minor units, as every invoice line is."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def currency_table():
    """ISO 4217 currencies and their minor units, from CLDR via Babel, as a frame."""
    import polars as pl
    from babel.numbers import get_currency_precision, list_currencies

    codes = sorted(list_currencies())
    return pl.DataFrame(
        {"currency": codes, "minor_units": [get_currency_precision(c) for c in codes]},
        schema={"currency": pl.String, "minor_units": pl.Int32},
    )
