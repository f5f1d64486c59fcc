"""The customer pages' daily usage, built for every customer at once (publish/usage_view.py)."""

import datetime as dt
import json
from decimal import Decimal as D

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from publish.pages import embed, page_json
from publish.usage_view import usage_views
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


def plan_metrics(*rows):
    return pl.DataFrame(
        rows,
        schema={"customer_id": pl.String, "metric": pl.String, "priced_as_money": pl.Int32},
        orient="row",
    )


CURRENCIES = pl.DataFrame(
    {"customer_id": ["cus_a", "cus_b", "cus_y"], "currency": ["USD", "EUR", "JPY"]}
)
DAY1, DAY2, DAY3 = dt.date(2026, 9, 1), dt.date(2026, 9, 2), dt.date(2026, 9, 3)


def views_of(usage_rows, metrics_rows=(), since=DAY1, as_of=DAY3, currencies=CURRENCIES):
    return usage_views(
        usage(*usage_rows), plan_metrics(*metrics_rows), currencies, since=since, as_of=as_of
    )


def test_every_day_up_to_as_of_has_a_row_for_every_metric_of_the_plan_zero_when_unused():
    views = views_of(
        [
            ("cus_a", DAY1, "api_calls", D("1500")),
            ("cus_a", DAY3, "api_calls", D("20")),
            ("cus_b", DAY2, "tokens", D("7")),
        ],
        [("cus_a", "api_calls", 0), ("cus_a", "tokens", 0), ("cus_y", "renders", 0)],
    )
    assert sorted(views) == ["cus_a", "cus_b", "cus_y"]  # cus_y: a plan, no usage yet
    a, b, y = views["cus_a"], views["cus_b"], views["cus_y"]
    assert [m["heading"] for m in a.metrics] == ["API calls", "Tokens"]
    assert a.rows.splitlines() == [
        '<tr><td>2026-09-01</td><td class="num">1,500</td><td class="num">0</td></tr>',
        '<tr><td>2026-09-02</td><td class="num">0</td><td class="num">0</td></tr>',
        '<tr><td>2026-09-03</td><td class="num">20</td><td class="num">0</td></tr>',
    ]
    assert b.rows.splitlines() == [
        '<tr><td>2026-09-01</td><td class="num">0</td></tr>',
        '<tr><td>2026-09-02</td><td class="num">7</td></tr>',
        '<tr><td>2026-09-03</td><td class="num">0</td></tr>',
    ]
    assert len(y.rows.splitlines()) == 3
    calls = [u for u in json.loads(a.json) if u["metric"] == "api_calls"]
    assert [(u["usage_date"], u["quantity"]) for u in calls] == [
        ("2026-09-01", "1500"),
        ("2026-09-02", "0"),
        ("2026-09-03", "20"),
    ]


def test_a_metric_column_has_one_precision_and_money_its_currency():
    views = views_of(
        [
            ("cus_a", DAY1, "storage_gb", D("17.4")),
            ("cus_a", DAY2, "storage_gb", D("181.015")),
            ("cus_a", DAY1, "payments", D("1093.3")),
            ("cus_y", DAY1, "payments", D("1250")),
        ],
        [("cus_a", "payments", 1), ("cus_y", "payments", 1)],
        as_of=DAY2,
    )
    a, y = views["cus_a"], views["cus_y"]
    assert [m["heading"] for m in a.metrics] == ["Payments (USD)", "Storage GB"]
    assert a.rows.splitlines() == [
        '<tr><td>2026-09-01</td><td class="num">1,093.30</td><td class="num">17.400</td></tr>',
        '<tr><td>2026-09-02</td><td class="num">0.00</td><td class="num">181.015</td></tr>',
    ]
    assert y.metrics[0]["heading"] == "Payments (JPY)"
    assert y.rows.splitlines()[0] == '<tr><td>2026-09-01</td><td class="num">1,250</td></tr>'


def test_no_usage_and_no_plan_gives_no_views():
    assert views_of([]) == {}


def test_a_page_json_holds_built_usage_as_is_and_no_string_can_end_its_script():
    hostile = pl.DataFrame({"customer_id": ["</script><b>"], "currency": ["USD"]})
    used = [("</script><b>", DAY1, 'a"&<m>', D("3"))]
    [view] = views_of(used, as_of=DAY1, currencies=hostile).values()
    text = page_json({"customer": {"customer_id": "</script><b>"}, "usage": view.json})
    data = json.loads(text)
    assert data["usage"][0]["metric"] == 'a"&<m>' and data["usage"][0]["quantity"] == "3"
    embedded = embed(text)
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert json.loads(str(embedded)) == data
