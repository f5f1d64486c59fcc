"""The reports: `reports/index.html` for finance and `reports/customers/<id>.html` for
each customer, rebuilt from the marts by every run (and by `tally report`).

Every figure on a page is a mart's figure, read through the warehouse layer (either engine) and
shown exactly (money in the currency's minor units); each plot has its table beneath it. Plots
are Plotly charts drawn in the browser by plotly.js, which is written once beside the pages
(`reports/assets/`), so a page opens from disk with no network. Each customer page has its data
beside it as JSON (`customers/<id>.json`), for a product's own dashboard.

The pages are written into a fresh folder that replaces `reports/` in one rename: a reader
never sees half of a rebuild, and pages of customers that are gone do not linger.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from markupsafe import Markup

from lake.home import Home, safe_file_name
from publish.pages import RawJSON, embed, page_json, render, to_json
from transforms.money import format_quantities

if TYPE_CHECKING:  # the warehouse layer's reader (either engine); publish does not import it
    from warehouse.reader import Reader

TOP_CUSTOMERS = 10
PLOTLY_JS = "plotly.min.js"


@dataclass(frozen=True)
class Built:
    folder: Path
    customers: int


def build_reports(home: Home, warehouse: Reader, *, now: dt.datetime) -> Built:
    """Every page from the marts, written to a new folder that then replaces reports/."""
    data = _read(warehouse)
    target = home.reports
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "customers").mkdir(parents=True)
    (staging / "assets").mkdir()
    _write_plotly(staging / "assets" / PLOTLY_JS)
    generated = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    usage = usage_views(data["usage"])
    pages = []
    for customer in data["customers"].iter_rows(named=True):
        shown = usage.get(customer["customer_id"], NO_USAGE)
        page = customer_page(data, customer, shown)
        text = page_json(page)
        name = safe_file_name(customer["customer_id"])
        # The staging folder is replaced whole, so its files need not be written atomically.
        (staging / "customers" / f"{name}.json").write_text(text + "\n", encoding="utf-8")
        html = render(
            "customer.html.j2",
            page=page,
            page_data=embed(text),
            usage_rows=shown.rows,
            generated=generated,
            exports="../../exports",
        )
        (staging / "customers" / f"{name}.html").write_text(html, encoding="utf-8")
        pages.append({"customer_id": customer["customer_id"], "file": f"customers/{name}.html"})
    finance = finance_page(data, {p["customer_id"]: p["file"] for p in pages})
    text = to_json(finance, indent=2)
    (staging / "index.json").write_text(text + "\n", encoding="utf-8")
    html = render("index.html.j2", page=finance, page_data=embed(text), generated=generated)
    (staging / "index.html").write_text(html, encoding="utf-8")
    _replace(staging, target)
    return Built(target, len(pages))


def _replace(new: Path, old: Path) -> None:
    """`new` becomes `old` in one rename; the previous pages are removed after."""
    retired = old.with_name(old.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if old.exists():
        old.rename(retired)
    new.rename(old)
    shutil.rmtree(retired, ignore_errors=True)


def _write_plotly(path: Path) -> None:
    from plotly.offline import get_plotlyjs

    path.write_text(get_plotlyjs(), encoding="utf-8")


# The marts each page shows, read once for all customers.
QUERIES = {
    "customers": """
        select c.customer_id, c.customer_name, c.currency,
               b.monthly_budget
        from staging.stg_reference__customers as c
        left join (select distinct customer_id, monthly_budget
                   from staging.stg_reference__budgets) as b
          on c.customer_id = b.customer_id
        order by c.customer_id""",
    "revenue": """
        select month, currency,
               sum(billed_revenue) as billed, sum(credit_revenue) as credit,
               sum(breakage_revenue) as breakage, sum(recognized_revenue) as recognized,
               sum(deferred_opening) as deferred_opening, sum(purchases) as purchases,
               sum(deferred_closing) as deferred_closing
        from marts.fct_revenue_monthly
        group by month, currency
        order by month, currency""",
    "issued": """
        select i.period_start, i.currency, count(*) as invoices, sum(i.total) as issued_total
        from marts.fct_invoices as i
        where i.status = 'issued'
        group by i.period_start, i.currency""",
    "billed": """
        select period_start, currency, count(*) as invoices, sum(total) as billed_total
        from staging.stg_reference__billed_invoices
        group by period_start, currency""",
    "findings": """
        select check_name, severity, count(*) as findings, sum(abs(difference)) as size
        from marts.fct_billing_mismatches
        group by check_name, severity
        order by findings desc, check_name""",
    "spend": """
        select customer_id, period_start, currency, spend_to_date, projected_spend,
               credits_remaining, credits_remaining_value, as_of
        from marts.mart_customer_spend
        order by customer_id""",
    "usage": """
        select customer_id, usage_date, metric, sum(quantity) as quantity
        from marts.fct_usage_daily
        where usage_date >= :since
        group by customer_id, usage_date, metric
        order by customer_id, metric, usage_date""",
    "invoices": """
        select customer_id, invoice_id, invoice_number, period_start, period_end, status,
               currency, subtotal, credits_applied, total, due_date
        from marts.fct_invoices
        order by customer_id, period_start""",
    "grants": """
        select l.customer_id, l.grant_id, g.kind, g.granted_at, g.expires_at, g.credits,
               l.balance_after as remaining
        from marts.fct_credit_ledger as l
        inner join staging.stg_reference__credit_grants as g on l.grant_id = g.grant_id
        inner join (
            select grant_id, max(entry_date) as entry_date from marts.fct_credit_ledger
            group by grant_id
        ) as last_entry
          on l.grant_id = last_entry.grant_id and l.entry_date = last_entry.entry_date
        order by l.customer_id, g.expires_at nulls last, l.grant_id""",
    "notifications": """
        select customer_id, notification_id, period_start, kind, threshold_pct, amount,
               budget, currency, as_of, sent_at
        from marts.fct_spend_notifications
        order by customer_id, sent_at, notification_id""",
}


def _read(warehouse: Reader) -> dict[str, pl.DataFrame]:
    """The pages' data. Daily usage covers the current period and the one before (pages stay
    the same size however long the history)."""
    data = {name: warehouse.frame(sql) for name, sql in QUERIES.items() if name != "usage"}
    as_of = data["spend"]["as_of"].max() or dt.date(1970, 1, 1)
    since = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    data["usage"] = warehouse.frame(QUERIES["usage"], since=since)
    return data


def _rows(frame: pl.DataFrame) -> list[dict]:
    return list(frame.iter_rows(named=True))


def _by_customer(data: dict[str, pl.DataFrame], name: str) -> dict[str, pl.DataFrame]:
    """A table split by customer once (kept in `data`), not filtered once per customer."""
    key = f"_{name}_by_customer"
    if key not in data:
        parts = data[name].partition_by("customer_id", as_dict=True)
        data[key] = {k[0]: v for k, v in parts.items()}  # type: ignore[assignment]
    return data[key]  # type: ignore[return-value]


def finance_page(data: dict[str, pl.DataFrame], links: dict[str, str]) -> dict:
    issued, billed = data["issued"], data["billed"]
    versus = (
        issued.join(
            billed, on=["period_start", "currency"], how="full", coalesce=True, suffix="_billed"
        )
        .with_columns(
            pl.col("issued_total").fill_null(Decimal(0)),
            pl.col("billed_total").fill_null(Decimal(0)),
            pl.col("invoices").fill_null(0),
            pl.col("invoices_billed").fill_null(0),
        )
        .with_columns((pl.col("issued_total") - pl.col("billed_total")).alias("difference"))
        .sort("period_start", "currency")
    )
    top = (
        data["spend"]
        .sort("spend_to_date", "customer_id", descending=[True, False])
        .head(TOP_CUSTOMERS)
        .join(
            data["customers"].select("customer_id", "customer_name"), on="customer_id", how="left"
        )
        .with_columns(pl.col("customer_id").replace_strict(links, default=None).alias("page"))
    )
    return {
        "revenue": _rows(data["revenue"]),
        "currencies": sorted(data["revenue"]["currency"].unique().to_list()),
        "issued_vs_billed": _rows(versus),
        "findings": _rows(data["findings"]),
        "top_customers": _rows(top),
    }


def customer_page(data: dict[str, pl.DataFrame], customer: dict, usage: UsageView) -> dict:
    cid = customer["customer_id"]

    def of(name: str) -> list[dict]:
        return _rows(_by_customer(data, name).get(cid, data[name].clear()))

    spend = of("spend")
    invoices = [{**i, "document": safe_file_name(i["invoice_id"])} for i in of("invoices")]
    return {
        "customer": customer,
        "spend": spend[0] if spend else None,
        "usage": usage.json,
        "metrics": usage.metrics,
        "invoices": invoices,
        "grants": of("grants"),
        "notifications": of("notifications"),
    }


@dataclass(frozen=True)
class UsageView:
    """One customer's daily usage as its page shows it: the rows as JSON text, the metrics, and
    the table's rows (day by metric, quantities formatted)."""

    json: RawJSON
    metrics: list[str]
    rows: Markup


NO_USAGE = UsageView(RawJSON("[]"), [], Markup(""))


def usage_views(usage: pl.DataFrame) -> dict[str, UsageView]:
    """Every customer's usage view, built in Polars for all customers at once. Daily usage is the
    part of a page that grows with the days shown (a row per metric and day), so it is never
    looped over in Python or the template: a nightly's reports then cost about the same after
    five days of history as after sixty.

    The table's cells are days and formatted quantities (digits, `,`, `.`, `-`), which need no
    HTML escaping; metric names go through the template, which escapes them."""
    if usage.is_empty():
        return {}
    text = usage.with_columns(
        pl.col("usage_date").cast(pl.String),
        format_quantities(pl.col("quantity")).alias("shown"),
        pl.col("quantity").cast(pl.String),  # exact decimal text, as in every page's JSON
    )
    as_json = text.group_by("customer_id", maintain_order=True).agg(
        pl.struct("customer_id", "usage_date", "metric", "quantity")
        .struct.json_encode()
        .str.join(",")
        .alias("json"),
        pl.col("metric").unique().sort().alias("metrics"),
    )
    # Each customer's days by each of its metrics; a metric with no usage that day shows blank.
    grid = (
        text.select("customer_id", "usage_date")
        .unique()
        .join(text.select("customer_id", "metric").unique(), on="customer_id")
        .join(text, on=["customer_id", "usage_date", "metric"], how="left")
        .sort("customer_id", "usage_date", "metric")
    )
    table = (
        grid.group_by("customer_id", "usage_date", maintain_order=True)
        .agg(pl.format('<td class="num">{}</td>', pl.col("shown").fill_null("")).str.join(""))
        .group_by("customer_id", maintain_order=True)
        .agg(pl.format("<tr><td>{}</td>{}</tr>", "usage_date", "shown").str.join("\n"))
    )
    rows = dict(table.iter_rows())
    return {
        customer: UsageView(RawJSON(f"[{json}]"), metrics, Markup(rows[customer]))
        for customer, json, metrics in as_json.iter_rows()
    }
