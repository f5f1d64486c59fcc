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
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from lake.home import Home, safe_file_name
from lake.records import write_text_atomically
from publish.pages import embed, page_json, render, to_json
from publish.usage_view import NO_USAGE, UsageView, usage_views
from transforms.money import amount_text

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
    generated = _generated(now)
    pages = []
    for page in _customer_pages(data, generated):
        # The staging folder is replaced whole, so its files need not be written atomically.
        (staging / "customers" / f"{page.name}.json").write_text(page.json, encoding="utf-8")
        (staging / "customers" / f"{page.name}.html").write_text(page.html, encoding="utf-8")
        pages.append({"customer_id": page.customer_id, "file": f"customers/{page.name}.html"})
    finance = finance_page(data, {p["customer_id"]: p["file"] for p in pages})
    text = to_json(finance, indent=2)
    (staging / "index.json").write_text(text + "\n", encoding="utf-8")
    html = render("index.html.j2", page=finance, page_data=embed(text), generated=generated)
    (staging / "index.html").write_text(html, encoding="utf-8")
    _replace(staging, target)
    return Built(target, len(pages))


def refresh_customer_pages(home: Home, warehouse: Reader, *, now: dt.datetime) -> int:
    """What a live micro-batch publishes: the page and feed of each customer whose figures
    changed (its JSON differs from the one written), each file replaced atomically; the
    finance page waits for the nightly. A home without reports yet gets all of them. How
    many customers' pages were rewritten."""
    folder = home.reports / "customers"
    if not (home.reports / "index.html").exists():
        return build_reports(home, warehouse, now=now).customers
    rewritten = 0
    for page in _customer_pages(_read(warehouse), _generated(now)):
        feed = folder / f"{page.name}.json"
        if feed.exists() and feed.read_text(encoding="utf-8") == page.json:
            continue
        write_text_atomically(folder / f"{page.name}.html", page.html)
        write_text_atomically(feed, page.json)  # last: a page whose feed is current is too
        rewritten += 1
    return rewritten


def _generated(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class CustomerPage:
    customer_id: str
    name: str  # the file name, without extension
    json: str
    html: str


def _customer_pages(data: dict[str, pl.DataFrame], generated: str) -> Iterator[CustomerPage]:
    [days] = data["_days"].to_dicts()
    usage = usage_views(
        data["usage"],
        data["plan_metrics"],
        data["customers"].select("customer_id", "currency"),
        since=days["since"],
        as_of=days["as_of"],
    )
    for customer in data["customers"].iter_rows(named=True):
        shown = usage.get(customer["customer_id"], NO_USAGE)
        page = customer_page(data, customer, shown)
        text = page_json(page)
        html = render(
            "customer.html.j2",
            page=page,
            page_data=embed(text),
            usage_rows=shown.rows,
            generated=generated,
            exports="../../exports",
        )
        name = safe_file_name(customer["customer_id"])
        yield CustomerPage(customer["customer_id"], name, text + "\n", html)


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
               sum(credit_revenue) + sum(breakage_revenue) + sum(deferred_to_tax) as from_credits,
               sum(tax_billed) as tax,
               sum(deferred_opening) as deferred_opening, sum(purchases) as purchases,
               sum(deferred_closing) as deferred_closing
        from marts.fct_revenue_monthly
        group by month, currency
        order by month, currency""",
    # Invoices by the month their period starts in (a quarter's under its first month, an
    # anniversary period from the 15th under its month): one row per month and currency.
    "tally": """
        select cast(date_trunc('month', period_start) as date) as period_start, currency,
               count(*) as invoices,
               sum(case when status = 'draft' then 1 else 0 end) as drafts,
               sum(total) as tally_total
        from marts.fct_invoices
        group by 1, currency""",
    "billed": """
        select cast(date_trunc('month', period_start) as date) as period_start, currency,
               count(*) as invoices, sum(total) as billed_total
        from staging.stg_reference__billed_invoices
        group by 1, currency""",
    "findings": """
        select check_name, severity, count(*) as findings
        from marts.fct_billing_mismatches
        group by check_name, severity
        order by findings desc, check_name""",
    "spend": """
        select customer_id, period_start, period_end, currency, spend_to_date, projected_spend,
               credits_remaining, credits_remaining_value, as_of, as_of_at
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
               currency, subtotal, tax, credits_applied, total, due_date
        from marts.fct_invoices
        order by customer_id, period_start""",
    "grants": """
        select g.customer_id, g.grant_id, g.kind, g.granted_at, g.expires_at,
               g.credits + g.rolled_in as credits,
               coalesce(u.used, 0) + g.settled_out as used, g.expired_out
        from intermediate.int_credit_grants as g
        left join (
            select grant_id, -sum(credits) as used from marts.fct_credit_ledger
            where entry_type = 'consumption'
            group by grant_id
        ) as u on g.grant_id = u.grant_id
        order by g.customer_id, g.expires_at nulls last, g.grant_id""",
    "topups": """
        select customer_id, topup_grant_id, period_start, credits, purchase_amount, currency,
               kind
        from marts.fct_credit_topups
        where status = 'draft'
        order by customer_id, topup_grant_id""",
    "plan_metrics": """
        select distinct s.customer_id, ch.metric,
               max(case when ch.model in ('percentage', 'graduated_percentage') then 1 else 0 end)
                   over (partition by s.customer_id, ch.metric) as priced_as_money
        from staging.stg_reference__subscriptions as s
        inner join staging.stg_pricing__charges as ch on s.plan_id = ch.plan_id
        where s.started_at <= :as_of and (s.ended_at is null or s.ended_at > :since)""",
    "notifications": """
        select customer_id, notification_id, period_start, kind, threshold_pct, amount,
               budget, currency, as_of, sent_at
        from marts.fct_spend_notifications
        order by customer_id, sent_at, notification_id""",
}


DATED = ("usage", "plan_metrics")  # the queries that take the days shown


def _read(warehouse: Reader) -> dict[str, pl.DataFrame]:
    """The pages' data. Daily usage covers the current period and the one before (pages stay
    the same size however long the history)."""
    data = {name: warehouse.frame(sql) for name, sql in QUERIES.items() if name not in DATED}
    data["spend"] = data["spend"].with_columns(utc_text(data["spend"]["as_of_at"]))
    as_of = data["spend"]["as_of"].max() or dt.date(1970, 1, 1)
    since = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    data["usage"] = warehouse.frame(QUERIES["usage"], since=since)
    data["plan_metrics"] = warehouse.frame(QUERIES["plan_metrics"], since=since, as_of=as_of)
    data["grants"] = grant_states(data["grants"], data["spend"], as_of)
    data["_days"] = pl.DataFrame({"since": [since], "as_of": [as_of]})
    return data


def utc_text(column: pl.Series) -> pl.Series:
    """Instants as ISO 8601 text in UTC (`2026-10-10T12:00:00Z`), whatever zone the engine
    handed them in (DuckDB: the session's; Spark: none, which is UTC there)."""
    zone = getattr(column.dtype, "time_zone", None)
    utc = column.dt.convert_time_zone("UTC") if zone else column.dt.replace_time_zone("UTC")
    return utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# The money columns of each table, shown in the row's currency's minor units (text, exact).
MONEY = {
    "customers": ("monthly_budget",),
    "revenue": (
        "billed",
        "credit",
        "breakage",
        "recognized",
        "from_credits",
        "deferred_opening",
        "purchases",
        "deferred_closing",
        "tax",
    ),
    "versus": ("tally_total", "billed_total", "difference"),
    "spend": ("spend_to_date", "projected_spend", "credits_remaining_value"),
    "invoices": ("subtotal", "tax", "credits_applied", "total"),
    "notifications": ("amount", "budget"),
    "topups": ("purchase_amount",),
}


def _rows(frame: pl.DataFrame, money: str | None = None) -> list[dict]:
    """A table's rows for a page and its JSON: money as text in its currency's minor units
    (`87.53`, never `87.5300` or `0E-9`); other decimals become plain text when written."""
    rows = frame.to_dicts()
    for column in MONEY.get(money or "", ()):
        for row in rows:
            if row[column] is not None:
                row[column] = amount_text(row[column], row["currency"])
    return rows


def _by_customer(data: dict[str, pl.DataFrame], name: str) -> dict[str, pl.DataFrame]:
    """A table split by customer once (kept in `data`), not filtered once per customer."""
    key = f"_{name}_by_customer"
    if key not in data:
        parts = data[name].partition_by("customer_id", as_dict=True)
        data[key] = {k[0]: v for k, v in parts.items()}  # type: ignore[assignment]
    return data[key]  # type: ignore[return-value]


def grant_states(grants: pl.DataFrame, spend: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Each grant (a recurring grant's instances one by one, with what a rollover carried in)
    as of the last usage day: `expired` (its expiry has passed: nothing remains, what it still
    held shows as `expired_credits`, with what expired at a close beyond a rollover cap), `not yet granted`, `expires before the
    period closes` (it cannot pay the open period, so the page's credits remaining leaves it
    out, as the mart does), or `active`."""
    period_end = spend.select("customer_id", "period_end")
    balance = pl.col("credits") - pl.col("used")
    expired = pl.col("expires_at").is_not_null() & (pl.col("expires_at") <= as_of)
    return (
        grants.join(period_end, on="customer_id", how="left")
        .with_columns(
            pl.when(expired)
            .then(pl.lit("expired"))
            .when(pl.col("granted_at") > as_of)
            .then(pl.lit("not yet granted"))
            .when(pl.col("expires_at") < pl.col("period_end"))
            .then(pl.lit("expires before the period closes"))
            .otherwise(pl.lit("active"))
            .alias("state"),
            pl.when(expired).then(0).otherwise(balance).alias("remaining"),
            (pl.when(expired).then(balance).otherwise(0) + pl.col("expired_out")).alias(
                "expired_credits"
            ),
        )
        .drop("period_end", "used", "expired_out")
    )


def finance_page(data: dict[str, pl.DataFrame], links: dict[str, str]) -> dict:
    """What finance reads. Each period's invoices are set against the billing system of
    record: issued ones for closed months, drafts (labelled so) for open ones, the figures
    `fct_billing_mismatches` compares."""
    tally, billed = data["tally"], data["billed"]
    versus = (
        tally.join(
            billed, on=["period_start", "currency"], how="full", coalesce=True, suffix="_billed"
        )
        .with_columns(
            pl.col("tally_total").fill_null(Decimal(0)),
            pl.col("billed_total").fill_null(Decimal(0)),
            pl.col("invoices").fill_null(0),
            pl.col("drafts").fill_null(0),
            pl.col("invoices_billed").fill_null(0),
        )
        .with_columns(
            (pl.col("tally_total") - pl.col("billed_total")).alias("difference"),
            pl.when(pl.col("invoices") == 0)
            .then(pl.lit("none"))
            .when(pl.col("drafts") == 0)
            .then(pl.lit("issued"))
            .when(pl.col("drafts") == pl.col("invoices"))
            .then(pl.lit("draft"))
            .otherwise(pl.lit("issued and draft"))
            .alias("status"),
        )
        .drop("drafts")
        .sort("period_start", "currency")
    )
    top = (  # per currency: amounts in different currencies are never ranked together
        data["spend"]
        .sort("currency", "spend_to_date", "customer_id", descending=[False, True, False])
        .group_by("currency", maintain_order=True)
        .head(TOP_CUSTOMERS)
        .join(
            data["customers"].select("customer_id", "customer_name"),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("customer_id").replace_strict(links, default=None).alias("page"))
    )
    return {
        "revenue": _rows(data["revenue"], "revenue"),
        "currencies": sorted(
            set(data["revenue"]["currency"].to_list()) | set(versus["currency"].to_list())
        ),
        "issued_vs_billed": _rows(versus, "versus"),
        "findings": _rows(data["findings"]),
        "top_customers": _rows(top, "spend"),
    }


def customer_page(data: dict[str, pl.DataFrame], customer: dict, usage: UsageView) -> dict:
    cid = customer["customer_id"]

    def of(name: str) -> list[dict]:
        return _rows(_by_customer(data, name).get(cid, data[name].clear()), name)

    spend = of("spend")
    invoices = [{**i, "document": safe_file_name(i["invoice_id"])} for i in of("invoices")]
    shown = dict(customer)
    if shown["monthly_budget"] is not None:
        shown["monthly_budget"] = amount_text(shown["monthly_budget"], shown["currency"])
    return {
        "customer": shown,
        "spend": spend[0] if spend else None,
        "usage": usage.json,
        "metrics": usage.metrics,
        "invoices": invoices,
        "grants": of("grants"),
        "topups": of("topups"),
        "notifications": of("notifications"),
    }
