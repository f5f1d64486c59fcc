"""Reading the price book's fields: where a value is, so that a refusal names the file, plan and
field in one line, and values read exactly (numbers as written, never through a float)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from transforms.money import MoneyError, parse_decimal
from transforms.numbers import PRICE, DecimalKind


class PriceBookError(ValueError):
    """A price book that breaks the rules; the message names file, plan and field."""


class Where:
    """Builds error messages that say exactly where a problem is."""

    def __init__(self, file: str, plan: str | None = None, path: str = ""):
        self.file, self.plan, self.path = file, plan, path

    def at(self, part: str | int) -> Where:
        sep = "" if isinstance(part, int) or not self.path else "."
        part_s = f"[{part}]" if isinstance(part, int) else part
        return Where(self.file, self.plan, f"{self.path}{sep}{part_s}")

    def error(self, message: str) -> PriceBookError:
        where = self.file
        if self.plan:
            where += f": plan {self.plan}"
        if self.path:
            where += f": {self.path}"
        return PriceBookError(f"{where}: {message}")


def take(mapping: dict, key: str, where: Where, *, required: bool = True, default=None):
    if key in mapping and mapping[key] is not None:
        return mapping[key]
    if required:
        raise where.at(key).error("is required")
    return default


def read_decimal(
    value,
    where: Where,
    *,
    kind: DecimalKind,
    minimum: Decimal | None = Decimal(0),
    positive=False,
):
    """A number of the price book, exactly as written; refused unless it fits `kind`."""
    try:
        result = parse_decimal(value)
    except MoneyError as exc:
        raise where.error(str(exc)) from None
    problem = kind.problem(result)
    if problem:
        raise where.error(f"{problem}: a {kind.name} has {kind.describe()}")
    if positive and result <= 0:
        raise where.error(f"must be greater than 0, got {result}")
    if minimum is not None and result < minimum:
        raise where.error(f"must be at least {minimum}, got {result}")
    return result


def no_unknown_keys(mapping: dict, allowed: set[str], where: Where) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise where.at(unknown[0]).error(f"unknown field (allowed: {', '.join(sorted(allowed))})")


def read_date(value, where: Where) -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise where.error("must be a date YYYY-MM-DD") from None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise where.error("must be a date YYYY-MM-DD")
    return value


def read_text(value, where: Where, *, longest: int | None = None) -> str | None:
    """Optional text (a name, a description), not blank; given `longest`, a short label (a
    unit): one line of printable text of at most that many characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise where.error("must be a non-empty string")
    text = value.strip()
    if longest is not None:
        if not text.isprintable():
            raise where.error("must be one line of printable text")
        if len(text) > longest:
            raise where.error(f"must be at most {longest} characters")
    return text


def read_tax_rate(raw: dict, where: Where) -> Decimal | None:
    """An optional `tax_rate`: a fraction from 0 up to, not including, 1 (0.20 is 20 %)."""
    if raw.get("tax_rate") is None:
        return None
    rate = read_decimal(raw["tax_rate"], where.at("tax_rate"), kind=PRICE)
    if rate >= 1:
        raise where.at("tax_rate").error(f"{rate} is not below 1 (a fraction: 0.20 is 20 %)")
    return rate
