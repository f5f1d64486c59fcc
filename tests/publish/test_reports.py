"""The customer pages' daily usage, built for every customer at once (publish/reports.py)."""

import datetime as dt
import json
from decimal import Decimal as D

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from publish.pages import embed, page_json
from publish.reports import usage_views
from transforms.money import format_quantities, format_quantity

QUANTITY = pl.Decimal(38, 9)


def test_quantities_of_a_column_read_as_a_reader_expects():
    column = pl.Series(
        "q",
        [D("0"), D("1234567.120"), D("-1000"), D("0.000000001"), D("-0.5"), D("999")],
        dtype=QUANTITY,
    )
    shown = pl.select(format_quantities(pl.lit(column))).to_series().to_list()
    assert shown == ["0", "1,234,567.12", "-1,000", "0.000000001", "-0.5", "999"]


@given(
    st.lists(
        st.decimals(min_value=-(10**29) + 1, max_value=10**29 - 1, places=9, allow_nan=False),
        min_size=1,
        max_size=20,
    )
)
def test_a_column_is_formatted_as_each_quantity_on_its_own(values):
    column = pl.Series("q", values, dtype=QUANTITY)
    shown = pl.select(format_quantities(pl.lit(column))).to_series().to_list()
    assert shown == [format_quantity(v) for v in values]


def usage(*rows):
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "usage_date": pl.Date,
            "metric": pl.String,
            "quantity": QUANTITY,
        },
        orient="row",
    )


def test_each_customer_gets_a_row_per_day_and_a_column_per_metric_it_used():
    day1, day2 = dt.date(2026, 9, 1), dt.date(2026, 9, 2)
    views = usage_views(
        usage(
            ("cus_a", day1, "api_calls", D("1500")),
            ("cus_a", day2, "api_calls", D("20")),
            ("cus_a", day2, "tokens", D("2.5")),
            ("cus_b", day2, "tokens", D("7")),
        )
    )
    assert sorted(views) == ["cus_a", "cus_b"]
    a, b = views["cus_a"], views["cus_b"]
    assert a.metrics == ["api_calls", "tokens"] and b.metrics == ["tokens"]
    assert a.rows.splitlines() == [
        '<tr><td>2026-09-01</td><td class="num">1,500</td><td class="num"></td></tr>',
        '<tr><td>2026-09-02</td><td class="num">20</td><td class="num">2.5</td></tr>',
    ]
    assert b.rows == '<tr><td>2026-09-02</td><td class="num">7</td></tr>'
    assert json.loads(a.json) == [
        {
            "customer_id": "cus_a",
            "usage_date": "2026-09-01",
            "metric": "api_calls",
            "quantity": "1500.000000000",
        },
        {
            "customer_id": "cus_a",
            "usage_date": "2026-09-02",
            "metric": "api_calls",
            "quantity": "20.000000000",
        },
        {
            "customer_id": "cus_a",
            "usage_date": "2026-09-02",
            "metric": "tokens",
            "quantity": "2.500000000",
        },
    ]


def test_no_usage_gives_no_views():
    assert usage_views(usage()) == {}


def test_a_page_json_holds_built_usage_as_is_and_no_string_can_end_its_script():
    [view] = usage_views(usage(("</script><b>", dt.date(2026, 9, 1), 'a"&<m>', D("3")))).values()
    text = page_json({"customer": {"customer_id": "</script><b>"}, "usage": view.json})
    data = json.loads(text)
    assert data["usage"][0]["metric"] == 'a"&<m>' and data["usage"][0]["quantity"] == "3.000000000"
    embedded = embed(text)
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert json.loads(str(embedded)) == data
