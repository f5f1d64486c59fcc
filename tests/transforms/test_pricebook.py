"""The price book is refused before any data is touched, with file, plan and field named."""

import textwrap
from decimal import Decimal

import pytest

from transforms.pricebook import PriceBookError, load_price_book

PLAN = """
plans:
  - plan_id: growth
    version: 2
    effective_from: 2026-10-01
    currency: USD
    base_fee: 49.10
    charges:
      - charge_id: calls
        metric: api_calls
        model: per_unit
        unit_price: "0.002"
"""


def book_from(tmp_path, text):
    path = tmp_path / "plans.yaml"
    path.write_text(textwrap.dedent(text))
    return load_price_book([path], base=tmp_path)


def test_money_is_read_exactly_even_when_unquoted(tmp_path):
    plan = book_from(tmp_path, PLAN).plans[0]
    assert plan.base_fee == Decimal("49.10")
    assert plan.charges[0].unit_price == Decimal("0.002")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("model: per_unit", "model: magic"),
            "plans.yaml: plan growth v2: charges[0].model: unknown model 'magic'",
        ),
        (
            ("currency: USD", "currency: XXY"),
            "plans.yaml: plan growth v2: currency: 'XXY' is not an ISO 4217",
        ),
        (
            ('unit_price: "0.002"', 'unit_price: "two"'),
            "plans.yaml: plan growth v2: charges[0].unit_price: 'two' is not a decimal",
        ),
        (
            ("base_fee: 49.10", "base_fee: -1"),
            "plans.yaml: plan growth v2: base_fee: must be at least 0",
        ),
        (
            ("version: 2", "version: two"),
            "plans.yaml: plan growth: version: must be a whole number",
        ),
    ],
)
def test_faults_name_file_plan_and_field(tmp_path, change, message):
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, PLAN.replace(*change))
    assert str(err.value).startswith(message)


def test_tiers_out_of_order_are_refused(tmp_path):
    text = PLAN.replace(
        'model: per_unit\n        unit_price: "0.002"',
        "model: graduated\n        tiers:\n          - {up_to: 100, unit_price: '1'}\n"
        "          - {up_to: 50, unit_price: '1'}\n          - {up_to: null, unit_price: '1'}",
    )
    with pytest.raises(
        PriceBookError, match=r"charges\[0\]\.tiers\[1\]\.up_to: tiers out of order"
    ):
        book_from(tmp_path, text)


def test_overlapping_filters_on_one_metric_are_refused(tmp_path):
    text = PLAN + textwrap.indent(
        textwrap.dedent(
            """\
            - charge_id: ok_calls
              metric: api_calls
              filter: {status: [200]}
              model: per_unit
              unit_price: "0.001"
            """
        ),
        "      ",
    )
    with pytest.raises(
        PriceBookError, match=r"charges\[1\]\.filter: overlaps charges\[0\] \(calls\)"
    ):
        book_from(tmp_path, text)


def test_disjoint_filters_are_accepted(tmp_path):
    text = PLAN.replace(
        'unit_price: "0.002"', 'unit_price: "0.002"\n        filter: {status: success}'
    ) + textwrap.indent(
        textwrap.dedent(
            """\
            - charge_id: failed_calls
              metric: api_calls
              filter: {status: [500, 503]}
              model: per_unit
              unit_price: "0"
            """
        ),
        "      ",
    )
    assert [c.charge_id for c in book_from(tmp_path, text).plans[0].charges] == [
        "calls",
        "failed_calls",
    ]
