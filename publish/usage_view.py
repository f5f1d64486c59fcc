"""The customer pages' daily usage, built for every customer at once in Polars
(publish/reports.py puts each view on its customer's page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl
from markupsafe import Markup

from publish.pages import RawJSON
from transforms.money import format_quantities, fraction_digits_text, minor_units
from transforms.units import metric_unit, readable


@dataclass(frozen=True)
class UsageView:
    """One customer's daily usage as its page shows it: the rows as JSON text, the metrics
    (id, label and unit), and the table's rows (day by metric, quantities formatted)."""

    json: RawJSON
    metrics: list[dict]
    rows: Markup


NO_USAGE = UsageView(RawJSON("[]"), [], Markup(""))

USAGE_METRICS = {"customer_id": pl.String, "metric": pl.String, "priced_as_money": pl.Int32}


def usage_views(
    usage: pl.DataFrame,
    metrics: pl.DataFrame,
    currencies: pl.DataFrame,
    *,
    since: dt.date,
    as_of: dt.date,
) -> dict[str, UsageView]:
    """Every customer's usage view, built in Polars for all customers at once. Daily usage is the
    part of a page that grows with the days shown (a row per metric and day), so it is never
    looped over in Python or the template: a nightly's reports then cost about the same after
    five days of history as after sixty.

    Every day from `since` to `as_of` has a row, for every metric the customer's plan prices
    or the customer used: a day without events shows 0, never a line drawn across it. Each
    metric's column has one number of decimals (the most any of its days needs; a metric a
    percentage charge prices is money, in the currency's minor units at least).

    The table's cells are days and formatted quantities (digits, `,`, `.`, `-`), which need no
    HTML escaping; metric names go through the template, which escapes them."""
    if as_of < since:
        return {}
    used = usage.select("customer_id", "metric").unique().with_columns(priced_as_money=0)
    shown = (
        pl.concat([metrics.cast(USAGE_METRICS), used.cast(USAGE_METRICS)])
        .group_by("customer_id", "metric")
        .agg(pl.col("priced_as_money").max() == 1)
        .join(currencies, on="customer_id")
    )
    if shown.is_empty():
        return {}
    days = pl.DataFrame({"usage_date": pl.date_range(since, as_of, eager=True)})
    grid = (
        shown.join(days, how="cross")
        .join(usage, on=["customer_id", "usage_date", "metric"], how="left")
        .with_columns(pl.col("quantity").fill_null(Decimal(0)))
        .sort("customer_id", "metric", "usage_date")
    )
    text = pl.col("quantity").cast(pl.String)
    minor = {c: minor_units(c) for c in shown["currency"].unique().to_list()}
    money_decimals = pl.col("currency").replace_strict(minor, return_dtype=pl.Int32)
    own = fraction_digits_text(text).str.len_chars().cast(pl.Int32)
    grid = grid.with_columns(
        pl.max_horizontal(
            own.max().over("customer_id", "metric"),
            pl.when(pl.col("priced_as_money")).then(money_decimals).otherwise(0),
        ).alias("decimals")
    ).with_columns(
        pl.col("usage_date").cast(pl.String),
        format_quantities(pl.col("quantity"), decimals=pl.col("decimals")).alias("shown"),
        format_quantities(pl.col("quantity"), grouped=False).alias("quantity"),
    )
    as_json = grid.group_by("customer_id", maintain_order=True).agg(
        pl.struct("customer_id", "usage_date", "metric", "quantity")
        .struct.json_encode()
        .str.join(",")
        .alias("json"),
    )
    labels: dict[str, list[dict]] = {}
    for row in shown.sort("customer_id", "metric").iter_rows(named=True):
        unit = metric_unit(
            row["metric"], priced_as_money=row["priced_as_money"], currency=row["currency"]
        )
        label = readable(row["metric"])
        labels.setdefault(row["customer_id"], []).append(
            {
                "metric": row["metric"],
                "unit": unit,
                "heading": f"{label} ({unit})" if row["priced_as_money"] else label,
            }
        )
    table = (
        grid.sort("customer_id", "usage_date", "metric")
        .group_by("customer_id", "usage_date", maintain_order=True)
        .agg(pl.format('<td class="num">{}</td>', pl.col("shown")).str.join(""))
        .group_by("customer_id", maintain_order=True)
        .agg(pl.format("<tr><td>{}</td>{}</tr>", "usage_date", "shown").str.join("\n"))
    )
    rows = dict(table.iter_rows())
    return {
        customer: UsageView(
            RawJSON(f"[{json}]"),
            labels[customer],
            Markup(rows[customer]),
        )
        for customer, json in as_json.iter_rows()
    }
