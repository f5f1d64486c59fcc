"""The issued store: month close's writes, committed at once.

`lake/issued/<table>/period=YYYY-MM.parquet` (invoice lines and items, credit consumption,
rollovers and top-ups, invoices) are written
once per month and never rewritten; a later run that computes something different produces
adjustments instead. The invoices file is written last: it is the month's commit marker.
Credits are applied by `transforms.close` in the burn order of `transforms.credits`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
from dateutil.relativedelta import relativedelta

from lake.home import Home, safe_file_name
from lake.io import write_table
from lake.schemas import (
    ISSUED_CONSUMPTION_SCHEMA,
    ISSUED_INVOICE_SCHEMA,
    ISSUED_ITEM_SCHEMA,
    ISSUED_LINE_SCHEMA,
    ISSUED_ROLLOVER_SCHEMA,
    ISSUED_TOPUP_SCHEMA,
)
from transforms.cadence import Cadence
from transforms.close import CloseResult, apply_credits
from transforms.credits import Consumption, Rollover
from transforms.grants import Grant, Subscription, allocation_grants, grant_targets
from transforms.price_terms import CreditAllocation
from transforms.topups import TopUp, TopUpRule

SUBSCRIPTION_COLUMNS = ("subscription_id", "customer_id", "plan_id", "started_at", "ended_at")


def is_issued(home: Home, month: dt.date) -> bool:
    return (home.lake_issued / "invoices" / f"period={month:%Y-%m}.parquet").exists()


def load_grants(home: Home, before: dt.date) -> list[Grant]:
    """The grants of credit_grants.csv (recurring rows as they are: the book makes their
    instances), the plans' credit allocations of the periods that start before `before`, and
    the top-ups earlier closes made."""
    return (
        _reference_grants(home)
        + allocation_grants(_subscriptions(home), _allocations(home), before, _cadences(home))
        + _issued_topups(home)
    )


def _issued_topups(home: Home) -> list[Grant]:
    return [
        Grant(
            r["topup_grant_id"],
            r["customer_id"],
            r["created_on"],
            r["credits"],
            r["kind"],
            r["purchase_amount"],
            priority=r["priority"],
        )
        for path in sorted((home.lake_issued / "credit_topups").glob("period=*.parquet"))
        for r in pl.read_parquet(path).iter_rows(named=True)
    ]


def _topup_rules(home: Home) -> list[TopUpRule]:
    """credit_topups.csv as the last run validated it."""
    path = home.lake_reference / "credit_topups.parquet"
    if not path.exists():
        return []
    return [TopUpRule(**r) for r in pl.read_parquet(path).iter_rows(named=True)]


def _subscriptions(home: Home) -> list[Subscription]:
    path = home.lake_reference / "subscriptions.parquet"
    if not path.exists():
        return []
    return [
        Subscription(*r)
        for r in pl.read_parquet(path, columns=list(SUBSCRIPTION_COLUMNS)).iter_rows()
    ]


def _cadences(home: Home) -> dict[str, Cadence]:
    """Each plan's billing cadence (the same in every version)."""
    path = home.lake_pricing / "plans.parquet"
    if not path.exists() or "billing_interval" not in pl.read_parquet_schema(path):
        return {}
    columns = ["plan_id", "billing_interval", "billing_anchor", "usage_invoicing"]
    plans = pl.read_parquet(path, columns=columns)
    return {
        r[0]: Cadence(r[1], r[2], r[3] == "monthly") for r in plans.unique("plan_id").iter_rows()
    }


def _allocations(home: Home) -> dict[str, list[tuple[int, dt.date, CreditAllocation | None]]]:
    path = home.lake_pricing / "plans.parquet"
    if not path.exists() or "allocation_credits" not in pl.read_parquet_schema(path):
        return {}
    out: dict[str, list] = {}
    for r in pl.read_parquet(path).iter_rows(named=True):
        allocation = (
            None
            if r["allocation_credits"] is None
            else CreditAllocation(
                r["allocation_credits"], r["allocation_rollover_cap"], r["allocation_priority"]
            )
        )
        out.setdefault(r["plan_id"], []).append(
            (r["plan_version"], r["effective_from"], allocation)
        )
    return out


def _reference_grants(home: Home) -> list[Grant]:
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
            grant_targets(r.get("applies_to")),
            r.get("recurrence"),
            r.get("recurrence_ends_at"),
            r.get("rollover_cap"),
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
                    # closes before taxes wrote neither
                    r.get("tax_money") or Decimal(0),
                    r.get("deferred_to_tax") or Decimal(0),
                )
            )
    return out


ISSUED_TABLES = (
    "invoice_lines",
    "invoice_items",
    "credit_consumption",
    "credit_rollovers",
    "credit_topups",
    "invoices",
)


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
    payment_terms_days: int = 30,
    items: pl.DataFrame | None = None,
) -> CloseResult:
    """Issue the month's invoices once: credits applied, lines, items (with their discounts
    and taxes, when given), invoices and credit consumption into the lake, committed together. Each invoice gets the next consecutive number, the
    customer's name as it is now, and a due date `payment_terms_days` after the issue date.
    What close requires first is transforms.close's to say; the documents under
    exports/ are written from the committed store (publish.documents)."""
    month = month.replace(day=1)
    remove_uncommitted_closes(home)
    invoices_file = _period_file(home, "invoices", month)
    if invoices_file.exists():
        existing = pl.read_parquet(invoices_file)
        return CloseResult(
            month,
            existing.height,
            Decimal(existing["total"].sum() or 0),
            True,
            Decimal(existing["credits_applied"].sum() or 0),
        )
    if invoices.height == 0:
        # A month no subscription was active in: nothing to issue, and nothing is recorded, so
        # the month is not "issued" and a later close (subscriptions added since) issues it.
        return CloseResult(month, 0, Decimal(0), False)
    issued_at = now.astimezone(dt.UTC)
    applied = apply_credits(
        load_grants(home, before=month + relativedelta(months=1, days=1)),
        month,
        invoices,
        currency_of=_customer_currencies(home, invoices),
        items=items,
        earlier=issued_consumption(home, before=month),
        earlier_rollovers=issued_rollovers(home, before=month),
        topup_rules=_topup_rules(home),
    )
    invoices, items = applied.invoices, applied.items
    consumption = _consumption_frame(applied.consumption, month)
    rollovers = _rollover_frame(applied.rollovers, month)
    topups = _topup_frame(applied.topups)
    invoices = (
        invoices.sort("invoice_id")
        .join(_customer_names(home), on="customer_id", how="left")
        .with_columns(
            (pl.int_range(1, pl.len() + 1, dtype=pl.Int64) + last_invoice_number(home)).alias(
                "invoice_number"
            ),
            _credit_note_numbers(last_credit_note_number(home)),
            pl.lit(issued_at).cast(ISSUED_INVOICE_SCHEMA["issued_at"]).alias("issued_at"),
            pl.lit(issued_at.date() + dt.timedelta(days=payment_terms_days)).alias("due_date"),
        )
        .select(list(ISSUED_INVOICE_SCHEMA))
        .cast(ISSUED_INVOICE_SCHEMA)
    )
    lines = lines.select(list(ISSUED_LINE_SCHEMA)).cast(ISSUED_LINE_SCHEMA).sort("invoice_line_id")
    for inv in invoices["invoice_id"]:
        safe_file_name(inv)  # refuse a name that cannot be a document before anything is written

    # Lines and credits first, invoices last: the invoices file is the commit. A crash before
    # it leaves parts that remove_uncommitted_closes() deletes.
    write_table(lines, _period_file(home, "invoice_lines", month))
    if items is not None:
        items = (
            items.select(list(ISSUED_ITEM_SCHEMA))
            .cast(ISSUED_ITEM_SCHEMA)
            .sort("invoice_id", "item_order")
        )
        write_table(items, _period_file(home, "invoice_items", month))
    # In burn order (invoice by invoice), the order documents list the grants drawn.
    write_table(consumption, _period_file(home, "credit_consumption", month))
    write_table(rollovers, _period_file(home, "credit_rollovers", month))
    write_table(topups, _period_file(home, "credit_topups", month))
    write_table(invoices, invoices_file)
    return CloseResult(
        month,
        invoices.height,
        Decimal(invoices["total"].sum() or 0),
        False,
        Decimal(invoices["credits_applied"].sum() or 0),
    )


def _credit_note_numbers(last: int) -> pl.Expr:
    """The next credit note numbers, in invoice order, for the invoices whose subtotal is
    negative (what they owe the customer is issued as a credit note); null for the others."""
    owed = pl.col("subtotal") < 0
    return (
        pl.when(owed)
        .then(owed.cast(pl.Int64).cum_sum() + last)
        .otherwise(None)
        .cast(pl.Int64)
        .alias("credit_note_number")
    )


def last_invoice_number(home: Home) -> int:
    """The highest invoice number issued so far (0 before the first close). Numbers are never
    reused: a close that crashed before its commit issued none."""
    files = sorted((home.lake_issued / "invoices").glob("period=*.parquet"))
    if not files:
        return 0
    numbers = pl.scan_parquet(files, missing_columns="insert").select(
        pl.col("invoice_number").max()
    )
    return int(numbers.collect().item() or 0)


def last_credit_note_number(home: Home) -> int:
    """The highest credit note number issued so far (0 before the first): credit notes have
    their own consecutive series. Months issued before credit notes were numbered have none."""
    highest = 0
    for path in sorted((home.lake_issued / "invoices").glob("period=*.parquet")):
        if "credit_note_number" in pl.read_parquet_schema(path):
            found = pl.read_parquet(path, columns=["credit_note_number"])[
                "credit_note_number"
            ].max()
            highest = max(highest, int(found or 0))
    return highest


def _customer_names(home: Home) -> pl.DataFrame:
    """Each customer's name, billing address and tax id as they are now, to freeze on the
    invoices a close issues."""
    renamed = {
        "name": "customer_name",
        "billing_address": "customer_billing_address",
        "tax_id": "customer_tax_id",
    }
    path = home.lake_reference / "customers.parquet"
    if not path.exists():
        return pl.DataFrame(
            schema={"customer_id": pl.String, **dict.fromkeys(renamed.values(), pl.String)}
        )
    customers = pl.read_parquet(path)
    return customers.select(
        "customer_id",
        *(
            (pl.col(c) if c in customers.columns else pl.lit(None, pl.String)).alias(a)
            for c, a in renamed.items()
        ),
    )


def read_period(
    home: Home, month: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A committed month's invoices, lines, credit consumption and items, from the issued
    store (no items for a month issued before they were frozen)."""
    invoices, lines, consumption = (
        pl.read_parquet(_period_file(home, table, month))
        for table in ("invoices", "invoice_lines", "credit_consumption")
    )
    items_file = _period_file(home, "invoice_items", month)
    items = (
        pl.read_parquet(items_file)
        if items_file.exists()
        else pl.DataFrame(schema=ISSUED_ITEM_SCHEMA)
    )
    return invoices, lines, consumption, items


def issued_rollovers(home: Home, before: dt.date | None = None) -> list[Rollover]:
    """Rollovers and expiries frozen by earlier closes (all, or of periods before a month)."""
    out = []
    for path in sorted((home.lake_issued / "credit_rollovers").glob("period=*.parquet")):
        if before is not None and path.stem.removeprefix("period=") >= f"{before:%Y-%m}":
            continue
        out += [
            Rollover(
                r["grant_id"],
                r["customer_id"],
                r["entry_date"],
                r["to_grant_id"],
                r["carried"],
                r["expired"],
                r["moved"],
                r["breakage"],
            )
            for r in pl.read_parquet(path).iter_rows(named=True)
        ]
    return out


def _rollover_frame(entries: list[Rollover], month: dt.date) -> pl.DataFrame:
    """A close's rollovers and expiries, one row per grant settled."""
    return pl.DataFrame(
        [
            {
                "entry_id": f"{e.grant_id}:settled:{e.entry_date.isoformat()}",
                "grant_id": e.grant_id,
                "customer_id": e.customer_id,
                "period_start": month,
                "entry_date": e.entry_date,
                "to_grant_id": e.to_grant_id,
                "carried": e.carried,
                "expired": e.expired,
                "moved": e.moved,
                "breakage": e.breakage,
            }
            for e in entries
        ],
        schema=ISSUED_ROLLOVER_SCHEMA,
    )


def _topup_frame(topups: list[TopUp]) -> pl.DataFrame:
    """The top-ups a close made, in the order it made them."""
    return pl.DataFrame(
        [
            {
                "topup_grant_id": t.grant.grant_id,
                "topup_id": t.topup_id,
                "customer_id": t.grant.customer_id,
                "period_start": t.period_start,
                "created_on": t.created_on,
                "credits": t.grant.credits,
                "purchase_amount": t.grant.purchase_amount,
                "currency": t.currency,
                "kind": t.grant.kind,
                "priority": t.grant.priority,
            }
            for t in topups
        ],
        schema=ISSUED_TOPUP_SCHEMA,
    )


def _customer_currencies(home: Home, invoices: pl.DataFrame) -> dict[str, str]:
    """Each customer's currency: customers.csv's, and the invoices' for those it has."""
    path = home.lake_reference / "customers.parquet"
    known = {}
    if path.exists() and "currency" in pl.read_parquet_schema(path):
        known = dict(pl.read_parquet(path, columns=["customer_id", "currency"]).iter_rows())
    return known | dict(invoices.select("customer_id", "currency").iter_rows())


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
                "tax_money": e.tax_money,
                "deferred_to_tax": e.deferred_to_tax,
            }
            for e in entries
        ],
        schema=ISSUED_CONSUMPTION_SCHEMA,
    )
