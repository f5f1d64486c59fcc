"""Rendering pages from the templates, and writing files whole or not at all."""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal

import jinja2
import markupsafe

from transforms.money import amount_text, format_quantity, plain_quantity


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("publish", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,  # a missing figure fails the build, never shows blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["negated_money"] = lambda amount, currency: money(-Decimal(amount), currency)
    env.filters["quantity"] = lambda q: format_quantity(Decimal(q))
    env.filters["utc_minute"] = utc_minute
    env.filters["period"] = period_text
    # Digits grouped, every decimal kept (`1,093.30`): a figure already in its final form.
    env.filters["grouped"] = lambda q: format(Decimal(q), ",f")
    return env


def period_text(start: dt.date, end: dt.date) -> str:
    """A billing period as readers name it: `2026-09` for a calendar month, its first and last
    days otherwise (`2026-09-15 to 2026-10-14`, `2026-07-01 to 2026-09-30`)."""
    if start.day == 1 and end == (start + dt.timedelta(days=32)).replace(day=1):
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m-%d} to {end - dt.timedelta(days=1):%Y-%m-%d}"


def money(amount, currency: str) -> str:
    """`1,250.00 USD`: grouped, in the currency's minor units (a budget written with more
    digits keeps them), ASCII minus, never `-0.00`."""
    return f"{amount_text(Decimal(amount), currency, grouped=True)} {currency.upper()}"


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def to_json(value, indent: int | None = None) -> str:
    """JSON with decimals as strings (exact) and dates as ISO text."""
    return json.dumps(value, default=_json_default, indent=indent, sort_keys=indent is not None)


class RawJSON(str):
    """Text that is already JSON (built in bulk elsewhere), placed in a page's JSON as is."""


def page_json(page: dict) -> str:
    """A page's data as compact JSON; members that are `RawJSON` go in as they are."""
    members = (
        f"{json.dumps(key)}:{value if isinstance(value, RawJSON) else _compact(value)}"
        for key, value in page.items()
    )
    return "{" + ",".join(members) + "}"


def utc_minute(iso: str | None) -> str:
    """`2026-10-10T12:00:00Z` as a reader sees it: `2026-10-10 12:00 UTC`."""
    return "no usage yet" if iso is None else f"{iso[:10]} {iso[11:16]} UTC"


def _compact(value) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def embed(text: str) -> markupsafe.Markup:
    """JSON text to embed in a <script> element, whose text is not HTML: nothing is
    entity-escaped, and `<`, `>` and `&` become JSON escapes, so no string in the data can end
    the element."""
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return markupsafe.Markup(text)


def _json_default(value):
    # Money reaches JSON as text in its minor units (converted where its currency is known);
    # any other decimal is a quantity: exact, without trailing zeros or exponent (`0E-9` -> 0).
    if isinstance(value, Decimal):
        return plain_quantity(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
