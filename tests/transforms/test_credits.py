"""Credits at close, the ledger and revenue: worked examples, one rule each.

Unless a test says otherwise: customer c, September 2026 (closes 1 October), credit_rate 0.01
USD, so 100 credits pay 1.00.
"""

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles import ExpiringBook, revenue_by_month

from transforms.credits import CreditBook, Invoice, Rollover, total_after_credits
from transforms.grants import Grant, Subscription, allocation_grants
from transforms.price_terms import CreditAllocation
from transforms.topups import TopUpRule

SEP = dt.date(2026, 9, 1)
OCT = dt.date(2026, 10, 1)
NOV = dt.date(2026, 11, 1)


def grant(gid, credits, kind="purchased", paid="0", granted=dt.date(2026, 8, 1), **kw):
    return Grant(gid, "c", granted, D(credits), kind, D(paid), **kw)


def invoice(subtotal, start=SEP, end=OCT, rate="0.01", currency="USD", iid="inv"):
    return Invoice(iid, "c", start, end, currency, D(subtotal), None if rate is None else D(rate))


def drawn(book, inv):
    return {e.grant_id: (e.credits, e.money) for e in book.close(inv)}


def test_lower_priority_number_burns_first():
    book = CreditBook(
        [grant("promo", 1000, "promotional", priority=50), grant("vip", 1000, priority=10)]
    )
    assert drawn(book, invoice("5.00")) == {"vip": (D(500), D("5.00"))}


def test_earlier_expiry_burns_first_and_never_expiring_last():
    book = CreditBook(
        [
            grant("never", 1000),
            grant("dec", 1000, expires_at=dt.date(2026, 12, 1)),
            grant("nov", 100, expires_at=dt.date(2026, 11, 1)),
        ]
    )
    # nov: 100 credits = 1.00; dec: 1000 credits = 10.00; never: 50 credits = 0.50
    assert drawn(book, invoice("11.50")) == {
        "nov": (D(100), D("1.00")),
        "dec": (D(1000), D("10.00")),
        "never": (D(50), D("0.50")),
    }


def test_promotional_before_purchased_then_oldest_then_by_id():
    book = CreditBook(
        [
            grant("b_new", 100, granted=dt.date(2026, 8, 20)),
            grant("a_new", 100, granted=dt.date(2026, 8, 20)),
            grant("old", 100, granted=dt.date(2026, 8, 2)),
            grant("promo", 100, "promotional", granted=dt.date(2026, 8, 25)),
        ]
    )
    entries = book.close(invoice("3.50"))
    assert [e.grant_id for e in entries] == ["promo", "old", "a_new", "b_new"]
    assert entries[-1].credits == D(50)


@pytest.mark.parametrize(
    ("granted", "expires", "pays"),
    [
        (dt.date(2026, 9, 30), None, True),  # granted before the period ends
        (OCT, None, False),  # granted at the period end: too late
        (dt.date(2026, 8, 1), OCT, True),  # expires exactly at the period end: still live
        (dt.date(2026, 8, 1), dt.date(2026, 9, 30), False),  # expired inside the period
    ],
)
def test_a_grant_pays_only_if_live_at_close(granted, expires, pays):
    book = CreditBook([grant("g", 1000, granted=granted, expires_at=expires)])
    applied, total = total_after_credits(invoice("4.00"), book.close(invoice("4.00")))
    assert (applied, total) == ((D("4.00"), D(0)) if pays else (D(0), D("4.00")))


def test_credits_exceeding_the_invoice_pay_it_in_full_and_the_rest_stays():
    book = CreditBook([grant("g", 10_000)])
    inv = invoice("12.34")
    entries = book.close(inv)
    assert total_after_credits(inv, entries) == (D("12.34"), D(0))
    assert entries[0].credits == D(1234)
    assert book.balance["g"] == D(8766)


def test_several_grants_partially_used_across_months():
    book = CreditBook([grant("g1", 300), grant("g2", 500, granted=dt.date(2026, 8, 2))])
    # September 6.50: g1 all 300 (3.00), g2 350 (3.50)
    assert drawn(book, invoice("6.50")) == {"g1": (D(300), D("3.00")), "g2": (D(350), D("3.50"))}
    # October 4.00: only g2's 150 credits (1.50) are left
    oct_inv = invoice("4.00", start=OCT, end=NOV, iid="inv2")
    entries = book.close(oct_inv)
    assert total_after_credits(oct_inv, entries) == (D("1.50"), D("2.50"))
    assert book.balance == {"g1": D(0), "g2": D(0)}


def test_a_plan_without_a_credit_rate_takes_no_credits():
    book = CreditBook([grant("g", 1000)])
    inv = invoice("5.00", rate=None)
    assert total_after_credits(inv, book.close(inv)) == (D(0), D("5.00"))
    assert book.balance["g"] == D(1000)


def test_money_and_credits_convert_at_the_plan_rate():
    # 0.03 per credit: 0.10 due draws 3.333333333 credits (9 decimals, half-up)
    book = CreditBook([grant("g", 100)])
    assert drawn(book, invoice("0.10", rate="0.03")) == {"g": (D("3.333333333"), D("0.10"))}
    # Half a credit at 0.01 is worth 0.005, rounded half-up to 0.01: the whole half is drawn.
    book = CreditBook([grant("g", "0.5")])
    assert drawn(book, invoice("1.00")) == {"g": (D("0.5"), D("0.01"))}
    # JPY has no minor units: 3 credits at 0.5 JPY = 1.5 -> 2 JPY
    book = CreditBook([grant("g", 3)])
    assert drawn(book, invoice("10", rate="0.5", currency="JPY")) == {"g": (D(3), D(2))}


def test_purchased_credits_recognize_revenue_at_cost_basis_and_add_up_exactly():
    # 3 credits bought for 1.00 at 1.00 per credit: each credit's basis is 0.333...
    book = CreditBook([grant("g", 3, paid="1.00")])
    revenue = []
    for month, end in ((SEP, OCT), (OCT, NOV), (NOV, dt.date(2026, 12, 1))):
        entries = book.close(invoice("1.00", start=month, end=end, rate="1.00", iid=str(month)))
        revenue.append(entries[0].revenue)
    assert revenue == [D("0.33"), D("0.33"), D("0.34")]  # the last takes exactly the rest
    assert book.deferred("g") == 0


def test_expiry_turns_the_purchased_balance_into_breakage():
    # 1000 credits bought for 8.00; 250 used in September (2.00 revenue) then it expires.
    book = ExpiringBook([grant("g", 1000, paid="8.00", expires_at=dt.date(2026, 10, 15))])
    [used] = book.close(invoice("2.50"))
    assert (used.credits, used.money, used.revenue) == (D(250), D("2.50"), D("2.00"))
    assert book.expire(through=dt.date(2026, 10, 14)) == []  # not yet
    [expiry] = book.expire(through=dt.date(2026, 10, 31))
    assert (expiry.entry_date, expiry.credits, expiry.breakage) == (
        dt.date(2026, 10, 15),
        D(750),
        D("6.00"),
    )
    assert book.expire(through=dt.date(2026, 12, 31)) == []  # once only


def test_promotional_credits_are_a_discount_not_revenue():
    book = ExpiringBook([grant("p", 500, "promotional", expires_at=dt.date(2026, 10, 15))])
    [used] = book.close(invoice("2.00"))
    assert (used.money, used.revenue, used.discount) == (D("2.00"), D(0), D("2.00"))
    [expiry] = book.expire(through=dt.date(2026, 10, 31))
    assert (expiry.credits, expiry.breakage) == (D(300), D(0))


def test_revenue_roll_forward_by_month():
    # Bought 1000 credits for 8.00 in August (0.008 each). September's 2.50 invoice draws 250
    # credits: 2.00 revenue, nothing billed. The rest expires on 15 October, before October's
    # close, so October's 3.00 is billed in cash and 6.00 of breakage is recognized.
    g = grant("g", 1000, paid="8.00", expires_at=dt.date(2026, 10, 15))
    book = ExpiringBook([g])
    sep_inv, oct_inv = invoice("2.50"), invoice("3.00", start=OCT, end=NOV, iid="inv2")
    used = book.close(sep_inv)
    expiries = book.expire(through=dt.date(2026, 10, 31))
    used += book.close(oct_inv)
    billed = {
        ("c", SEP): total_after_credits(sep_inv, used)[1],
        ("c", OCT): total_after_credits(oct_inv, [])[1],
    }
    rows = {r.month: r for r in revenue_by_month([g], used, expiries, billed)}
    aug, sep, oct_ = rows[dt.date(2026, 8, 1)], rows[SEP], rows[OCT]
    assert (aug.purchases, aug.deferred_opening, aug.deferred_closing) == (D("8.00"), 0, D("8.00"))
    assert (sep.billed_revenue, sep.credit_revenue, sep.recognized_revenue) == (
        D(0),
        D("2.00"),
        D("2.00"),
    )
    assert (sep.deferred_opening, sep.deferred_closing) == (D("8.00"), D("6.00"))
    assert (oct_.billed_revenue, oct_.breakage_revenue, oct_.recognized_revenue) == (
        D("3.00"),
        D("6.00"),
        D("9.00"),
    )
    assert (oct_.deferred_opening, oct_.deferred_closing) == (D("6.00"), D(0))


# --- properties -------------------------------------------------------------------------

MONTHS = [dt.date(2026, m, 1) for m in range(1, 13)]


@st.composite
def scenarios(draw):
    grants = []
    for i in range(draw(st.integers(1, 5))):
        granted = draw(st.sampled_from(MONTHS[:10])) + dt.timedelta(days=draw(st.integers(0, 27)))
        expires = draw(st.one_of(st.none(), st.integers(1, 200)))
        kind = draw(st.sampled_from(["purchased", "promotional"]))
        credits = draw(st.decimals(min_value=1, max_value=100_000, places=2))
        paid = (
            draw(st.decimals(min_value=0, max_value=10_000, places=2))
            if kind == "purchased"
            else D(0)
        )
        grants.append(
            Grant(
                f"g{i}",
                "c",
                granted,
                credits,
                kind,
                paid,
                None if expires is None else granted + dt.timedelta(days=expires),
                draw(st.sampled_from([10, 50, 50, 90])),
            )
        )
    subtotals = draw(
        st.lists(st.decimals(min_value=0, max_value=5_000, places=2), min_size=11, max_size=11)
    )
    rate = draw(st.sampled_from([D("0.01"), D("0.03"), D("1"), D("0.0075")]))
    return grants, subtotals, rate


def _run(grants, subtotals, rate):
    book = ExpiringBook(grants)
    consumption, expiries, billed = [], [], {}
    for month, nxt, subtotal in zip(MONTHS, MONTHS[1:], subtotals, strict=False):
        expiries += book.expire(through=month)  # expiries before this period's close
        inv = Invoice(f"i{month}", "c", month, nxt, "USD", subtotal, rate)
        used = book.close(inv)
        consumption += used
        applied, total = total_after_credits(inv, used)
        assert 0 <= applied <= subtotal and total == subtotal - applied
        billed[("c", month)] = total
        assert all(b >= 0 for b in book.balance.values())  # no balance ever goes negative
    expiries += book.expire(through=dt.date(2099, 1, 1))
    return book, consumption, expiries, billed


@given(scenarios())
def test_credits_are_conserved_and_never_negative(case):
    grants, subtotals, rate = case
    book, consumption, expiries, _ = _run(grants, subtotals, rate)
    for g in grants:
        used = sum((c.credits for c in consumption if c.grant_id == g.grant_id), D(0))
        gone = sum((e.credits for e in expiries if e.grant_id == g.grant_id), D(0))
        assert g.credits == used + gone + book.balance[g.grant_id]
        assert all(c.credits > 0 and c.money > 0 for c in consumption)


@given(scenarios())
def test_the_deferred_revenue_roll_forward_always_ties(case):
    grants, subtotals, rate = case
    _, consumption, expiries, billed = _run(grants, subtotals, rate)
    rows = revenue_by_month(grants, consumption, expiries, billed)
    previous = D(0)
    for r in rows:
        assert r.deferred_opening == previous
        assert r.deferred_opening + r.purchases - r.credit_revenue - r.breakage_revenue == (
            r.deferred_closing
        )
        assert r.deferred_closing >= 0
        previous = r.deferred_closing
    # Every expiring grant has expired by 2099: a grant's revenue is exactly what was paid.
    for g in grants:
        if g.kind == "purchased":
            recognized = sum((c.revenue for c in consumption if c.grant_id == g.grant_id), D(0))
            recognized += sum((e.breakage for e in expiries if e.grant_id == g.grant_id), D(0))
            if g.expires_at is not None:
                assert recognized == g.purchase_amount
            else:
                assert recognized <= g.purchase_amount


def test_credits_pay_the_tax_after_the_subtotal_and_tax_is_never_revenue():
    # subtotal 297.10 + tax 57.42 = 354.52 due. A purchased grant of 10,000 credits bought for
    # 80.00 (0.008 each) pays 100.00, then a promotional one 250.00: 350.00 in all, 52.90 of it
    # tax, shared 100 : 250 -> 15.114285... and 37.785714...: 15.11 and 37.79 (the spare cent
    # to the larger remainder). The purchased draw's cost basis, 80.00, is revenue for its
    # service share (84.89 / 100.00 -> 67.91) and moves 12.09 to tax payable; the promotional
    # draw is a discount of 212.21 and a tax expense of 37.79.
    book = CreditBook(
        [
            grant("bought", 10000, paid="80.00", priority=10),
            grant("promo", 25000, "promotional", priority=20),
        ]
    )
    taxed = Invoice("inv", "c", SEP, OCT, "USD", D("297.10"), D("0.01"), D("57.42"))
    entries = {e.grant_id: e for e in book.close(taxed)}
    assert {g: (e.money, e.tax_money) for g, e in entries.items()} == {
        "bought": (D("100.00"), D("15.11")),
        "promo": (D("250.00"), D("37.79")),
    }
    assert (entries["bought"].revenue, entries["bought"].deferred_to_tax) == (
        D("67.91"),
        D("12.09"),
    )
    assert (entries["promo"].discount, entries["promo"].revenue) == (D("212.21"), D(0))
    assert total_after_credits(taxed, entries.values()) == (D("350.00"), D("4.52"))
    assert book.deferred("bought") == 0  # all it cost is recognized or moved to tax


def test_credits_within_the_subtotal_pay_no_tax():
    book = CreditBook([grant("bought", 1000, paid="8.00")])
    [entry] = book.close(Invoice("inv", "c", SEP, OCT, "USD", D("20.00"), D("0.01"), D("4.00")))
    assert (entry.money, entry.tax_money, entry.revenue, entry.deferred_to_tax) == (
        D("10.00"),
        D(0),
        D("8.00"),
        D(0),
    )


def test_each_grant_pays_the_items_it_may_pay_the_largest_first():
    # The pricing contract's example (Lago): base fee 35.00 + 1.00 tax, usage 15.00 + 0.50
    # tax; six grants of 10.00 (1,000 credits), priority 49 before 50, each priority in the
    # order they were granted. `priority` pays 10.00 of the base fee (36.00 -> 26.00), the
    # usage grant 10.00 (15.50 -> 5.50), the base-fee grant 10.00 (-> 16.00), `normal` 10.00 of
    # the base fee, the larger (-> 6.00), then the limited ones 5.50 and 6.00: 51.50 in all.
    def ten(gid, day, priority, applies_to=()):
        granted = dt.date(2026, 8, day)
        return grant(gid, 1000, granted=granted, priority=priority, applies_to=applies_to)

    book = CreditBook(
        [
            ten("priority", 1, 49),
            ten("priority_limited_charge", 2, 49, ("usage",)),
            ten("priority_limited_subscription", 3, 49, ("base_fee",)),
            ten("normal", 4, 50),
            ten("limited_charge", 5, 50, ("usage",)),
            ten("limited_subscription", 6, 50, ("base_fee",)),
        ]
    )
    items = (("base_fee", D("36.00")), ("charge:calls", D("15.50")))
    inv = Invoice("inv", "c", SEP, OCT, "USD", D("50.00"), D("0.01"), D("1.50"), items)
    entries = book.close(inv)
    assert [(e.grant_id, e.paid) for e in entries] == [
        ("priority", (("base_fee", D("10.00")),)),
        ("priority_limited_charge", (("charge:calls", D("10.00")),)),
        ("priority_limited_subscription", (("base_fee", D("10.00")),)),
        ("normal", (("base_fee", D("10.00")),)),
        ("limited_charge", (("charge:calls", D("5.50")),)),
        ("limited_subscription", (("base_fee", D("6.00")),)),
    ]
    assert [e.credits for e in entries] == [D(1000)] * 4 + [D(550), D(600)]
    assert total_after_credits(inv, entries) == (D("51.50"), D(0))


def test_a_grant_goes_on_to_the_next_item_and_a_limited_one_leaves_the_others():
    # A general grant of 30.00 pays the larger item (20.00) whole, then 10.00 of the next
    # (equal items go in item order); a grant for one charge pays only that charge; no
    # limited grant pays a carried adjustment.
    book = CreditBook(
        [
            grant("gpu_only", 500, priority=1, applies_to=("charge:gpu",)),
            grant("usage_only", 10000, priority=2, applies_to=("usage",)),
            grant("any", 3000, priority=3),
        ]
    )
    items = (
        ("base_fee", D("20.00")),
        ("charge:calls", D("12.00")),
        ("charge:gpu", D("3.00")),
        ("adjustment:S:calls", D("12.00")),
    )
    inv = Invoice("inv", "c", SEP, OCT, "USD", D("47.00"), D("0.01"), D(0), items)
    assert [(e.grant_id, e.paid) for e in book.close(inv)] == [
        ("gpu_only", (("charge:gpu", D("3.00")),)),
        ("usage_only", (("charge:calls", D("12.00")),)),
        ("any", (("base_fee", D("20.00")), ("adjustment:S:calls", D("10.00")))),
    ]
    assert book.balance["gpu_only"] == D(200)
    assert book.balance["usage_only"] == D(8800)


def test_a_limited_grant_with_nothing_to_pay_draws_nothing():
    book = CreditBook([grant("base_only", 1000, applies_to=("base_fee",))])
    items = (("charge:calls", D("12.00")),)
    inv = Invoice("inv", "c", SEP, OCT, "USD", D("12.00"), D("0.01"), D(0), items)
    assert book.close(inv) == []
    assert book.balance["base_only"] == D(1000)


money = st.decimals(min_value=-50, max_value=200, places=2)
targets = st.sampled_from(
    [(), ("base_fee",), ("usage",), ("charge:a",), ("charge:b", "base_fee"), ("charge:zz",)]
)


@given(
    dues=st.lists(money, min_size=1, max_size=4),
    tax=st.decimals(min_value=0, max_value=30, places=2),
    grants=st.lists(
        st.tuples(st.integers(0, 30000), targets, st.integers(1, 3)), min_size=1, max_size=6
    ),
)
def test_credits_never_pay_more_than_an_item_or_the_invoice_owes(dues, tax, grants):
    names = ["base_fee", "charge:a", "charge:b", "adjustment:x"][: len(dues)]
    items = tuple(zip(names, dues, strict=False))
    owed = sum(dues, D(0))
    book = CreditBook(
        grant(f"g{n}", credits, priority=priority, applies_to=applies)
        for n, (credits, applies, priority) in enumerate(grants)
    )
    inv = Invoice("inv", "c", SEP, OCT, "USD", owed - tax, D("0.01"), tax, items)
    entries = book.close(inv)
    applied, total = total_after_credits(inv, entries)
    assert applied <= max(owed, D(0))
    assert total == max(owed - applied, D(0))
    for item, due in items:
        paid = sum((m for e in entries for i, m in e.paid if i == item), D(0))
        assert paid <= max(due, D(0))
    for e in entries:
        assert e.money == sum((m for _, m in e.paid), D(0))
        assert all(book.grants[e.grant_id].may_pay(i) for i, _ in e.paid)


def test_a_recurring_grant_rolls_over_up_to_its_cap_and_the_rest_expires():
    # The pricing contract's example: g1, monthly from 1 October, 1,000 promotional credits,
    # rollover_cap 200. October draws 700: on 1 November 200 roll over, 100 expire, and
    # g1@2026-11-01 holds 1,200, all of which November's 15.00 takes (12.00).
    row = Grant(
        "g1",
        "c",
        OCT,
        D(1000),
        "promotional",
        recurrence="monthly",
        recurrence_ends_at=dt.date(2027, 10, 1),
        rollover_cap=D(200),
    )
    book = CreditBook([row])
    [october] = book.close(invoice("7.00", start=OCT, end=NOV, iid="oct"))
    assert (october.grant_id, october.credits) == ("g1@2026-10-01", D(700))
    assert book.settle(NOV, {"c": "USD"}) == [
        Rollover("g1@2026-10-01", "c", NOV, "g1@2026-11-01", D(200), D(100))
    ]
    assert book.balance["g1@2026-11-01"] == D(1200)
    [november] = book.close(invoice("15.00", start=NOV, end=dt.date(2026, 12, 1), iid="nov"))
    assert (november.grant_id, november.credits, november.money) == (
        "g1@2026-11-01",
        D(1200),
        D("12.00"),
    )


def test_a_one_off_grant_with_a_cap_keeps_at_most_the_cap_after_each_period():
    # OpenMeter's: 100 credits, cap 50; 10 used in September: 50 are kept, 40 expire on the
    # period's last day.
    book = CreditBook([grant("once", 100, "promotional", rollover_cap=D(50))])
    book.close(invoice("0.10"))
    assert book.settle(OCT, {"c": "USD"}) == [
        Rollover("once", "c", dt.date(2026, 9, 30), None, D(0), D(40))
    ]
    assert book.balance["once"] == D(50)
    assert book.settle(NOV, {"c": "USD"}) == []  # at the cap already


def test_instances_start_on_the_clamped_day_and_stop_at_the_end_or_the_expiry():
    row = Grant(
        "r",
        "c",
        dt.date(2027, 1, 31),
        D(10),
        "promotional",
        expires_at=dt.date(2027, 4, 15),
        recurrence="monthly",
    )
    assert [
        (i.grant_id, i.granted_at, i.expires_at) for i in row.instances(dt.date(2028, 1, 1))
    ] == [
        ("r@2027-01-31", dt.date(2027, 1, 31), dt.date(2027, 2, 28)),
        ("r@2027-02-28", dt.date(2027, 2, 28), dt.date(2027, 3, 31)),
        ("r@2027-03-31", dt.date(2027, 3, 31), dt.date(2027, 4, 15)),
    ]
    yearly = replace(
        row, expires_at=None, recurrence="yearly", recurrence_ends_at=dt.date(2029, 1, 31)
    )
    assert [i.granted_at for i in yearly.instances(dt.date(2040, 1, 1))] == [
        dt.date(2027, 1, 31),
        dt.date(2028, 1, 31),
    ]


def test_carried_credits_keep_their_cost_basis_and_a_row_recognizes_what_it_cost():
    # 1,000 credits bought for 10.00 each month (0.01 a credit), cap 500. October uses 200
    # (2.00 of revenue); 500 carry 5.00 of deferred revenue into November's instance and 300
    # expire as 3.00 of breakage. November's instance, 1,500 credits, defers 15.00, all of which
    # its consumption recognizes.
    row = Grant(
        "buy",
        "c",
        OCT,
        D(1000),
        "purchased",
        D("10.00"),
        recurrence="monthly",
        rollover_cap=D(500),
    )
    book = CreditBook([row])
    [october] = book.close(invoice("2.00", start=OCT, end=NOV, iid="oct"))
    assert october.revenue == D("2.00")
    [rolled] = book.settle(NOV, {"c": "USD"})
    assert (rolled.carried, rolled.expired, rolled.moved, rolled.breakage) == (
        D(500),
        D(300),
        D("5.00"),
        D("3.00"),
    )
    assert book.deferred("buy@2026-10-01") == 0
    assert book.deferred("buy@2026-11-01") == D("15.00")
    [november] = book.close(invoice("50.00", start=NOV, end=dt.date(2026, 12, 1), iid="nov"))
    assert (november.credits, november.revenue) == (D(1500), D("15.00"))
    # Replaying what was frozen gives the same book.
    again = CreditBook([row])
    again.replay([october], [rolled])
    assert again.balance["buy@2026-11-01"] == D(1500)
    assert again.deferred("buy@2026-11-01") == D("15.00")


def test_a_book_takes_its_grants_from_any_iterable():
    book = CreditBook(g for g in [grant("once", 100), grant("r", 10, recurrence="monthly")])
    # September's close: the row's September instance (August's expired on 1 September) and
    # the one-off grant
    assert drawn(book, invoice("1.20")) == {
        "r@2026-09-01": (D(10), D("0.10")),
        "once": (D(100), D("1.00")),
    }


def test_a_plan_allocation_grants_each_period_prorated_and_rolls_over_its_cap():
    # 10,000 credits a month, cap 2,000. The subscription starts on 16 September: September's
    # allocation is 15 of 30 days, 5,000; October's is whole. September draws 3,000 (30.00):
    # 2,000 of the 2,000 left roll into October's (12,000), nothing expires.
    allocation = CreditAllocation(D(10000), rollover_cap=D(2000), priority=10)
    subscription = Subscription("s1", "c", "team", dt.date(2026, 9, 16))
    grants = allocation_grants(
        [subscription], {"team": [(1, dt.date(2026, 1, 1), allocation)]}, NOV
    )
    assert [(g.grant_id, g.granted_at, g.credits, g.expires_at) for g in grants] == [
        ("alloc:s1@2026-09-16", dt.date(2026, 9, 16), D(5000), OCT),
        ("alloc:s1@2026-10-01", OCT, D(10000), NOV),
    ]
    book = CreditBook(grants)
    [september] = book.close(invoice("30.00"))
    assert september.credits == D(3000)
    assert book.settle(OCT, {"c": "USD"}) == [
        Rollover("alloc:s1@2026-09-16", "c", OCT, "alloc:s1@2026-10-01", D(2000), D(0))
    ]
    assert book.balance["alloc:s1@2026-10-01"] == D(12000)


def test_a_plan_allocation_follows_the_version_in_force_and_stops_with_the_subscription():
    # Version 2 (from October) allocates 600; the subscription ends on 11 October: 10 of 31
    # days, 193.548387097 (half-up at 9 decimals). Version 1 has none.
    versions = {"team": [(1, dt.date(2026, 1, 1), None), (2, OCT, CreditAllocation(D(600)))]}
    ended = Subscription("s2", "c", "team", dt.date(2026, 9, 1), dt.date(2026, 10, 11))
    assert [
        (g.grant_id, g.credits) for g in allocation_grants([ended], versions, dt.date(2027, 1, 1))
    ] == [("alloc:s2@2026-10-01", D("193.548387097"))]


def topups_made(book):
    return [(t.grant.grant_id, t.grant.credits, t.grant.purchase_amount) for t in book.topups]


def test_a_top_up_comes_between_draws_when_the_balance_reaches_the_threshold():
    """The worked example: threshold 1,000, top-up 5,000 at 0.01; balance 3,000, due 70.00."""
    rule = TopUpRule("t1", "c", D(1000), topup_credits=D(5000), price_per_credit=D("0.01"))
    book = CreditBook([grant("old", 3000, paid="30.00")], [rule])
    entries = book.close(invoice("70.00"))
    assert topups_made(book) == [("t1@2026-09-01#1", D(5000), D("50.00"))]
    assert [(e.grant_id, e.credits, e.money) for e in entries] == [
        ("old", D(3000), D("30.00")),
        ("t1@2026-09-01#1", D(4000), D("40.00")),
    ]
    assert book.topups[0].created_on == dt.date(2026, 9, 30)
    assert book.balance["t1@2026-09-01#1"] == D(1000)
    assert book.settle(OCT, {"c": "USD"}) == []  # a top-up never expires
    # October starts at the threshold: the top-up comes first, then the draws
    october = book.close(invoice("10.00", start=OCT, end=NOV, iid="oct"))
    assert topups_made(book)[1:] == [("t1@2026-10-01#1", D(5000), D("50.00"))]
    assert [(e.grant_id, e.money) for e in october] == [("t1@2026-09-01#1", D("10.00"))]


def test_a_higher_priority_top_up_is_drawn_before_the_rest_of_the_grant_it_interrupted():
    rule = TopUpRule(
        "t", "c", D(1000), topup_credits=D(500), price_per_credit=D("0.02"), priority=10
    )
    book = CreditBook([grant("old", 3000)], [rule])
    entries = book.close(invoice("25.00"))
    # 2,000 credits (20.00) reach the threshold; the top-up (priority 10) pays 5.00 next
    assert {e.grant_id: e.money for e in entries} == {
        "old": D("20.00"),
        "t@2026-09-01#1": D("5.00"),
    }
    assert entries[0].paid == (("invoice", D("20.00")),)
    assert book.topups[0].grant.purchase_amount == D("10.00")


def test_top_ups_stop_at_max_per_period_and_a_target_tops_up_to_the_target():
    rule = TopUpRule("t", "c", D(100), target_credits=D(600), max_per_period=2, kind="promotional")
    book = CreditBook([grant("old", 50)], [rule])
    entries = book.close(invoice("20.00"))
    # at the start 50 <= 100: +550 (to 600); draws reach 100 again: +500; then no more, so
    # 50 + 550 + 500 credits pay 11.00 of 20.00
    assert topups_made(book) == [
        ("t@2026-09-01#1", D(550), D(0)),
        ("t@2026-09-01#2", D(500), D(0)),
    ]
    assert sum(e.money for e in entries) == D("11.00")
    assert all(book.balance[g] == 0 for g in book.balance)


def test_a_rule_applies_only_between_its_dates_and_only_with_a_credit_rate():
    rule = TopUpRule(
        "t", "c", D(0), topup_credits=D(100), starts_on=OCT, ends_on=dt.date(2026, 11, 30)
    )
    book = CreditBook([], [rule])
    assert book.close(invoice("1.00")) == [] and book.topups == []  # September ends before
    assert book.close(invoice("1.00", start=OCT, end=NOV, rate=None)) == []
    assert book.topups == []
    book.close(invoice("0.50", start=OCT, end=NOV))
    assert topups_made(book) == [("t@2026-10-01#1", D(100), D(0))]
    book.close(invoice("0", start=dt.date(2026, 12, 1), end=dt.date(2027, 1, 1)))
    assert len(book.topups) == 1  # December ends after ends_on


@st.composite
def top_up_scenarios(draw):
    grants, subtotals, rate = draw(scenarios())
    threshold = draw(st.decimals(min_value=0, max_value=20_000, places=2))
    fixed = draw(st.booleans())
    size = draw(st.decimals(min_value=1, max_value=20_000, places=2))
    rule = TopUpRule(
        "t",
        "c",
        threshold,
        topup_credits=size if fixed else None,
        target_credits=None if fixed else threshold + size,
        price_per_credit=D("0.0125"),
        kind=draw(st.sampled_from(["purchased", "promotional"])),
        priority=draw(st.sampled_from([0, 50, 90])),
        max_per_period=draw(st.integers(1, 4)),
    )
    return grants, subtotals, rate, rule


@given(top_up_scenarios())
def test_top_ups_keep_credits_conserved_and_the_balance_above_the_threshold(case):
    """Month after month: credits never pay more than is due, every credit granted or topped up
    is drawn or still held, at most max_per_period top-ups a month, and a month that made fewer
    ends above the threshold (a watcher in real time would have topped up)."""
    grants, subtotals, rate, rule = case
    book = CreditBook(grants, [rule])
    drawn = D(0)
    for month, nxt, subtotal in zip(MONTHS, MONTHS[1:], subtotals, strict=False):
        inv = Invoice(f"i{month}", "c", month, nxt, "USD", subtotal, rate)
        made_before = len(book.topups)
        used = book.close(inv)
        applied, _ = total_after_credits(inv, used)
        assert applied <= subtotal
        drawn += sum((c.credits for c in used), D(0))
        made = book.topups[made_before:]
        assert len(made) <= rule.max_per_period
        assert all(t.grant.credits > 0 for t in made)
        live = sum((book.balance[g.grant_id] for g in book.grants.values() if g.can_pay(nxt)), D(0))
        if len(made) < rule.max_per_period:
            assert live > rule.threshold_credits
    granted = sum((g.credits for g in grants), D(0))
    topped = sum((t.grant.credits for t in book.topups), D(0))
    assert granted + topped == drawn + sum(book.balance.values(), D(0))
