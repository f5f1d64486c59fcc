"""The close rule on its own: each reason a month is refused, in the order the rule asks."""

import datetime as dt
from dataclasses import dataclass, field

import pytest

from transforms.close import audit_refusal, why_not_close

SEPT, TODAY = dt.date(2026, 9, 1), dt.date(2026, 10, 3)


@dataclass
class Home:
    """A home as the rule sees it; `asked` records each question, in order."""

    missing: str | None = None
    unissued: list[dt.date] = field(default_factory=list)
    stale: str | None = None
    edited: str | None = None
    blocking: dict[str, int] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def missing_warehouse(self):
        self.asked.append("warehouse")
        return self.missing

    def unissued_months_before(self, month):
        self.asked.append("earlier months")
        return self.unissued

    def why_stale(self):
        self.asked.append("stale")
        return self.stale

    def edited_landing_file(self, month):
        self.asked.append("landing files")
        return self.edited

    def blocking_findings(self, month):
        self.asked.append("findings")
        return self.blocking


def test_a_home_with_nothing_against_the_month_may_close_it():
    home = Home()
    assert why_not_close(home, SEPT, TODAY) is None
    assert home.asked == ["warehouse", "earlier months", "stale", "landing files", "findings"]


@pytest.mark.parametrize(
    ("home", "today", "reason", "blocking", "asked"),
    [
        (
            Home(missing="/h/warehouse (duckdb)"),
            TODAY,
            "no warehouse at /h/warehouse (duckdb): run `tally run` before closing a month",
            False,
            1,
        ),
        (
            Home(),
            dt.date(2026, 9, 30),
            "2026-09 is not over yet (it ends 2026-10-01); close it after that",
            False,
            1,
        ),
        (
            Home(unissued=[dt.date(2026, 8, 1)]),
            TODAY,
            "close 2026-08 first: months close in order, because credits left after one month "
            "pay the next",
            False,
            2,
        ),
        (
            Home(stale="2 landing file(s) arrived"),
            TODAY,
            "not closing 2026-09: the marts are out of date: 2 landing file(s) arrived; run "
            "`tally run` first, then close",
            False,
            3,
        ),
        (
            Home(edited="landing/usage/a.csv is not what batch b1 ingested"),
            TODAY,
            "not closing 2026-09: landing/usage/a.csv is not what batch b1 ingested",
            False,
            4,
        ),
        (
            Home(blocking={"conservation_lake": 1, "event_id_reused": 2}),
            TODAY,
            "not closing 2026-09: 3 blocking finding(s) (conservation_lake x1, event_id_reused "
            "x2); see marts.fct_billing_mismatches where severity = 'error'",
            True,
            5,
        ),
    ],
    ids=["no warehouse", "not over", "earlier month open", "stale", "edited", "findings"],
)
def test_each_reason_refuses_and_nothing_later_is_asked(home, today, reason, blocking, asked):
    refusal = why_not_close(home, SEPT, today)
    assert (refusal.reason, refusal.blocking_findings) == (reason, blocking)
    assert len(home.asked) == asked  # hashing landing files waits for the cheaper answers


def test_the_audit_refuses_with_what_it_found():
    assert audit_refusal(SEPT, {}) is None
    refusal = audit_refusal(SEPT, {"audit_day_aggregate_quantity": 1, "audit_batch_events": 2})
    assert refusal.blocking_findings
    assert refusal.reason == (
        "2026-09 not closed: the full audit of the lake found audit_batch_events (2), "
        'audit_day_aggregate_quantity (1); see `tally query "select * from audit.audit_lake"`'
    )
