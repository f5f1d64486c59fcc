"""What month close requires, in one place: the CLI and the close asset (so a scheduled close
too) refuse a month for the same reasons, with the same words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lake.freshness import describe_stale, edited_landing_file, why_stale
from lake.home import Home
from lake.issued import is_issued
from orchestration.defs.quality.reconciliation import blocking_findings, describe_blocking
from orchestration.warehouse import MissingTable, reading


@dataclass(frozen=True)
class Refusal:
    """Why a month cannot be closed now. `blocking_findings` tells a failed check (a person
    must look at the findings) from a state to fix first (run, wait, close another month)."""

    reason: str
    blocking_findings: bool = False


def why_not_close(home: Home, month: dt.date, today: dt.date) -> Refusal | None:
    """Why `month` (not yet issued) cannot be closed on `today`, or None if it can: the month
    is over, earlier months are closed, the marts are fresh, the landing files of its batches
    are as they were ingested, and no blocking finding stands."""
    if not home.has_warehouse():
        return Refusal(
            f"no warehouse at {home.warehouse_folder} ({home.engine}): run `tally run` before "
            "closing a month"
        )
    month_end = (month + dt.timedelta(days=32)).replace(day=1)
    if today < month_end:
        return Refusal(f"{month:%Y-%m} is not over yet (it ends {month_end}); close it after that")
    earlier = unissued_months_before(home, month)
    if earlier:
        return Refusal(
            f"close {earlier[0]:%Y-%m} first: months close in order, because credits left "
            "after one month pay the next"
        )
    stale = why_stale(home)
    if stale:
        return Refusal(describe_stale(month, stale))
    edited = edited_landing_file(home, month)
    if edited:
        return Refusal(f"not closing {month:%Y-%m}: {edited}")
    blocking = blocking_findings(home, month)
    if blocking:
        return Refusal(describe_blocking(month, blocking), blocking_findings=True)
    return None


def audit_refusal(home: Home, month: dt.date) -> Refusal | None:
    """Why the full audit of the lake (`audit.audit_lake`, built by the month_close job just
    before issuing) refuses the close of `month`, or None when it found nothing."""
    with reading(home) as warehouse:
        rows = warehouse.rows(
            "select check_name, count(*) from audit.audit_lake group by 1 order by 1"
        )
    if not rows:
        return None
    found = ", ".join(f"{name} ({n})" for name, n in rows)
    return Refusal(
        f"{month:%Y-%m} not closed: the full audit of the lake found {found}; "
        'see `tally query "select * from audit.audit_lake"`',
        blocking_findings=True,
    )


def unissued_months_before(home: Home, month: dt.date) -> list[dt.date]:
    """Earlier periods that have invoices but were never closed."""
    with reading(home) as warehouse:
        try:
            rows = warehouse.rows(
                "select distinct period_start from intermediate.int_invoices_computed "
                "where period_start < :month order by 1",
                month=month,
            )
        except MissingTable:  # not built yet: nothing to close before
            return []
    return [p for (p,) in rows if not is_issued(home, p)]
