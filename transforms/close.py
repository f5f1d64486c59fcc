"""Month close: freeze a period's computed invoices into the issued store (SPEC 3).

Issued invoices are written once per period and never rewritten; a later run that computes
something different for that period produces adjustments instead (issue #6).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from transforms.home import Home
from transforms.lake import ISSUED_INVOICE_SCHEMA, ISSUED_LINE_SCHEMA, write_table


class CloseError(ValueError):
    """A month that cannot be closed, with the reason."""


@dataclass(frozen=True)
class CloseResult:
    month: dt.date
    invoices: int
    total: Decimal
    already_issued: bool


def is_issued(home: Home, month: dt.date) -> bool:
    return (home.lake_issued / "invoices" / f"period={month:%Y-%m}.parquet").exists()


def issue_month(
    home: Home,
    month: dt.date,
    invoices: pl.DataFrame,
    lines: pl.DataFrame,
    *,
    now: dt.datetime,
) -> CloseResult:
    """Issue the month's invoices once: lines and invoices into the lake, one JSON per invoice."""
    month = month.replace(day=1)
    invoices_file = home.lake_issued / "invoices" / f"period={month:%Y-%m}.parquet"
    if invoices_file.exists():
        existing = pl.read_parquet(invoices_file)
        return CloseResult(month, existing.height, Decimal(existing["total"].sum() or 0), True)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    if now.date() < next_month:
        raise CloseError(
            f"{month:%Y-%m} is not over yet (it ends {next_month}); close it after that"
        )
    issued_at = now.astimezone(dt.UTC)
    # Credits are applied at close by issue #4; until then the total is the subtotal.
    invoices = (
        invoices.with_columns(
            pl.lit(0).cast(ISSUED_INVOICE_SCHEMA["credits_applied"]).alias("credits_applied"),
            pl.col("subtotal").cast(ISSUED_INVOICE_SCHEMA["total"]).alias("total"),
            pl.lit(issued_at).cast(ISSUED_INVOICE_SCHEMA["issued_at"]).alias("issued_at"),
        )
        .select(list(ISSUED_INVOICE_SCHEMA))
        .cast(ISSUED_INVOICE_SCHEMA)
        .sort("invoice_id")
    )
    lines = lines.select(list(ISSUED_LINE_SCHEMA)).cast(ISSUED_LINE_SCHEMA).sort("invoice_line_id")

    home.exports.mkdir(parents=True, exist_ok=True)
    by_invoice = lines.partition_by("invoice_id", as_dict=True)
    for inv in invoices.iter_rows(named=True):
        inv_lines = by_invoice.get((inv["invoice_id"],), lines.clear())
        document = {
            **{k: _json_value(v) for k, v in inv.items()},
            "status": "issued",
            "lines": [
                {k: _json_value(v) for k, v in ln.items()} for ln in inv_lines.iter_rows(named=True)
            ],
        }
        path = home.exports / f"{inv['invoice_id']}.json"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
    # Lines first, invoices last: the invoices file is what marks the month as issued.
    write_table(lines, home.lake_issued / "invoice_lines" / f"period={month:%Y-%m}.parquet")
    write_table(invoices, invoices_file)
    return CloseResult(month, invoices.height, Decimal(invoices["total"].sum() or 0), False)


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
