"""The marts' headline figures, as the run summary and `tally simulate` read them."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass
from decimal import Decimal

from lake.home import Home
from warehouse.reading import reading


def current_subtotals(home: Home, month: dt.date) -> dict[str, tuple[str, Decimal]]:
    """The month's rated subtotal per customer (currency, amount), its coupons included,
    without adjustments carried in from earlier months; empty before the first run."""
    if not home.has_warehouse():
        return {}
    with reading(home) as warehouse:
        rows = warehouse.rows(
            "select customer_id, currency, sum(amount) from marts.fct_invoice_lines "
            "where period_start = :month and line_type <> 'adjustment' group by 1, 2",
            month=month,
        )
    return {c: (ccy, Decimal(s)) for c, ccy, s in rows}


@dataclass(frozen=True)
class Intake:
    """Files and rows of some ingest batches (fct_ingested_files)."""

    files: int = 0
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    duplicates_dropped: int = 0
    unreadable: int = 0

    def __add__(self, other: Intake) -> Intake:
        return Intake(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def conserved(self) -> bool:
        return (
            self.rows_read == self.rows_accepted + self.rows_quarantined + self.duplicates_dropped
        )


@dataclass(frozen=True)
class Revenue:
    """Recognized revenue of one currency, and what it is made of (fct_revenue_monthly)."""

    currency: str
    recognized: Decimal
    billed: Decimal  # totals of issued invoices
    credits: Decimal  # purchased credits consumed
    breakage: Decimal  # purchased credits expired


@dataclass(frozen=True)
class Figures:
    """What the run summary shows, read from the marts: what ingestion batches and issued
    invoices since `since` added (this run), and the totals to date."""

    new: Intake
    total: Intake
    newest_unreadable: list[tuple[str, str]]  # (file_path, error), newest first, at most 5
    invoices: list[tuple[str, str, int, Decimal]]  # (status, currency, count, total)
    issued_now: list[tuple[str, int, Decimal]]  # (currency, count, total) issued since `since`
    revenue: list[Revenue]
    mismatches: int
    notified: int = 0  # spend notifications raised to date
    notified_now: int = 0  # raised by this command


def summary_figures(home: Home, since: dt.datetime | None = None) -> Figures | None:
    """The marts' headline figures; None before the first run. `since`: when the command
    began (what it ingested and issued is told apart from the totals)."""
    if not home.has_warehouse():
        return None
    with reading(home) as warehouse:
        batches = warehouse.rows(
            "select max(ingested_at), count(*), coalesce(sum(rows_read), 0), "
            "coalesce(sum(rows_accepted), 0), coalesce(sum(rows_quarantined), 0), "
            "coalesce(sum(duplicates_dropped), 0), "
            "coalesce(sum(case when status = 'failed' then 1 else 0 end), 0) "
            "from marts.fct_ingested_files group by batch_id"
        )
        unreadable = warehouse.rows(
            "select file_path, error from marts.fct_ingested_files where status = 'failed' "
            "order by ingested_at desc, file_path limit 5"
        )
        invoices = warehouse.rows(
            "select status, currency, max(issued_at), count(*), sum(total) "
            "from marts.fct_invoices group by status, currency, period_start"
        )
        revenue = warehouse.rows(
            "select currency, sum(recognized_revenue), sum(billed_revenue), "
            "sum(credit_revenue), sum(breakage_revenue) "
            "from marts.fct_revenue_monthly group by currency order by currency"
        )
        [(mismatches,)] = warehouse.rows("select count(*) from marts.fct_billing_mismatches")
        notifications = warehouse.rows(
            "select sent_at, count(*) from marts.fct_spend_notifications group by sent_at"
        )

    def recent(at) -> bool:
        return since is not None and at is not None and _instant(at) >= since

    new, total = Intake(), Intake()
    for ingested_at, *counts in batches:
        total += Intake(*counts)
        if recent(ingested_at):
            new += Intake(*counts)
    by_status: dict[tuple[str, str], tuple[int, Decimal]] = {}
    issued_now: dict[str, tuple[int, Decimal]] = {}
    for status, currency, issued_at, count, amount in invoices:
        n, sum_ = by_status.get((status, currency), (0, Decimal(0)))
        by_status[(status, currency)] = (n + count, sum_ + amount)
        if status == "issued" and recent(issued_at):
            n, sum_ = issued_now.get(currency, (0, Decimal(0)))
            issued_now[currency] = (n + count, sum_ + amount)
    return Figures(
        new=new,
        total=total,
        newest_unreadable=unreadable,
        invoices=[(s, c, n, t) for (s, c), (n, t) in sorted(by_status.items())],
        issued_now=[(c, n, t) for c, (n, t) in sorted(issued_now.items())],
        revenue=[Revenue(*row) for row in revenue],
        mismatches=mismatches,
        notified=sum(n for _, n in notifications),
        notified_now=sum(n for at, n in notifications if recent(at)),
    )


def _instant(value) -> dt.datetime:
    """A mart's timestamp as a UTC instant (a reader may hand it back naive, meaning UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
