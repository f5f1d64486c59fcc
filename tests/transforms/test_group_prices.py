"""Per-group (dimensional) pricing: one usage line per distinct tuple of the group_by values,
each group priced on its own by the first group price that matches, else by the charge's own
price; the charge's commitments see all its groups together. Worked figures from the pricing
spec (Lago, Flexprice, Kill Bill)."""

import datetime as dt
import json
from decimal import Decimal as D

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.pricebook import PriceBookError, parse_price_book
from transforms.rating import rate_period, usage_groups

BOOK = """
plans:
  - plan_id: llm
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
{charges}
"""
TOKENS = """\
      - charge_id: tokens
        metric: tokens
        group_by: [model]
        model: per_unit
        unit_price: "0.000002"
        group_prices:
          - match: {model: large}
            unit_price: "0.00001"
          - match: {model: [xl, xxl]}
            model: graduated
            tiers: [{up_to: 1000000, unit_price: "0.00003"}, {up_to: null, unit_price: "0.00002"}]
"""


def _book(charges: str):
    return parse_price_book([("plans.yaml", BOOK.format(charges=charges))])


def _lines(book, rows: list[tuple[str, str, dict]]):
    """Rate October for one customer on plan llm from (event_id, quantity, properties) rows,
    all on 2 October; the usage lines as (group_key, quantity, amount), then the other lines."""
    frame = pl.LazyFrame(
        {
            "event_id": [r[0] for r in rows],
            "customer_id": ["c"] * len(rows),
            "occurred_at": [dt.datetime(2026, 10, 2, tzinfo=dt.UTC)] * len(rows),
            "metric": [r[3] if len(r) > 3 else "tokens" for r in rows],
            "status": [None] * len(rows),
            "properties": [json.dumps(r[2]) for r in rows],
            "quantity": [D(r[1]) for r in rows],
        },
        schema_overrides={"quantity": pl.Decimal(38, 9), "status": pl.Int32},
    )
    subs = pl.DataFrame(
        {
            "subscription_id": ["s"],
            "customer_id": ["c"],
            "plan_id": ["llm"],
            "started_at": [dt.date(2026, 10, 1)],
            "ended_at": [None],
        },
        schema_overrides={"ended_at": pl.Date},
    )
    [rated] = rate_period(book, dt.date(2026, 10, 1), usage_groups(frame), subs, frame.collect())
    return [
        (ln.line_type, ln.charge_id, ln.group_key, ln.quantity, ln.amount) for ln in rated.lines
    ]


def test_each_group_is_one_line_priced_by_the_first_match_or_the_charge():
    """1,200,000 small tokens at the default 0.000002 = 2.40, 300,000 large at 0.00001 = 3.00,
    10,000 without a model at the default = 0.02."""
    lines = _lines(
        _book(TOKENS),
        [
            ("a", "1200000", {"model": "small"}),
            ("b", "300000", {"model": "large"}),
            ("c", "10000", {}),
        ],
    )
    assert lines == [
        ("usage", "tokens", '{"model":"large"}', D(300000), D("3.00")),
        ("usage", "tokens", '{"model":"small"}', D(1200000), D("2.40")),
        ("usage", "tokens", '{"model":null}', D(10000), D("0.02")),
    ]


def test_tiers_restart_in_each_group():
    """Flexprice: groups of 3 and 12 units through graduated 1.00 up to 10, 2.00 above: 3 + 14
    = 17 (one line of 15 would be 20). Kill Bill: FOO 76 and BAR 101 units with their own
    volume tiers: 76 x 100 + 101 x 20 = 9,620."""
    graduated = """\
      - charge_id: units
        metric: tokens
        group_by: [region]
        model: graduated
        tiers: [{up_to: 10, unit_price: "1.00"}, {up_to: null, unit_price: "2.00"}]
"""
    lines = _lines(_book(graduated), [("a", "3", {"region": "eu"}), ("b", "12", {"region": "us"})])
    assert [ln[4] for ln in lines] == [D("3.00"), D("14.00")]
    volumes = """\
      - charge_id: units
        metric: tokens
        group_by: [unit_type]
        model: per_unit
        unit_price: "0"
        group_prices:
          - match: {unit_type: FOO}
            model: volume
            tiers: [{up_to: 100, unit_price: "100"}, {up_to: null, unit_price: "50"}]
          - match: {unit_type: BAR}
            model: volume
            tiers: [{up_to: 100, unit_price: "30"}, {up_to: null, unit_price: "20"}]
"""
    lines = _lines(
        _book(volumes), [("a", "76", {"unit_type": "FOO"}), ("b", "101", {"unit_type": "BAR"})]
    )
    assert sum(ln[4] for ln in lines) == D(9620)


def test_a_charge_maximum_caps_all_its_groups_together():
    capped = TOKENS.replace(
        'unit_price: "0.000002"\n', 'unit_price: "0.000002"\n        maximum: "5.00"\n', 1
    )
    lines = _lines(
        _book(capped),
        [("a", "1200000", {"model": "small"}), ("b", "300000", {"model": "large"})],
    )
    assert lines[-1] == ("spend_cap", "tokens", None, D(31), D("-0.40"))  # 5.40 capped at 5.00


def test_a_grouped_charge_without_usage_is_one_line_of_the_charge():
    lines = _lines(_book(TOKENS), [("a", "5", {"user": "x"}, "other_metric")])
    assert lines == [("usage", "tokens", None, D(0), D("0.00"))]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("group_by: [model]", "group_by: model"),
            "group_by: must be a list of 1 to 3 property names",
        ),
        (("group_by: [model]", "group_by: [a, b, c, d]"), "group_by: at most 3 properties, got 4"),
        (("group_by: [model]", "group_by: [model, model]"), "group_by: names a property twice"),
        (("        group_by: [model]\n", ""), "group_prices: needs group_by"),
        (
            ("match: {model: large}", "match: {region: eu}"),
            "group_prices[0].match.region: is not in group_by (model): no group has it",
        ),
        (
            ("match: {model: [xl, xxl]}", "match: {model: [xl, large]}"),
            "group_prices[1].match: can match the same groups as group_prices[0]",
        ),
        (
            ("{up_to: 1000000,", "{up_to: -1,"),
            "group_prices[1].tiers[0].up_to",
        ),
        (
            ('unit_price: "0.00001"', 'rate: "0.01"'),
            "group_prices[0].rate: does not apply to model per_unit",
        ),
    ],
)
def test_group_prices_are_refused_naming_the_field(change, message):
    assert change[0] in TOKENS
    with pytest.raises(PriceBookError) as err:
        _book(TOKENS.replace(*change))
    assert str(err.value).startswith(f"plans.yaml: plan llm v1: charges[0].{message}"), err.value


@settings(deadline=None, max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["small", "large", None]),
            st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_groups_at_one_price_sum_to_the_ungrouped_amount(rows):
    """With the same per-unit price in every group, the groups' lines add up to the charge's
    ungrouped line to within half a cent per group (each line is rounded on its own)."""
    flat = """\
      - {charge_id: tokens, metric: tokens, model: per_unit, unit_price: "0.0007"}
"""
    grouped = flat.replace("model: per_unit", "group_by: [model], model: per_unit")
    events = [(f"e{i}", str(q), {"model": m} if m else {}) for i, (m, q) in enumerate(rows)]
    whole = [ln[4] for ln in _lines(_book(flat), events)]
    parts = [ln[4] for ln in _lines(_book(grouped), events)]
    assert abs(sum(parts) - sum(whole)) <= D("0.005") * len(parts)
