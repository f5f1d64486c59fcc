"""Coupons: the spec's worked figures and the rules' properties."""

import datetime as dt
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from transforms.coupons import Coupon, Redemption, apply_coupons
from transforms.items import Item

OCT = dt.date(2026, 10, 1)


def items(*amounts):
    names = ["base_fee", "charge:calls", "charge:gpu", "commitment"]
    return [Item(n, i, D(a)) for i, (n, a) in enumerate(zip(names, amounts, strict=False), 1)]


def redeem(coupon, on="2026-10-03", rid=None):
    return Redemption(rid or f"r_{coupon.coupon_id}", coupon, dt.date.fromisoformat(on))


def test_a_charge_coupon_goes_first_and_the_next_works_on_what_is_left():
    # base fee 49.00, calls 250.00, gpu 20.00; A 10 % on charge:calls, B 20.00 on everything:
    # A -> 25.00 (calls 225.00); B on 294.00 -> 3.33 / 15.31 / 1.36 (exact 3.333 / 15.306 /
    # 1.361: the spare cent to the largest remainder)
    a = Coupon("a", "percentage", percent=D("0.10"), applies_to=("charge:calls",))
    b = Coupon("b", "amount", amount=D("20.00"), currency="USD")
    discounts, after = apply_coupons(
        items("49.00", "250.00", "20.00"), [redeem(b, "2026-10-01"), redeem(a)], OCT, "USD"
    )
    assert [(d.coupon_id, d.amount) for d in discounts] == [("a", D("-25.00")), ("b", D("-20.00"))]
    assert discounts[1].shares == {
        "base_fee": D("-3.33"),
        "charge:calls": D("-15.31"),
        "charge:gpu": D("-1.36"),
    }
    assert [i.amount for i in after] == [D("45.67"), D("209.69"), D("18.64")]


def test_the_spec_invoice_takes_ten_percent_of_each_item():
    # base fee 49.00, calls 250.00 (after the plan cap), gpu 15.00 + 5.00: launch10 10 % of
    # 319.00 = 31.90, allocated 4.90 / 25.00 / 2.00
    launch = Coupon("launch10", "percentage", percent=D("0.10"))
    discounts, after = apply_coupons(
        items("49.00", "250.00", "20.00"), [redeem(launch)], OCT, "USD"
    )
    assert discounts[0].amount == D("-31.90")
    assert [i.amount for i in after] == [D("44.10"), D("225.00"), D("18.00")]


def test_two_ten_percent_coupons_take_nineteen_percent():
    ten = [Coupon(f"t{n}", "percentage", percent=D("0.10")) for n in (1, 2)]
    discounts, _ = apply_coupons(items("0", "100.00"), [redeem(c) for c in ten], OCT, "USD")
    assert [d.amount for d in discounts] == [D("-10.00"), D("-9.00")]


def test_an_amount_coupon_larger_than_the_invoice_is_forfeited_beyond_it():
    big = Coupon("big", "amount", amount=D("50.00"), currency="USD")
    discounts, after = apply_coupons(items("0", "30.00"), [redeem(big)], OCT, "USD")
    assert discounts[0].amount == D("-30.00") and after[1].amount == 0


def test_a_coupon_limited_to_usage_leaves_the_base_fee_and_adjustments_alone():
    usage = Coupon("u", "percentage", percent=D("0.50"), applies_to=("usage",))
    listed = [
        *items("49.00", "10.00", "0", "6.00"),
        Item("adjustment:INV-2026-09-c:calls", 5, D("4.00")),
    ]
    _, after = apply_coupons(listed, [redeem(usage)], OCT, "USD")
    assert [i.amount for i in after] == [D("49.00"), D("5.00"), D(0), D("3.00"), D("4.00")]


def test_a_coupon_applies_from_the_month_it_is_redeemed_for_its_duration():
    three = Coupon("three", "percentage", percent=D("0.10"), duration_months=3)
    r = redeem(three, "2026-10-20")
    assert [r.active(dt.date(2026, m, 1)) for m in (9, 10, 11, 12)] == [False, True, True, True]
    assert not r.active(dt.date(2027, 1, 1))
    forever = redeem(Coupon("f", "percentage", percent=D("0.10")), "2026-10-20")
    assert forever.active(dt.date(2030, 1, 1))


@given(
    amounts=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=4),
    percents=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=3),
)
def test_a_coupon_never_raises_an_invoice_nor_takes_an_item_below_zero(amounts, percents):
    listed = items(*(str(D(a) / 100) for a in amounts))
    coupons = [Coupon(f"c{n}", "percentage", percent=D(p) / 100) for n, p in enumerate(percents)]
    discounts, after = apply_coupons(listed, [redeem(c) for c in coupons], OCT, "USD")
    assert all(d.amount < 0 for d in discounts)
    assert all(0 <= a.amount <= i.amount for a, i in zip(after, listed, strict=True))
    assert sum(a.amount for a in after) == sum(i.amount for i in listed) + sum(
        d.amount for d in discounts
    )
