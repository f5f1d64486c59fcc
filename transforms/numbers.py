"""Exact numbers at the door: one rule for every value that enters tally (docs/DECISIONS.md).

A number is kept exactly or refused with a reason, never rounded on the way in: a quantity,
price or amount is written as a plain decimal or in exponent notation, and it must fit the
warehouse type it is stored in (its decimals and its whole digits). The same rule applies to
every parser path (CSV, JSON lines, Parquet, reference files, the price book), so a value is
never accepted by one reader and refused by another.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import polars as pl


@dataclass(frozen=True)
class DecimalKind:
    """A fixed-point kind of number: at most `scale` decimals and `whole_digits` digits before
    the point, stored as `DECIMAL(38, scale)` with room left for sums and products."""

    name: str
    scale: int
    whole_digits: int

    @property
    def dtype(self) -> pl.Decimal:
        return pl.Decimal(38, self.scale)

    @property
    def upper_bound(self) -> Decimal:
        return Decimal(10) ** self.whole_digits

    def describe(self) -> str:
        return f"at most {self.scale} decimals and below {self.upper_bound:,}"

    def problem(self, value: Decimal) -> str | None:
        """Why `value` does not fit this kind, or None when it does, exactly."""
        if not value.is_finite():
            return f"{value} is not a finite number"
        if decimals(value) > self.scale:
            return f"{value} has more than {self.scale} decimals"
        if abs(value) >= self.upper_bound:
            return f"{value} is not below {self.upper_bound:,}"
        return None

    def parse_text(self, text: pl.Expr) -> pl.Expr:
        """Plain decimal strings to this kind's dtype, exactly; null for anything else (text in
        exponent notation must be made plain first: see `plain_decimals`). Leading zeros and
        trailing zeros after the point do not count against the limits."""
        s, w = self.scale, self.whole_digits
        # Text with no digit at all ("", "+", ".") matches too, and the cast makes it null.
        fits = text.str.contains(rf"^[+-]?0*[0-9]{{0,{w}}}(\.[0-9]{{0,{s}}}0*)?$")
        return pl.when(fits).then(text).cast(self.dtype, strict=False)


def decimals(value: Decimal) -> int:
    """Digits after the point that matter (trailing zeros do not), exactly, at any size."""
    _, digits, exponent = value.as_tuple()
    text = "".join(map(str, digits))
    trailing = len(text) - len(text.rstrip("0")) if text.strip("0") else len(text)
    return max(0, -(exponent + trailing))


# The kinds of number tally stores (docs/DECISIONS.md, "Exact numbers at the door"). Money has
# two kinds: an *amount* is money billed or paid (invoice lines, totals, purchases), a *fee* is
# money in the price book, prorated and multiplied before it is rounded to an amount.
QUANTITY = DecimalKind("quantity", scale=9, whole_digits=15)
PRICE = DecimalKind("price", scale=12, whole_digits=9)
FEE = DecimalKind("amount", scale=12, whole_digits=12)
AMOUNT = DecimalKind("amount", scale=4, whole_digits=15)
INT32_MAX = 2**31 - 1

_EXPONENT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$"
# Beyond this many digits an exponent cannot give a value any kind above holds exactly.
_MAX_EXPONENT = 64


def plain_decimals(texts: pl.Series) -> pl.Series:
    """Stripped decimal text, with exponent notation (`1.5e3`, `2E-4`) rewritten as a plain
    decimal exactly. Exponent notation is rare, so its distinct values are rewritten in Python;
    text that is not a decimal number at all is kept as it is (it will not parse)."""
    stripped = texts.str.strip_chars()
    if not stripped.str.contains("[eE]").any():  # the common case, a cheap scan
        return stripped
    exponent = stripped.str.contains(_EXPONENT).fill_null(False)
    if not exponent.any():
        return stripped
    # Text that no exact plain form exists for is kept as it is: it will not parse.
    mapping = {t: _plain(t) or t for t in stripped.filter(exponent).unique().to_list()}
    return stripped.replace(mapping)


def _plain(text: str) -> str | None:
    mantissa, _, exp = text.lower().partition("e")
    if len(exp.lstrip("+-").lstrip("0")) > 3 or abs(int(exp)) > _MAX_EXPONENT:
        # Far outside every kind, or a zero with a silly exponent: no need to build it.
        return "0" if Decimal(mantissa) == 0 else None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return f"{value:f}"
