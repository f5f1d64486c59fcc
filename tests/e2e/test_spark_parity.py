"""The same models on Spark: one home, run and closed on Spark, then built on DuckDB, gives the
same marts to the cent and row for row, and `tally query` answers the same on both.

The world is small (a few plans, prepaid and promotional credits, USD and EUR, faulty and
duplicated exports): Spark's cost is per model, not per row. September is closed on Spark, so
the invoices DuckDB builds on were issued by Spark's rating: a cent of difference there would
show as an adjustment on DuckDB.

Here Spark runs everything in one run and closes September. test_spark_history.py runs the
same tests on the same world arriving night by night (each module on its own worker in
`make test-spark`). DuckDB builds everything in one run.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml
from worlds import Built, Ran, World, tally

from cli.main import main
from demo.generate import GenerateConfig, generate
from lake.home import Home
from warehouse.dbt import DBT_PROJECT_DIR, run_profile
from warehouse.reading import reading

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java: `make spark`"),
]

START = dt.date(2026, 9, 1)
SEPTEMBER_END = "2026-09-30"
OCTOBER = "2026-10-01"
LAST = "2026-10-12"
MARTS = (
    "fct_usage_daily",
    "fct_invoice_lines",
    "fct_invoice_items",
    "fct_invoices",
    "fct_invoice_adjustments",
    "fct_credit_ledger",
    "fct_credit_topups",
    "fct_revenue_monthly",
    "fct_billing_mismatches",
    "mart_customer_spend",
    "fct_ingested_files",
    "fct_quarantined_events",
    "fct_spend_notifications",
)
# Not figures: what each engine's models were rated with (a digest each engine computes its
# own way, to tell which periods to re-rate on that engine), and when a build found a finding.
NOT_COMPARED = {"rated_with", "detected_at"}


CONFIG = GenerateConfig(customers=10, days=42, events_per_day=250, start=START, seed=11)


def _october_exports(home: Home) -> list[Path]:
    """October's usage folder and the re-delivered copies: what arrives after September."""
    usage = home.landing_usage
    return [p for p in (usage / "2026" / "10", usage / "redelivered") if p.exists()]


ONE_RUN = {
    "spark run": ["run", "--engine", "spark", "--from", START.isoformat(), "--to", LAST],
    "spark close": ["close", "--engine", "spark", "--month", "2026-09"],
}
NIGHT_BY_NIGHT = {
    "spark run": ["run", "--engine", "spark", "--from", START.isoformat(), "--to", SEPTEMBER_END],
    "spark close": ["close", "--engine", "spark", "--month", "2026-09"],
    "spark run october": ["run", "--engine", "spark", "--from", OCTOBER, "--to", LAST],
}
DUCKDB = {"duckdb run": ["run", "--engine", "duckdb", "--from", START.isoformat(), "--to", LAST]}


# Plans with a charge of every kind the price book gained (tiers at a rate and in packages,
# packages rounded down, avg and min, a charge's minimum and maximum, the plan's spend cap),
# on the world's own metrics: a starter customer moves to
# breadth_a and a bulk customer to breadth_b, so both engines rate them from real usage.
BREADTH = """\
plans:
  - plan_id: breadth_a
    version: 1
    effective_from: 2026-01-01
    currency: USD
    maximum_commitment: "5.00"
    tax_rate: "0.068254"
    charges:
      - charge_id: api_calls
        metric: api_calls
        aggregation: count
        model: volume
        tiers:
          - {up_to: 1000, package_size: 100, package_price: "0.50"}
          - {up_to: null, package_size: 1000, package_price: "3.00"}
      - charge_id: tokens
        metric: tokens
        group_by: [model]
        model: graduated
        tiers:
          - {up_to: 100000, package_size: 10000, package_price: "0.02"}
          - {up_to: null, package_size: 100000, package_price: "0.15", flat_fee: "1.00"}
        group_prices:
          - match: {model: large}
            model: volume
            tiers: [{up_to: 50000, unit_price: "0.00001"}, {up_to: null, unit_price: "0.000008"}]
      - charge_id: card_fees
        metric: payments
        filter: {status: success}
        model: graduated_percentage
        tax_rate: "0"
        tiers:
          - {up_to: 1000, rate: "0.02", flat_fee: "1.00"}
          - {up_to: null, rate: "0.0125"}
      - {charge_id: avg_storage, metric: storage_gb, aggregation: avg, model: per_unit,
         unit_price: "0.05", minimum: "1000.00"}
      - {charge_id: volumes, metric: attached_gb, aggregation: weighted_sum, recurring: true,
         model: graduated,
         tiers: [{up_to: 100, unit_price: "0.10"}, {up_to: null, unit_price: "0.08"}]}
  - plan_id: breadth_b
    version: 1
    effective_from: 2026-01-01
    currency: USD
    credit_rate: "0.01"
    credit_allocation: {credits: "250", rollover_cap: "100", priority: 0}
    charges:
      - {charge_id: api_calls, metric: api_calls, aggregation: count, model: package,
         package_size: 500, package_price: "0.40", rounding: down, maximum: "0.40"}
      - {charge_id: min_storage, metric: storage_gb, aggregation: min, model: per_unit,
         unit_price: "0.07"}
      - {charge_id: tokens_kept, metric: tokens, recurring: true, model: per_unit,
         unit_price: "0.000001"}
      - {charge_id: members, metric: members, aggregation: unique_count, unique_property: user,
         recurring: true, model: per_unit, unit_price: "2.00"}
      - {charge_id: pay_fees, metric: payments, model: percentage, rate: "0.02",
         fixed_fee: "0.30", free_events: 2, free_amount: "50", per_event_min: "0.50",
         per_event_max: "5.00"}
      - {charge_id: gpu_days, metric: gpus, aggregation: max, bucket: day, model: volume,
         tiers: [{up_to: 10, unit_price: "0.10"}, {up_to: null, unit_price: "0.05"}]}
      - {charge_id: gpu_hours, metric: gpus_hourly, aggregation: sum, bucket: hour,
         model: graduated, tiers: [{up_to: 10, unit_price: "0.30"}, {up_to: null, unit_price: "0.20"}]}
  - plan_id: quarter_c              # calendar quarters: tiers and the minimum per quarter,
    version: 1                      # the base fee a quarter ahead
    effective_from: 2026-01-01
    currency: USD
    billing_interval: quarter
    base_fee_timing: in_advance
    base_fee: "299.00"
    minimum_commitment: "400.00"
    charges:
      - charge_id: api_calls
        metric: api_calls
        aggregation: count
        model: graduated
        tiers: [{up_to: 5000, unit_price: "0.001"}, {up_to: null, unit_price: "0.0005"}]
  - plan_id: quarter_m              # calendar quarters, usage invoiced month by month: the
    version: 1                      # fee and the plan's cap per quarter
    effective_from: 2026-01-01
    currency: USD
    billing_interval: quarter
    usage_invoicing: monthly
    base_fee: "90.00"
    maximum_commitment: "0.03"
    charges:
      - charge_id: api_calls
        metric: api_calls
        aggregation: count
        model: graduated
        tiers: [{up_to: 100, unit_price: "0.002"}, {up_to: null, unit_price: "0.001"}]
  - plan_id: anniv_c                # months from the 12th (anniversary)
    version: 1
    effective_from: 2026-01-01
    currency: USD
    billing_anchor: subscription
    base_fee: "31.00"
    charges:
      - {charge_id: api_calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.002"}
      - {charge_id: tokens, metric: tokens, model: per_unit, unit_price: "0.0000013"}
coupons:
  - {coupon_id: usage15, kind: percentage, percent: "0.15", applies_to: [usage]}
  - {coupon_id: tokens10, kind: percentage, percent: "0.10", applies_to: ["charge:tokens_kept"]}
  - {coupon_id: off5, kind: amount, amount: "5.00", currency: USD, duration_months: 1}
"""
# Events of the breadth_b customer across the months: members added and removed
# (operation_type remove; September ends with u2, October with u3 and u1 again), GPUs read per
# day and per hour (buckets).
BREADTH_B_EVENTS = [
    ("2026-09-03T10:00:00Z", "members", "1", {"user": "u1"}),
    ("2026-09-05T11:00:00Z", "members", "1", {"user": "u2"}),
    ("2026-09-20T23:59:59Z", "members", "1", {"user": "u1", "operation_type": "remove"}),
    ("2026-10-04T08:00:00Z", "members", "1", {"user": "u3"}),
    ("2026-10-06T00:00:00Z", "members", "1", {"user": "u2", "operation_type": "remove"}),
    ("2026-10-07T00:00:00Z", "members", "1", {"user": "u1", "operation_type": "add"}),
    ("2026-09-02T10:05:00Z", "gpus", "4", {}),
    ("2026-09-02T10:55:00Z", "gpus", "9.5", {}),
    ("2026-09-03T12:00:00Z", "gpus", "15", {}),
    ("2026-10-02T08:00:00Z", "gpus", "12", {}),
    ("2026-09-04T10:05:00Z", "gpus_hourly", "4", {}),
    ("2026-09-04T10:55:00Z", "gpus_hourly", "9", {}),
    ("2026-09-04T11:00:00Z", "gpus_hourly", "10.25", {}),
    ("2026-10-03T05:30:00Z", "gpus_hourly", "7", {}),
    ("2026-09-06T10:00:00Z", "payments", "20.00", {}),
    ("2026-09-06T11:00:00Z", "payments", "45.50", {}),
    ("2026-09-07T00:00:00Z", "payments", "300", {}),
    ("2026-10-03T00:00:00Z", "payments", "12.34", {}),
]


def _with_breadth(home: Home) -> None:
    """The breadth plans in the price book, and a customer on each; volumes attached and
    detached (a signed metric) for the breadth_a customer, at instants inside days, with a
    level that goes below zero in October."""
    (home.pricing / "breadth.yaml").write_text(BREADTH, encoding="utf-8")
    path = home.landing_reference / "subscriptions.csv"
    subscriptions = pl.read_csv(path, infer_schema=False)
    moved = {}
    for old, new in (("starter", "breadth_a"), ("bulk", "breadth_b")):
        first = subscriptions.filter(pl.col("plan_id") == old)["subscription_id"][0]
        moved[first] = new
    [customer] = subscriptions.filter(pl.col("subscription_id") == next(iter(moved)))[
        "customer_id"
    ].to_list()
    changes = [
        ("2026-09-01T00:00:00Z", "120"),
        ("2026-09-10T13:45:07.5Z", "-20.5"),
        ("2026-09-20T23:59:59Z", "35.25"),
        ("2026-10-02T06:00:00Z", "-200"),
    ]
    rows = [f"vol-{n},{at},{customer},attached_gb,{q},," for n, (at, q) in enumerate(changes)]
    volumes = home.landing_usage / "volumes" / "attached.csv"
    volumes.parent.mkdir(parents=True)
    volumes.write_text(
        "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
        + "\n".join(rows)
        + "\n",
        encoding="utf-8",
    )
    [member] = subscriptions.filter(pl.col("subscription_id") == list(moved)[1])[
        "customer_id"
    ].to_list()
    for month, folder in (("2026-09", "breadth_b"), ("2026-10", "2026/10")):
        (home.landing_usage / folder).mkdir(parents=True, exist_ok=True)
        rows = [(n, *e) for n, e in enumerate(BREADTH_B_EVENTS) if e[0].startswith(month)]
        pl.DataFrame(
            {
                "event_id": [f"b-{r[0]}" for r in rows],
                "occurred_at": [r[1] for r in rows],
                "customer_id": member,
                "metric": [r[2] for r in rows],
                "quantity": [r[3] for r in rows],
                "properties": [json.dumps(r[4]) if r[4] else "" for r in rows],
            }
        ).write_csv(home.landing_usage / folder / "breadth_b.csv")
    # Cadences: the second growth customer on calendar quarters, its fee in advance (Q3
    # issued by September's close with Q4's fee; ended 15 November, Q4 credits its unused
    # days), the second scale customer on months from 12 September (its usage before is
    # outside any subscription).
    [quarterly, anniversary] = [
        subscriptions.filter(pl.col("plan_id") == old)["subscription_id"][1]
        for old in ("growth", "scale")
    ]
    # The outcome customer's usage is invoiced monthly inside calendar quarters.
    monthly = subscriptions.filter(pl.col("plan_id") == "outcome")["subscription_id"][0]
    moved |= {quarterly: "quarter_c", anniversary: "anniv_c", monthly: "quarter_m"}
    subscriptions = subscriptions.with_columns(
        pl.col("subscription_id").replace_strict(moved, default=pl.col("plan_id")).alias("plan_id"),
        pl.when(pl.col("subscription_id") == anniversary)
        .then(pl.lit("2026-09-12"))
        .otherwise(pl.col("started_at"))
        .alias("started_at"),
        pl.when(pl.col("subscription_id") == quarterly)
        .then(pl.lit("2026-11-15"))
        .otherwise(pl.col("ended_at"))
        .alias("ended_at"),
    )
    subscriptions.write_csv(path)
    # Coupons: the breadth_a customer's from September on (on what its plan's cap leaves); the
    # breadth_b customer's two in October, the charge-limited one first, then the amount.
    (home.landing_reference / "coupon_redemptions.csv").write_text(
        "redemption_id,customer_id,coupon_id,redeemed_on\n"
        f"r1,{customer},usage15,2026-09-05\nr2,{member},off5,2026-10-01\n"
        f"r3,{member},tokens10,2026-10-02\n",
        encoding="utf-8",
    )
    # Grants limited to what they may pay: the breadth_b customer's members grant first, then
    # one for two charges, then one for anything (largest item first), in both months.
    grants = home.landing_reference / "credit_grants.csv"
    # And a monthly grant for members, bought, kept up to 500 credits: September's close
    # carries 500 into October's instance and lets the rest expire as breakage.
    limited = pl.DataFrame(
        {
            "grant_id": ["g_members", "g_gpus", "g_any", "g_monthly"],
            "customer_id": member,
            "granted_at": "2026-09-01",
            "credits": ["300", "150", "100000", "100000"],
            "kind": ["promotional", "purchased", "purchased", "purchased"],
            "purchase_amount": ["0", "1.20", "800.00", "700.00"],
            "priority": ["1", "2", "3", "0"],
            "applies_to": [
                "charge:members",
                "charge:gpu_days;charge:gpu_hours",
                None,
                "charge:members",
            ],
            "recurrence": [None, None, None, "monthly"],
            "rollover_cap": [None, None, None, "500"],
        }
    )
    pl.concat([pl.read_csv(grants, infer_schema=False), limited], how="diagonal").write_csv(grants)
    # A top-up rule for the breadth_b customer: September starts 100 credits above its threshold
    # (200,450 granted and 250 allocated), so the first draw stops there, then every 700.
    (home.landing_reference / "credit_topups.csv").write_text(
        "topup_id,customer_id,threshold_credits,topup_credits,price_per_credit,priority,"
        f"max_per_period\nt_member,{member},200600,700,0.0125,0,3\n",
        encoding="utf-8",
    )
    # Taxes: breadth_a's plan rate (card_fees exempt), and the breadth_b customer's own rate.
    customers = home.landing_reference / "customers.csv"
    pl.read_csv(customers, infer_schema=False).with_columns(
        pl.when(pl.col("customer_id") == member)
        .then(pl.lit("0.19"))
        .otherwise(None)
        .alias("tax_rate")
    ).write_csv(customers)


def _build(home: Home, history: tuple) -> dict:
    """Run and close on Spark (`history`: its commands), then build the same home on DuckDB in
    one run; each command's exit status and output. October's exports wait outside the home
    until the command that first reads them."""
    generate(home, CONFIG)
    _with_breadth(home)
    commands = {**dict(history), **DUCKDB}
    night_by_night = "spark run october" in commands
    held = home.root.parent / "october"
    october = {path: held / path.name for path in _october_exports(home)}
    assert october, "the world has October exports"
    if night_by_night:
        held.mkdir()
        for landed, aside in october.items():
            shutil.move(landed, aside)
    ran = {}
    for name, (command, *args) in commands.items():
        if name == "spark run october":
            for landed, aside in october.items():
                shutil.move(aside, landed)
        ran[name] = tally(home, command, *args)
    return {"commands": ran}


def _history(commands: dict) -> tuple:
    return tuple((name, tuple(args)) for name, args in commands.items())


ONCE = World("spark-once", _build, _history(ONE_RUN))
NIGHTS = World("spark-nights", _build, _history(NIGHT_BY_NIGHT))


@dataclass(frozen=True)
class Parity:
    home: Home  # read only: a test that writes takes a copy
    commands: dict[str, Ran]  # each command, Spark's first, then DuckDB's run


def built_parity(worlds, world: World) -> Parity:
    built = worlds.get(world)
    return Parity(built.home, built.facts["commands"])


@pytest.fixture(scope="module")
def parity(worlds) -> Parity:
    return built_parity(worlds, ONCE)


def _marts(home: Home) -> dict[str, pl.DataFrame]:
    with reading(home) as warehouse:
        return {m: warehouse.frame(f"select * from marts.{m}") for m in MARTS}


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.select(sorted(set(frame.columns) - NOT_COMPARED))
    return frame.sort(frame.columns, nulls_last=True)


def _kinds(frame: pl.DataFrame) -> dict[str, str]:
    """Column types as a reader sees them; instants compare by being UTC instants."""
    kinds = {}
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            kinds[name] = f"instant[{dtype.time_unit}]" if dtype.time_zone else "naive!"
        else:
            kinds[name] = str(dtype)
    return kinds


def test_every_command_succeeds_on_both_engines(parity):
    commands = parity.commands
    # The world's billing-system export has deliberate slips: warnings, never failures.
    spark = [name for name in commands if name.startswith("spark")]
    for name in spark:
        assert commands[name].status in (0, 3), commands[name].output[-3000:]
    assert commands["duckdb run"].status == commands[spark[-1]].status


def test_spark_and_duckdb_build_the_same_marts_row_for_row(parity):
    home = parity.home
    spark = _marts(Home.at(home.root, "spark"))
    duckdb = _marts(Home.at(home.root, "duckdb"))
    assert spark["fct_invoices"].filter(pl.col("status") == "issued").height > 0
    assert spark["fct_invoices"].filter(pl.col("status") == "draft").height > 0
    assert spark["fct_credit_ledger"]["entry_type"].unique().sort().to_list() == [
        "consumption",
        "expiry",
        "grant",
        "rollover",
    ]
    assert "g_monthly@2026-10-01" in spark["fct_credit_ledger"]["grant_id"].to_list()
    # the cadences: Q3 issued by September's close, Q4 open; months from the 12th
    periods = spark["fct_invoices"].filter(pl.col("customer_id").is_in(["cus_0008", "cus_0009"]))
    assert {
        ("INV-2026-07-cus_0008", dt.date(2026, 10, 1), "issued"),
        ("INV-2026-09-12-cus_0009", dt.date(2026, 10, 12), "draft"),
        ("INV-2026-10-cus_0008", dt.date(2027, 1, 1), "draft"),
    } <= set(periods.select("invoice_id", "period_end", "status").iter_rows())
    fees = spark["fct_invoice_lines"].filter(
        (pl.col("customer_id") == "cus_0008") & (pl.col("line_type") == "base_fee")
    )
    # usage invoiced monthly: September (Q3's last month: Q3's fee) issued,
    # October open; the plan's cap on each month that crosses it
    monthly = spark["fct_invoice_lines"].filter(pl.col("customer_id") == "cus_0005")
    kinds = set(monthly.select("invoice_id", "line_type").iter_rows())
    assert {
        ("INV-2026-09-cus_0005", "base_fee"),
        ("INV-2026-09-cus_0005", "spend_cap"),
        ("INV-2026-10-cus_0005", "spend_cap"),
    } <= kinds
    assert ("INV-2026-10-cus_0005", "base_fee") not in kinds
    rows = set(fees.select("invoice_id", "service_period_start", "quantity").iter_rows())
    assert ("INV-2026-07-cus_0008", dt.date(2026, 10, 1), Decimal(92)) in rows  # Q4, ahead
    # Q4's unused 47 days credited, and no fee for Q1 (the subscription has ended)
    assert {r for r in rows if r[0] == "INV-2026-10-cus_0008"} == {
        ("INV-2026-10-cus_0008", dt.date(2026, 11, 15), Decimal(-47))
    }
    topups = spark["fct_credit_topups"]
    assert sorted(set(topups.select("status", "period_start").iter_rows())) == [
        ("draft", dt.date(2026, 10, 1)),
        ("issued", START),
    ]
    assert set(topups["purchase_amount"].to_list()) == {Decimal("8.75")}
    assert "topup" in spark["fct_credit_ledger"]["source"].to_list()
    allocated = spark["fct_credit_ledger"].filter(pl.col("source") == "allocation")
    assert set(allocated["entry_type"].to_list()) >= {"grant", "consumption"}
    # The purchased monthly grant's rollover moved deferred revenue between its instances and
    # its expiry broke the rest: deferred revenue still rolls forward.
    checks = set(spark["fct_billing_mismatches"]["check_name"].to_list())
    assert "deferred_roll_forward_broken" not in checks
    # The breadth plans were rated (their levels priced), and below, the same on both.
    levels = spark["fct_invoice_lines"].filter(
        pl.col("charge_id").is_in(["avg_storage", "min_storage"]) & (pl.col("amount") > 0)
    )
    assert sorted(set(levels["charge_id"])) == ["avg_storage", "min_storage"]
    # The volumes' level is billed in September and goes below zero in October (a warning).
    volumes = spark["fct_invoice_lines"].filter(pl.col("charge_id") == "volumes")
    assert volumes.filter(pl.col("period_start") == START)["amount"].to_list() != [0]
    negative = spark["fct_billing_mismatches"].filter(pl.col("check_name") == "negative_level")
    assert negative["subject"].to_list() == ["volumes"]
    # Recurring members, added and removed: September ends with u2, October with u3 and u1.
    members = (
        spark["fct_invoice_lines"].filter(pl.col("charge_id") == "members").sort("period_start")
    )
    assert members["quantity"].to_list() == [1, 2]
    # Tokens priced per model: a line per group, the large model at its own price.
    groups = spark["fct_invoice_lines"].filter(
        (pl.col("charge_id") == "tokens") & pl.col("group_key").is_not_null()
    )
    assert groups["group_key"].n_unique() >= 2
    # Percentage fees event by event (free allowance, bounds) in both months.
    fees = spark["fct_invoice_lines"].filter(pl.col("charge_id") == "pay_fees")
    assert fees.height == 2 and (fees["amount"] > 0).all()
    # Buckets by the day and by the hour priced something.
    bucketed = spark["fct_invoice_lines"].filter(
        pl.col("charge_id").is_in(["gpu_days", "gpu_hours"]) & (pl.col("period_start") == START)
    )
    # Days: maxima 9.5 and 15 at volume tiers: 0.95 + 0.75 = 1.70; hours: sums 13 and 10.25
    # through the tiers: (3.00 + 0.60) + 3.00 + 0.05 = 6.65 (hand-worked).
    assert sorted(bucketed.select("charge_id", "amount").iter_rows()) == [
        ("gpu_days", Decimal("1.70")),
        ("gpu_hours", Decimal("6.65")),
    ]
    # breadth_a's minimum of 1,000.00 on avg_storage binds, and its plan cap of 5.00 then too.
    commitments = spark["fct_invoice_lines"].filter(
        pl.col("line_type").is_in(["minimum_true_up", "spend_cap"])
    )
    assert {("minimum_true_up", "avg_storage"), ("spend_cap", None)} <= set(
        commitments.select("line_type", "charge_id").iter_rows()
    )
    # Coupons in order, on both engines: each breadth customer's invoices have discount lines.
    discounts = spark["fct_invoice_lines"].filter(pl.col("line_type") == "discount")
    assert set(discounts["coupon_id"].to_list()) == {"usage15", "tokens10", "off5"}
    assert (discounts["amount"] < 0).all()
    # The limited grants pay their items in both months (close on Spark, drafts on both).
    paid = spark["fct_invoice_items"].filter(pl.col("credits_applied") > 0)
    assert "charge:members" in paid["item"].to_list()
    assert {"charge:gpu_days", "charge:gpu_hours"} & set(paid["item"].to_list())
    assert set(paid["period_start"].to_list()) == {START, dt.date(2026, 10, 1)}
    # Both breadth customers are taxed, item by item.
    taxed = spark["fct_invoice_items"].filter(pl.col("tax") > 0)
    assert set(taxed["tax_rate"].to_list()) == {Decimal("0.068254"), Decimal("0.19")}
    for mart in MARTS:
        assert _kinds(spark[mart]) == _kinds(duckdb[mart]), mart
        assert _comparable(spark[mart]).equals(_comparable(duckdb[mart])), mart
    # Issued on Spark, rebuilt on DuckDB: no cent of difference became an adjustment.
    assert duckdb["fct_invoice_adjustments"].height == 0


def test_money_keeps_its_decimals_on_both_engines(parity):
    home = parity.home
    for engine in ("spark", "duckdb"):
        with reading(Home.at(home.root, engine)) as warehouse:
            lines = warehouse.frame("select amount, quantity from marts.fct_invoice_lines")
        assert lines.schema["amount"] == pl.Decimal(38, 4), engine
        assert lines.schema["quantity"] == pl.Decimal(38, 9), engine


def test_tally_query_answers_the_same_on_both_engines(parity, capsys):
    home = parity.home
    sql = (
        "select currency, status, count(*) as invoices, sum(total) as total "
        "from marts.fct_invoices group by currency, status order by currency, status"
    )
    answers = {}
    for engine in ("spark", "duckdb"):
        capsys.readouterr()
        assert main(["query", "--home", str(home.root), "--engine", engine, sql]) == 0
        answers[engine] = capsys.readouterr().out
    assert answers["spark"] == answers["duckdb"]
    assert "USD" in answers["spark"] and "issued" in answers["spark"]


def test_simulate_reads_the_same_current_invoices_on_both_engines(parity, capsys):
    home = parity.home
    answers = {}
    for engine in ("spark", "duckdb"):
        capsys.readouterr()
        args = ["simulate", "--home", str(home.root), "--engine", engine]
        assert main([*args, "--price-book", str(home.pricing), "--month", "2026-10"]) == 0
        answers[engine] = capsys.readouterr().out
    assert answers["spark"] == answers["duckdb"]
    assert "cus_0001" in answers["spark"]


def test_the_summary_reads_the_same_figures_on_both_engines(parity):
    def figures(out: str) -> list[str]:  # the totals (what each run ingested differs)
        return out[out.index("  to date") :].splitlines()

    commands = parity.commands
    last_on_spark = [name for name in commands if name.startswith("spark")][-1]
    assert figures(commands[last_on_spark].output) == figures(commands["duckdb run"].output)


def test_the_rating_unit_tests_pass_on_spark(parity, tmp_path):
    """The dbt unit tests of the invoice lines (packages at zero and exact multiples, half
    cents, tiny prices, each pricing model at its boundaries, proration, zero-decimal
    currencies) on Spark; tests/dbt runs every unit test on DuckDB. Only these: each costs
    seconds on Spark. What passed is read from dbt's run_results.json."""
    spark = Home.at(parity.home.root, "spark")
    profile = run_profile(spark, spark.warehouse_folder, "3GB")
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run(
        [str(dbt), "--no-use-colors", "test", "--select", "int_invoice_lines_rated,test_type:unit"]
        + ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(tmp_path)]
        + ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env={**os.environ, "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    units = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_")}
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    declared = [
        k for k, u in manifest["unit_tests"].items() if u["model"] == "int_invoice_lines_rated"
    ]
    assert sorted(units) == sorted(declared) and len(declared) >= 4
    assert set(units.values()) == {"pass"}


def test_tally_report_builds_the_same_pages_on_both_engines(parity, tmp_path):
    # A copy (`report` rewrites reports/): its Spark catalog still names the world's tables,
    # which the report only reads.
    home = Built(parity.home, {}).copy(tmp_path).home
    pages = {}
    for engine in ("spark", "duckdb"):
        assert main(["report", "--home", str(home.root), "--engine", engine]) == 0
        reports = home.reports
        pages[engine] = {
            p.relative_to(reports).as_posix(): p.read_text()
            for p in reports.rglob("*.json")  # the pages' data (the HTML adds the build time)
        }
    assert len(pages["duckdb"]) == 11  # the finance page and ten customers
    assert pages["spark"] == pages["duckdb"]
