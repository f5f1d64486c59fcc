"""Billing cadences: the pricing contract's examples, and periods that tile time."""

import calendar
import datetime as dt
import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from transforms.cadence import (
    INTERVAL_MONTHS,
    Cadence,
    Period,
    base_fees,
    held_periods,
    period_commitments,
    periods,
)
from transforms.grants import Subscription

D = dt.date
YEAR_END = D(2027, 1, 1)


def spans(cadence, started, ended=None, until=YEAR_END):
    return [
        ((p.start, p.end), (h.start, h.end)) for p, h in periods(cadence, started, ended, until)
    ]


def test_anniversary_months_keep_the_anchor_day_clamped_to_each_month():
    """Started 31 January: 31 Jan - 27 Feb, 28 Feb - 30 Mar, 31 Mar - 29 Apr, 30 Apr - 30 May
    (ends exclusive here)."""
    got = spans(Cadence("month", "subscription"), D(2026, 1, 31), until=D(2026, 5, 1))
    assert [p for p, _ in got] == [
        (D(2026, 1, 31), D(2026, 2, 28)),
        (D(2026, 2, 28), D(2026, 3, 31)),
        (D(2026, 3, 31), D(2026, 4, 30)),
        (D(2026, 4, 30), D(2026, 5, 31)),
    ]
    assert all(p == h for p, h in got)  # the first period is whole


def test_a_calendar_quarter_has_its_own_days_and_a_partial_first_period():
    """Quarterly calendar from 10 November: Q4 is 92 days, 52 of them subscribed."""
    [(period, held)] = periods(Cadence("quarter"), D(2026, 11, 10), None, D(2027, 1, 1))
    assert (period.start, period.end, period.days) == (D(2026, 10, 1), D(2027, 1, 1), 92)
    assert (held.start, held.days) == (D(2026, 11, 10), 52)


def test_years_start_on_the_first_of_january_and_have_365_or_366_days():
    got = periods(Cadence("year"), D(2027, 6, 1), D(2029, 3, 1), D(2030, 1, 1))
    assert [(p.start, p.days, h.days) for p, h in got] == [
        (D(2027, 1, 1), 365, 214),
        (D(2028, 1, 1), 366, 366),
        (D(2029, 1, 1), 365, 59),
    ]


def test_a_bill_cycle_day_of_15_bills_the_15th_to_the_14th():
    got = spans(Cadence("month", "subscription"), D(2026, 3, 15), until=D(2026, 6, 15))
    assert [p for p, _ in got] == [
        (D(2026, 3, 15), D(2026, 4, 15)),
        (D(2026, 4, 15), D(2026, 5, 15)),
        (D(2026, 5, 15), D(2026, 6, 15)),
    ]


def test_an_annual_period_is_invoiced_month_by_month_on_its_anchor_day():
    year = Period(D(2026, 1, 31), D(2027, 1, 31))
    months = list(year.months(D(2026, 1, 31)))
    assert [(m.start, m.end) for m in months[:3]] == [
        (D(2026, 1, 31), D(2026, 2, 28)),
        (D(2026, 2, 28), D(2026, 3, 31)),
        (D(2026, 3, 31), D(2026, 4, 30)),
    ]
    assert len(months) == 12 and months[-1].end == year.end


@given(
    st.dates(D(2024, 1, 1), D(2030, 12, 31)),
    st.sampled_from(sorted(INTERVAL_MONTHS)),
    st.sampled_from(["calendar", "subscription"]),
    st.integers(1, 1500),
    st.one_of(st.none(), st.integers(1, 1500)),
)
def test_periods_tile_time_without_gap_or_overlap(started, interval, anchor, days, lasts):
    cadence = Cadence(interval, anchor)
    until = started + dt.timedelta(days=days)
    ended = None if lasts is None else started + dt.timedelta(days=lasts)
    got = periods(cadence, started, ended, until)
    assert got[0][1].start == started
    for (a, held_a), (b, _) in zip(got, got[1:], strict=False):
        assert a.end == b.start and held_a.end == a.end  # no gap, no overlap
    last, held = got[-1]
    assert last.end >= min(until, ended or until) and held.end == min(last.end, ended or last.end)
    for period, held in got:
        assert held.start >= period.start and held.end <= period.end and held.days > 0
        low, high = {"month": (28, 31), "quarter": (89, 92), "year": (365, 366)}[interval]
        assert low <= period.days <= high
        if anchor == "subscription":
            month_days = calendar.monthrange(period.start.year, period.start.month)[1]
            assert period.start.day == min(started.day, month_days)  # the anchor day, clamped
            months = list(period.months(started))
            assert months[0].start == period.start and months[-1].end == period.end
            assert all(m.end == n.start for m, n in zip(months, months[1:], strict=False))
            assert len(months) == INTERVAL_MONTHS[interval]
            for m in months:  # each on the anchor day, clamped
                month_days = calendar.monthrange(m.start.year, m.start.month)[1]
                assert m.start.day == min(started.day, month_days)


CADENCES = {
    "starter": Cadence(),
    "qtr": Cadence("quarter"),
    "anniv": Cadence("month", "subscription"),
    "anniv2": Cadence("month", "subscription"),
    "yearly": Cadence("year", "subscription"),
}


def test_a_cadence_change_cuts_the_invoice_periods_and_a_run_of_one_cadence_shares_them():
    """The dbt unit test periods_follow_each_plans_cadence, customers c and r (until 11
    February 2027). c: monthly calendar, then quarterly from 10 January: January's invoice
    ends at the change (prorated over 31 days), Q1's starts there (over 90). r: two monthly
    anniversary plans back to back share the first one's periods."""
    subs = [
        Subscription("c1", "c", "starter", D(2026, 12, 1), D(2027, 1, 10)),
        Subscription("c2", "c", "qtr", D(2027, 1, 10)),
        Subscription("r1", "r", "anniv", D(2026, 10, 15), D(2026, 12, 20)),
        Subscription("r2", "r", "anniv2", D(2026, 12, 20)),
    ]
    got = [
        (
            h.subscription_id,
            h.invoice.start,
            h.invoice.end,
            h.segment.start,
            h.segment.end,
            h.billing.days,
        )
        for h in held_periods(subs, CADENCES, D(2027, 2, 11))
    ]
    assert got == [
        ("c1", D(2026, 12, 1), D(2027, 1, 1), D(2026, 12, 1), D(2027, 1, 1), 31),
        ("c1", D(2027, 1, 1), D(2027, 1, 10), D(2027, 1, 1), D(2027, 1, 10), 31),
        ("c2", D(2027, 1, 10), D(2027, 4, 1), D(2027, 1, 10), D(2027, 4, 1), 90),
        ("r1", D(2026, 10, 15), D(2026, 11, 15), D(2026, 10, 15), D(2026, 11, 15), 31),
        ("r1", D(2026, 11, 15), D(2026, 12, 15), D(2026, 11, 15), D(2026, 12, 15), 30),
        ("r1", D(2026, 12, 15), D(2027, 1, 15), D(2026, 12, 15), D(2026, 12, 20), 31),
        ("r2", D(2026, 12, 15), D(2027, 1, 15), D(2026, 12, 20), D(2027, 1, 15), 31),
        ("r2", D(2027, 1, 15), D(2027, 2, 15), D(2027, 1, 15), D(2027, 2, 15), 31),
    ]


subscription_runs = st.lists(
    st.tuples(
        st.sampled_from(sorted(CADENCES)),
        st.integers(min_value=1, max_value=400),  # days held
        st.integers(min_value=0, max_value=60),  # days before the next one starts
    ),
    min_size=1,
    max_size=5,
)


@given(subscription_runs)
def test_a_customers_invoice_periods_never_overlap_and_hold_their_segments(runs):
    subs, day = [], D(2026, 1, 10)
    for i, (plan, held, gap) in enumerate(runs):
        subs.append(Subscription(f"s{i}", "c", plan, day, day + dt.timedelta(days=held)))
        day += dt.timedelta(days=held + gap)
    helds = held_periods(subs, CADENCES, D(2033, 1, 1))
    invoices = sorted({(h.invoice.start, h.invoice.end) for h in helds})
    for (_, end), (start, _) in itertools.pairwise(invoices):
        assert end <= start
    for h in helds:
        assert h.invoice.start <= h.segment.start < h.segment.end <= h.invoice.end
        assert h.billing.start <= h.invoice.start and h.invoice.end <= h.billing.end
    # every day a subscription holds is in exactly one segment
    held_days = sum(h.segment.days for h in helds)
    assert held_days == sum((s.ended_at - s.started_at).days for s in subs)


def fees(sub, fee, in_advance, until, cadence=None, next_fee=None):
    """Each invoice period's base-fee lines as (invoice start, days, amount, service start,
    service end)."""
    return [
        (h.invoice.start, f.days, f.amount, f.service.start, f.service.end)
        for h in held_periods([sub], {sub.plan_id: cadence or Cadence()}, until)
        for f in base_fees(h, sub, fee, next_fee or fee, "USD", in_advance)
    ]


def test_a_fee_in_advance_bills_the_next_month_and_credits_the_unused_days_at_the_end():
    """The contract's example: 49.00 a month in advance from 10 October; October's invoice has
    49.00 x 22/31 for October and 49.00 for November; ended 20 November, November's invoice
    credits 11 of 30 days."""
    sub = Subscription("s", "c", "p", D(2026, 10, 10), D(2026, 11, 20))
    assert fees(sub, Decimal("49.00"), True, D(2026, 12, 1)) == [
        (D(2026, 10, 1), 22, Decimal("34.77"), D(2026, 10, 10), D(2026, 11, 1)),
        (D(2026, 10, 1), 30, Decimal("49.00"), D(2026, 11, 1), D(2026, 12, 1)),
        (D(2026, 11, 1), -11, Decimal("-17.97"), D(2026, 11, 20), D(2026, 12, 1)),
    ]
    # the same subscription in arrears: each month's own days
    assert fees(sub, Decimal("49.00"), False, D(2026, 12, 1)) == [
        (D(2026, 10, 1), 22, Decimal("34.77"), D(2026, 10, 10), D(2026, 11, 1)),
        (D(2026, 11, 1), 19, Decimal("31.03"), D(2026, 11, 1), D(2026, 11, 20)),
    ]


def test_an_annual_fee_in_advance_pays_next_year_at_each_anniversary_and_nothing_after_the_end():
    """Anniversary years from 29 February 2028: the next period starts 28 February 2029 (the
    day clamped), and a subscription ending exactly where a paid period ends owes nothing
    more and is credited nothing."""
    sub = Subscription("s", "c", "p", D(2028, 2, 29), D(2030, 2, 28))
    got = fees(
        sub,
        Decimal("12000.00"),
        True,
        D(2030, 6, 1),
        Cadence("year", "subscription"),
        Decimal("13000.00"),
    )
    assert got == [
        (D(2028, 2, 29), 365, Decimal("12000.00"), D(2028, 2, 29), D(2029, 2, 28)),
        (D(2028, 2, 29), 365, Decimal("13000.00"), D(2029, 2, 28), D(2030, 2, 28)),
    ]


@given(
    st.sampled_from(sorted(CADENCES)),
    st.integers(min_value=0, max_value=700),  # days from 1 January 2026 to the start
    st.integers(min_value=1, max_value=900),  # days held
)
def test_fees_in_advance_and_in_arrears_come_to_the_same_once_a_subscription_has_ended(
    plan, start, held
):
    """Paid ahead or after, a subscription that has ended has paid for exactly the days it held
    (each side to within a cent a line)."""
    started = D(2026, 1, 1) + dt.timedelta(days=start)
    sub = Subscription("s", "c", plan, started, started + dt.timedelta(days=held))
    until = D(2030, 1, 1)
    ahead = fees(sub, Decimal("100.00"), True, until, CADENCES[plan])
    after = fees(sub, Decimal("100.00"), False, until, CADENCES[plan])
    assert abs(sum(f[2] for f in ahead) - sum(f[2] for f in after)) <= Decimal("0.01") * (
        len(ahead) + len(after)
    )
    served = sum(f[1] for f in ahead)
    assert served == held


MONTHLY_USAGE = {
    "qm": Cadence("quarter", monthly_usage=True),
    "ym": Cadence("year", "subscription", monthly_usage=True),
}


def test_usage_invoiced_monthly_splits_a_quarter_into_its_months():
    """Quarterly from 10 November, usage invoiced monthly: November's invoice (10-30 November
    held) and December's; both rate usage over their month and belong to Q4 (92 days)."""
    sub = Subscription("s", "c", "qm", D(2026, 11, 10))
    got = [
        (h.invoice.start, h.invoice.end, h.segment.start, h.rating.start, h.billing.days)
        for h in held_periods([sub], MONTHLY_USAGE, D(2027, 1, 1))
    ]
    assert got == [
        (D(2026, 11, 1), D(2026, 12, 1), D(2026, 11, 10), D(2026, 11, 1), 92),
        (D(2026, 12, 1), D(2027, 1, 1), D(2026, 12, 1), D(2026, 12, 1), 92),
    ]


def test_an_anniversary_year_invoiced_monthly_has_months_from_the_anniversary_day():
    sub = Subscription("s", "c", "ym", D(2026, 1, 31))
    months = [h.invoice for h in held_periods([sub], MONTHLY_USAGE, D(2026, 4, 1))]
    assert [(m.start, m.end) for m in months] == [
        (D(2026, 1, 31), D(2026, 2, 28)),
        (D(2026, 2, 28), D(2026, 3, 31)),
        (D(2026, 3, 31), D(2026, 4, 30)),
    ]


def test_the_fee_of_a_period_invoiced_monthly_is_on_its_first_or_last_invoice():
    """Quarterly 300.00 from 10 November, usage invoiced monthly. In arrears: Q4's 52 days
    (169.57) on December's invoice. In advance: 169.57 on November's, Q1's 300.00 on
    December's; ended 15 February, February's invoice credits Q1's 45 unused of 90 days."""
    sub = Subscription("s", "c", "qm", D(2026, 11, 10), D(2027, 2, 15))

    def lines(in_advance):
        return [
            (h.invoice.start, f.days, f.amount, f.service.start)
            for h in held_periods([sub], MONTHLY_USAGE, D(2027, 4, 1))
            for f in base_fees(h, sub, Decimal("300.00"), Decimal("300.00"), "USD", in_advance)
        ]

    assert lines(False) == [
        (D(2026, 12, 1), 52, Decimal("169.57"), D(2026, 11, 10)),
        (D(2027, 2, 1), 45, Decimal("150.00"), D(2027, 1, 1)),
    ]
    assert lines(True) == [
        (D(2026, 11, 1), 52, Decimal("169.57"), D(2026, 11, 10)),
        (D(2026, 12, 1), 90, Decimal("300.00"), D(2027, 1, 1)),
        (D(2027, 2, 1), -45, Decimal("-150.00"), D(2027, 2, 15)),
    ]


def test_a_plans_cap_over_monthly_invoices_is_on_the_invoice_that_crosses_it():
    """The pricing contract's rule: month m's cap is -(max(0, V_1 + ... + V_m - max) - K); the
    minimum's true-up is on the last month only. Maximum 100, minimum 200, a whole quarter."""
    got = period_commitments(
        [Decimal(70), Decimal(50), Decimal(10)], Decimal(200), Decimal(100), 92, 92, "USD"
    )
    assert got == [(0, 0), (0, Decimal(-20)), (Decimal(70), Decimal(-10))]
    # one part: the rule of a period invoiced whole
    assert period_commitments([Decimal(130)], None, Decimal(100), 92, 92, "USD") == [
        (0, Decimal(-30))
    ]


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12))
def test_the_caps_of_a_period_add_up_to_its_excess_over_the_maximum(cents):
    measured = [Decimal(c) / 100 for c in cents]
    parts = period_commitments(measured, Decimal(50), Decimal(100), 90, 90, "USD")
    assert sum(cap for _, cap in parts) == -max(Decimal(0), sum(measured) - 100)
    assert all(cap <= 0 for _, cap in parts)
    assert [t for t, _ in parts[:-1]] == [0] * (len(parts) - 1)
