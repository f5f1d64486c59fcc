"""Exact money: parsing without floats, ISO 4217 minor units, half-up rounding."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
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


def ceil_money(amount: Decimal, currency: str) -> Decimal:
    """Round up to the currency's minor units: the least money that is at least `amount`."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_CEILING)


def currency_table():
    """ISO 4217 currencies and their minor units, from CLDR via Babel, as a frame."""
    import polars as pl
    from babel.numbers import get_currency_precision, list_currencies

    codes = sorted(list_currencies())
    return pl.DataFrame(
        {"currency": codes, "minor_units": [get_currency_precision(c) for c in codes]},
        schema={"currency": pl.String, "minor_units": pl.Int32},
    )


def in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """`amount` with exactly the currency's minor units (`12.5` USD -> `12.50`, `1250.0000` JPY
    -> `1250`), never a negative zero. An amount with a non-zero digit beyond them is refused,
    never rounded here: issued amounts are already rounded, and a document must not show a
    different figure."""
    exact = amount.quantize(Decimal(1).scaleb(-minor_units(currency)))
    if exact != amount:
        raise MoneyError(f"{amount} has more decimals than {currency.upper()} has minor units")
    return abs(exact) if exact.is_zero() else exact


def money_text(amount: Decimal, currency: str, *, grouped: bool = False) -> str:
    """Money as text in the currency's minor units (`87.53`, `1250`; grouped: `1,250`), never
    in exponent notation and never `-0.00`; the minus is ASCII `-`, as everywhere in tally."""
    return format(in_minor_units(amount, currency), ",f" if grouped else "f")


def amount_text(amount: Decimal, currency: str, *, grouped: bool = False) -> str:
    """`money_text`, except that an amount someone wrote with more digits than the currency
    has (a budget of `10.005` USD, a payment amount) keeps every digit instead of failing:
    for figures that were never rounded to an invoice's minor units."""
    try:
        return money_text(amount, currency, grouped=grouped)
    except MoneyError:
        return plain_quantity(amount, grouped=grouped)


def format_money(amount: Decimal, currency: str) -> str:
    """Money as a reader expects it: grouped digits, the currency's minor units, the code after
    (`12.50 USD`, `1,250 JPY`, `1,234.567 KWD`, `-5.00 EUR`)."""
    # Exactly the minor units' digits, so grouping is all that is left (as CLDR's en pattern
    # `#,##0.00` would show it, at a tenth of the cost: a build shows tens of thousands).
    return f"{money_text(amount, currency, grouped=True)} {currency.upper()}"


def format_quantity(quantity: Decimal) -> str:
    """A quantity without trailing zeros, digits grouped (`30`, `140,929`, `1.5`). Exact: no
    rounding to a context's precision (a DECIMAL(38, 9) has more digits than Python's 28)."""
    return plain_quantity(quantity, grouped=True)


def plain_quantity(quantity: Decimal, *, grouped: bool = False) -> str:
    """`quantity` as exact text without trailing zeros (`30`, `1.5`), grouped if asked; never
    in exponent notation (`0E-9` is `0`, `1E+3` is `1000`) and never `-0`."""
    text = format(quantity, ",f" if grouped else "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_quantities(quantity, *, decimals=None, grouped: bool = True):
    """`format_quantity` for a whole column of decimals at once (a Polars expression giving the
    same text), for pages that show thousands of quantities. `decimals` (an integer expression,
    at least each value's own decimals) pads the fraction so a column reads evenly (`17.40`
    beside `181.01`); `grouped=False` leaves the digits ungrouped (`plain_quantity`)."""
    import polars as pl

    text = quantity.cast(pl.String)
    whole = text.str.extract(r"(\d+)", 1)
    fraction = fraction_digits_text(text)
    if decimals is not None:
        fraction = fraction.str.pad_end(decimals, "0")
    if grouped:
        whole = whole.str.reverse().str.extract_all(r"\d{1,3}").list.join(",").str.reverse()
    # A minus only before a figure that is not zero: never `-0`.
    negative = text.str.starts_with("-") & text.str.contains(r"[1-9]")
    return pl.concat_str(
        pl.when(negative).then(pl.lit("-")).otherwise(pl.lit("")),
        whole,
        pl.when(fraction != "").then("." + fraction).otherwise(pl.lit("")),
    )


def fraction_digits_text(text):
    """The significant decimals of a column of decimal text (`17.400` -> `4`, `3` -> ``)."""
    return text.str.extract(r"\.(\d*?)0*$", 1).fill_null("")
