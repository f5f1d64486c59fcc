"""An invoice as items: the allocation rule and which lines make which item."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.items import InvoiceLine, Item, allocate, invoice_items


def test_an_even_split_gives_the_spare_cent_to_the_earlier_item():
    assert allocate(D("-10.00"), [D("1.00"), D("1.00"), D("1.00")], "USD") == [
        D("-3.34"),
        D("-3.33"),
        D("-3.33"),
    ]


def test_the_spare_cents_go_to_the_largest_remainders():
    # exact shares of 1.00 over 1 : 2 : 4 are 0.142857, 0.285714, 0.571428: cut to 0.14, 0.28,
    # 0.57 (0.99); the cent left goes to the largest cut-off remainder, 0.005714 (the second)
    assert allocate(D("1.00"), [D("1"), D("2"), D("4")], "USD") == [D("0.14"), D("0.29"), D("0.57")]


def test_a_currency_without_minor_units_allocates_whole_units():
    assert allocate(D("100"), [D("1"), D("1"), D("1")], "JPY") == [D(34), D(33), D(33)]


def test_an_item_of_weight_zero_gets_nothing():
    assert allocate(D("-5.00"), [D("0"), D("20.00"), D("30.00")], "USD") == [
        D(0),
        D("-2.00"),
        D("-3.00"),
    ]


def test_nothing_to_allocate_over_is_an_error():
    with pytest.raises(ValueError, match="cannot allocate"):
        allocate(D("-1.00"), [D(0), D(0)], "USD")


@given(
    cents=st.integers(min_value=-(10**9), max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=12).filter(
        any
    ),
)
def test_shares_add_up_exactly_and_stay_within_a_cent_of_the_exact_share(cents, weights):
    amount, money = D(cents) / 100, [D(w) / 100 for w in weights]
    shares = allocate(amount, money, "USD")
    assert sum(shares) == amount
    for share, weight in zip(shares, money, strict=True):
        exact = amount * weight / sum(money)
        assert abs(share - exact) < D("0.01")
        assert share == 0 or (share > 0) == (amount > 0)


def test_a_plan_cap_is_shared_by_the_charge_items_and_touches_nothing_else():
    # base fee 49.00; calls 250.00; gpu 15.00 + its true-up 5.00; the plan cap -70.00 over the
    # charges 250.00 : 20.00 -> -64.814814... and -5.185185...: cut to -64.81 and -5.18, the
    # cent left to the larger remainder (gpu's 0.005185 against calls' 0.004814)
    lines = [
        InvoiceLine("usage", "calls", D("250.00")),
        InvoiceLine("usage", "gpu", D("15.00")),
        InvoiceLine("minimum_true_up", "gpu", D("5.00")),
        InvoiceLine("base_fee", None, D("49.00")),
        InvoiceLine("spend_cap", None, D("-70.00")),
    ]
    assert invoice_items(lines, "USD") == [
        Item("base_fee", 1, D("49.00")),
        Item("charge:calls", 2, D("185.19")),
        Item("charge:gpu", 3, D("14.81")),
    ]


def test_grouped_usage_and_a_charge_cap_are_one_item_and_the_plan_minimum_another():
    lines = [
        InvoiceLine("usage", "tokens", D("3.00")),  # {"model": "large"}
        InvoiceLine("usage", "tokens", D("14.00")),  # {"model": "small"}
        InvoiceLine("spend_cap", "tokens", D("-2.00")),
        InvoiceLine("minimum_true_up", None, D("35.00")),
    ]
    assert invoice_items(lines, "USD") == [
        Item("charge:tokens", 1, D("15.00")),
        Item("commitment", 2, D("35.00")),
    ]


def test_a_credit_note_is_absorbed_by_the_debits_carried_with_it():
    lines = [
        InvoiceLine("usage", "calls", D("10.00")),
        InvoiceLine("adjustment", "INV-2026-09-c:calls", D("3.00")),
        InvoiceLine("adjustment", "INV-2026-09-c:gpu", D("1.00")),
        InvoiceLine("adjustment", "INV-2026-09-c:calls:spend_cap", D("-2.00")),
    ]
    assert invoice_items(lines, "USD") == [
        Item("charge:calls", 1, D("10.00")),
        Item("adjustment:INV-2026-09-c:calls", 2, D("1.50")),
        Item("adjustment:INV-2026-09-c:gpu", 3, D("0.50")),
    ]


def test_a_credit_note_larger_than_the_debits_keeps_what_is_left():
    lines = [
        InvoiceLine("adjustment", "INV-2026-09-c:calls", D("1.00")),
        InvoiceLine("adjustment", "INV-2026-09-c:gpu", D("-3.00")),
        InvoiceLine("adjustment", "INV-2026-09-c:storage", D("-1.00")),
    ]
    assert invoice_items(lines, "USD") == [
        Item("adjustment:INV-2026-09-c:gpu", 1, D("-2.25")),
        Item("adjustment:INV-2026-09-c:storage", 2, D("-0.75")),
    ]


def _taxed(lines, currency="USD"):
    return [(i.item, i.amount, i.tax, i.due) for i in invoice_items(lines, currency)]


def test_each_item_is_taxed_and_rounded_on_its_own():
    # The spec's invoice at 20 %: 44.10, 225.00 and 18.00 -> 8.82 + 45.00 + 3.60 = 57.42.
    rate = D("0.20")
    lines = [
        InvoiceLine("base_fee", None, D("44.10"), rate),
        InvoiceLine("usage", "calls", D("225.00"), rate),
        InvoiceLine("usage", "gpu", D("18.00"), rate),
    ]
    items = invoice_items(lines, "USD")
    assert [i.tax for i in items] == [D("8.82"), D("45.00"), D("3.60")]
    assert sum(i.tax for i in items) == D("57.42")


@pytest.mark.parametrize(
    ("amounts", "rate", "taxes"),
    [
        # Lago: base fee 0.60 and usage 0.44 at 10 %: 0.06 + round(0.044) = 0.10
        ([("base_fee", None, "0.60"), ("usage", "calls", "0.44")], "0.10", ["0.06", "0.04"]),
        # Lago: two charges of 500.00 at 6.8254 %: 34.13 + 34.13 = 68.26 (one rounding: 68.25)
        ([("usage", "a", "500.00"), ("usage", "b", "500.00")], "0.068254", ["34.13", "34.13"]),
        # Lago: ten 0.60 charges at 14 %: 10 x 0.08 = 0.80
        ([("usage", f"c{n}", "0.60") for n in range(10)], "0.14", ["0.08"] * 10),
    ],
)
def test_lagos_tax_figures(amounts, rate, taxes):
    lines = [InvoiceLine(t, c, D(a), D(rate)) for t, c, a in amounts]
    assert [i.tax for i in invoice_items(lines, "USD")] == [D(t) for t in taxes]


def test_an_item_below_zero_and_an_invoice_owing_the_customer_are_not_taxed():
    rate = D("0.20")
    assert _taxed(
        [
            InvoiceLine("usage", "calls", D("10.00"), rate),
            InvoiceLine("adjustment", "INV-2026-09-c:calls", D("-3.00"), rate),
        ]
    ) == [
        ("charge:calls", D("10.00"), D("2.00"), D("12.00")),
        ("adjustment:INV-2026-09-c:calls", D("-3.00"), D(0), D("-3.00")),
    ]
    assert _taxed(
        [
            InvoiceLine("usage", "calls", D("1.00"), rate),
            InvoiceLine("adjustment", "INV-2026-09-c:calls", D("-3.00"), rate),
        ]
    ) == [
        ("charge:calls", D("1.00"), D(0), D("1.00")),
        ("adjustment:INV-2026-09-c:calls", D("-3.00"), D(0), D("-3.00")),
    ]


@given(
    cents=st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=8),
    rate=st.decimals(min_value=0, max_value=D("0.999999"), places=6),
)
def test_tax_of_a_zero_invoice_is_zero_and_tax_never_exceeds_rate_times_amount_by_a_cent(
    cents, rate
):
    lines = [InvoiceLine("usage", f"c{i}", D(c) / 100, rate) for i, c in enumerate(cents)]
    items = invoice_items(lines, "USD")
    total = sum(i.amount for i in items)
    tax = sum(i.tax for i in items)
    if total == 0:
        assert tax == 0
    assert abs(tax - total * rate) <= D("0.005") * len(items)
