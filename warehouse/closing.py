"""What the close rule (transforms.close.why_not_close) asks of a home, answered from the lake
and the warehouse."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lake import freshness
from lake.home import Home
from lake.issued import is_issued
from warehouse import findings
from warehouse.reader import MissingTable
from warehouse.reading import reading


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
                    "select distinct period_start from intermediate.int_invoices_computed "
                    "where period_start < :month order by 1",
                    month=month,
                )
            except MissingTable:  # not built yet: nothing to close before
                return []
        return [p for (p,) in rows if not is_issued(self.home, p)]

    def why_stale(self) -> str | None:
        return freshness.why_stale(self.home)

    def edited_landing_file(self, month: dt.date) -> str | None:
        return freshness.edited_landing_file(self.home, month)

    def blocking_findings(self, month: dt.date) -> dict[str, int]:
        return findings.blocking_findings(self.home, month)


def invoices_to_issue(home: Home, month: dt.date) -> int:
    """How many invoices closing `month` would issue (0 for a month no subscription was
    active in)."""
    with reading(home) as warehouse:
        try:
            [(n,)] = warehouse.rows(
                "select count(*) from intermediate.int_invoices_with_adjustments "
                "where period_start = :month",
                month=month,
            )
        except MissingTable:
            return 0
    return n
