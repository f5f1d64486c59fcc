"""The issued store: month close's writes, committed at once (SPEC 3).

`lake/issued/{invoice_lines,credit_consumption,invoices}/period=YYYY-MM.parquet` are written
once per month and never rewritten; a later run that computes something different produces
adjustments instead. The invoices file is written last: it is the month's commit marker.
Credits are applied by `transforms.close` in the burn order of `transforms.credits`.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl

from lake.home import Home, safe_file_name
from lake.io import write_table
from lake.schemas import ISSUED_CONSUMPTION_SCHEMA, ISSUED_INVOICE_SCHEMA, ISSUED_LINE_SCHEMA
from transforms.close import CloseResult, apply_credits
from transforms.credits import Consumption, Grant


def is_issued(home: Home, month: dt.date) -> bool:
    return (home.lake_issued / "invoices" / f"period={month:%Y-%m}.parquet").exists()


def load_grants(home: Home) -> list[Grant]:
    path = home.lake_reference / "credit_grants.parquet"
    if not path.exists():
        return []
    return [
        Grant(
            r["grant_id"],
            r["customer_id"],
            r["granted_at"],
            r["credits"],
            r["kind"],
            r["purchase_amount"] or Decimal(0),
            r["expires_at"],
            r["priority"],
        )
        for r in pl.read_parquet(path).iter_rows(named=True)
    ]


def issued_consumption(home: Home, before: dt.date | None = None) -> list[Consumption]:
    """Credit consumption frozen by earlier closes (all of it, or of periods before a month)."""
    folder = home.lake_issued / "credit_consumption"
    out = []
    for path in sorted(folder.glob("period=*.parquet")):
        if before is not None and path.stem.removeprefix("period=") >= f"{before:%Y-%m}":
            continue
        for r in pl.read_parquet(path).iter_rows(named=True):
            out.append(
                Consumption(
                    r["grant_id"],
                    r["customer_id"],
                    r["invoice_id"],
                    r["entry_date"],
                    r["credits"],
                    r["money"],
                    r["revenue"],
                    r["discount"],
                )
            )
    return out


ISSUED_TABLES = ("invoice_lines", "credit_consumption", "invoices")


def _period_file(home: Home, table: str, month: dt.date) -> Path:
    return home.lake_issued / table / f"period={month:%Y-%m}.parquet"


def remove_uncommitted_closes(home: Home) -> list[str]:
    """A close commits by writing its invoices file last (the commit marker). Lines and credit
    consumption of a period without one are the remains of a close that crashed before its
    commit: they are removed, so nothing reads them and the close can run again."""
    committed = {p.name for p in (home.lake_issued / "invoices").glob("period=*.parquet")}
    removed = []
    for table in ISSUED_TABLES:
        folder = home.lake_issued / table
        for leftover in folder.glob("*.parquet.tmp"):
            leftover.unlink()
            removed.append(home.relative(leftover))
        if table == "invoices":
            continue
        for part in folder.glob("period=*.parquet"):
            if part.name not in committed:
                part.unlink()
                removed.append(home.relative(part))
    return removed


def issue_month(
    home: Home,
    month: dt.date,
    invoices: pl.DataFrame,
    lines: pl.DataFrame,
    *,
    now: dt.datetime,
) -> CloseResult:
    """Issue the month's invoices once: credits applied, lines, invoices and credit consumption
    into the lake, committed together, then one JSON document per invoice. What close
    requires first is orchestration.close_gate's to say."""
    month = month.replace(day=1)
    remove_uncommitted_closes(home)
    invoices_file = _period_file(home, "invoices", month)
    if invoices_file.exists():
        existing = pl.read_parquet(invoices_file)
        write_documents(home, month)  # a crash after the commit may have left some unwritten
        return CloseResult(
            month,
            existing.height,
            Decimal(existing["total"].sum() or 0),
            True,
            Decimal(existing["credits_applied"].sum() or 0),
        )
    issued_at = now.astimezone(dt.UTC)
    earlier = issued_consumption(home, before=month)
    invoices, entries = apply_credits(load_grants(home), earlier, month, invoices)
    consumption = _consumption_frame(entries, month)
    invoices = (
        invoices.with_columns(
            pl.lit(issued_at).cast(ISSUED_INVOICE_SCHEMA["issued_at"]).alias("issued_at"),
        )
        .select(list(ISSUED_INVOICE_SCHEMA))
        .cast(ISSUED_INVOICE_SCHEMA)
        .sort("invoice_id")
    )
    lines = lines.select(list(ISSUED_LINE_SCHEMA)).cast(ISSUED_LINE_SCHEMA).sort("invoice_line_id")
    for inv in invoices["invoice_id"]:
        safe_file_name(inv)  # refuse a name that cannot be a document before anything is written

    # Lines and credits first, invoices last: the invoices file is the commit. A crash before
    # it leaves parts that remove_uncommitted_closes() deletes; documents follow the commit.
    write_table(lines, _period_file(home, "invoice_lines", month))
    # In burn order (invoice by invoice), the order documents list the grants drawn.
    write_table(consumption, _period_file(home, "credit_consumption", month))
    write_table(invoices, invoices_file)
    write_documents(home, month)
    return CloseResult(
        month,
        invoices.height,
        Decimal(invoices["total"].sum() or 0),
        False,
        Decimal(invoices["credits_applied"].sum() or 0),
    )


def _consumption_frame(entries: list[Consumption], month: dt.date) -> pl.DataFrame:
    """Credits drawn at a close, one row per grant and invoice, in burn order."""
    return pl.DataFrame(
        [
            {
                "entry_id": f"{e.grant_id}:{e.invoice_id}",
                "grant_id": e.grant_id,
                "customer_id": e.customer_id,
                "invoice_id": e.invoice_id,
                "period_start": month,
                "entry_date": e.entry_date,
                "credits": e.credits,
                "money": e.money,
                "revenue": e.revenue,
                "discount": e.discount,
            }
            for e in entries
        ],
        schema=ISSUED_CONSUMPTION_SCHEMA,
    )


def write_documents(home: Home, month: dt.date) -> int:
    """One JSON document per issued invoice of a committed month, from the issued store;
    documents already written are left as they are. Returns how many were written."""
    invoices = pl.read_parquet(_period_file(home, "invoices", month))
    lines = pl.read_parquet(_period_file(home, "invoice_lines", month))
    consumption = pl.read_parquet(_period_file(home, "credit_consumption", month))
    home.exports.mkdir(parents=True, exist_ok=True)
    by_invoice = lines.partition_by("invoice_id", as_dict=True)
    credits_by_invoice = consumption.partition_by("invoice_id", as_dict=True)
    written = 0
    for inv in invoices.iter_rows(named=True):
        path = home.exports / f"{safe_file_name(inv['invoice_id'])}.json"
        if path.exists():
            continue
        inv_lines = by_invoice.get((inv["invoice_id"],), lines.clear())
        inv_credits = credits_by_invoice.get((inv["invoice_id"],), consumption.clear())
        document = {
            **{k: _json_value(v) for k, v in inv.items()},
            "status": "issued",
            "lines": [
                {k: _json_value(v) for k, v in ln.items()} for ln in inv_lines.iter_rows(named=True)
            ],
            "credits": [
                {k: _json_value(c[k]) for k in ("grant_id", "credits", "money")}
                for c in inv_credits.iter_rows(named=True)
            ],
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
        written += 1
    return written


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
