"""What the close rule (transforms.close.why_not_close) asks of a home, answered from the lake
and the warehouse."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from lake import freshness
from lake.home import Home
from lake.issued import is_issued
from transforms.close import closing_month
from warehouse import findings
from warehouse.reader import MissingTable
from warehouse.reading import reading

# The invoices `close --month M` issues: those whose period's last day is in M (the period's
# end, exclusive, after M's first day and at most the next month's first). With the
# parameters of `ending_in(M)`.
ENDING_IN = "period_end > :month and period_end <= :next_month"


def ending_in(month: dt.date) -> dict[str, dt.date]:
    return {"month": month, "next_month": month + relativedelta(months=1)}


@dataclass(frozen=True)
class HomeToClose:
    """A home as month close sees it (transforms.close.ClosingHome)."""

    home: Home

    def missing_warehouse(self) -> str | None:
        if self.home.has_warehouse():
            return None
        return f"{self.home.warehouse_folder} ({self.home.engine})"

    def unissued_months_before(self, month: dt.date) -> list[dt.date]:
        with reading(self.home) as warehouse:
            try:
                rows = warehouse.rows(
                    "select distinct period_end from intermediate.int_invoices_computed "
                    "where period_end <= :month",
                    month=month,
                )
            except MissingTable:  # not built yet: nothing to close before
                return []
        months = sorted({closing_month(end) for (end,) in rows})
        return [m for m in months if not is_issued(self.home, m)]

    def why_stale(self) -> str | None:
        return freshness.why_stale(self.home)

    def edited_landing_file(self, month: dt.date) -> str | None:
        return freshness.edited_landing_file(self.home, month)

    def blocking_findings(self, month: dt.date) -> dict[str, int]:
        return findings.blocking_findings(self.home, month)


def invoices_to_issue(home: Home, month: dt.date) -> int:
    """How many invoices closing `month` would issue (0 for a month no period ends in)."""
    with reading(home) as warehouse:
        try:
            [(n,)] = warehouse.rows(
                f"select count(*) from intermediate.int_invoices_with_adjustments where {ENDING_IN}",
                **ending_in(month),
            )
        except MissingTable:
            return 0
    return n
