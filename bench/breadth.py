"""Pricing breadth against today's price book (`make bench` does not run it; run it alone):
the nightly scenario and the first load, each on two homes with the same exports, one under
the demo's price book and one where a quarter of the customers each move to two plans that
hold a charge of every kind (a price per group, hourly and daily buckets, recurring sum and unique count,
percentage fees event by event with a free allowance and bounds, weighted_sum, graduated
percentage, tiers in packages, avg, min, latest, charge and plan commitments). The two homes
run interleaved, twice, so that a noisy neighbour hits both alike.

    .venv/bin/python bench/breadth.py                      # nightly (60 days of 300,000)
    .venv/bin/python bench/breadth.py --first-load-events 30000000 --skip-nightly

Targets (issues "pricing breadth, part A" and "part B"): the nightly within 1.25x of today's,
the 30M first load within 1.1x. `--part-b` adds coupons (a charge's, usage's and an amount,
redeemed by every moved customer), taxes (a plan's rate, a charge exempt, a customer's rate), a
plan's credit allocation and a quarterly plan billed in advance.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nightly import deliver, exports_by_day, run_tally  # noqa: E402

from demo.generate import GenerateConfig, generate  # noqa: E402
from lake.home import Home  # noqa: E402

EVERY_KIND = """\
plans:
  - plan_id: every_kind_a
    version: 1
    effective_from: 2020-01-01
    currency: USD
    base_fee: "10.00"
    minimum_commitment: "50"
    maximum_commitment: "100000"
    charges:
      - {charge_id: calls_hourly, metric: api_calls, filter: {status: success}, bucket: hour,
         model: graduated, tiers: [{up_to: 1000, unit_price: "0.001"}, {up_to: null, unit_price: "0.0005"}]}
      - {charge_id: calls_failed, metric: api_calls, filter: {status: [500, 502, 503, 504]},
         aggregation: count, model: package, package_size: 100, package_price: "0.10",
         rounding: down, maximum: "5.00"}
      - {charge_id: tokens_kept, metric: tokens, recurring: true, model: per_unit,
         unit_price: "0.000001", minimum: "1.00"}
      - {charge_id: payment_fees, metric: payments, model: percentage, rate: "0.029",
         fixed_fee: "0.30", free_events: 5, free_amount: "100", per_event_min: "0.50",
         per_event_max: "20.00"}
      - {charge_id: members, metric: logins, aggregation: unique_count, unique_property: user_id,
         recurring: true, model: per_unit, unit_price: "1.00"}
      - {charge_id: storage_days, metric: storage_gb, aggregation: max, bucket: day, model: volume,
         tiers: [{up_to: 100, package_size: 10, package_price: "0.50"},
                 {up_to: null, package_size: 100, package_price: "3.00"}]}
      - {charge_id: attached, metric: attached_gb, aggregation: weighted_sum, recurring: true,
         model: graduated, tiers: [{up_to: 100, unit_price: "0.10"}, {up_to: null, unit_price: "0.08"}]}
  - plan_id: every_kind_b
    version: 1
    effective_from: 2020-01-01
    currency: USD
    charges:
      - {charge_id: calls_pct, metric: api_calls, aggregation: count, model: graduated_percentage,
         tiers: [{up_to: 1000, rate: "0.01", flat_fee: "1.00"}, {up_to: null, rate: "0.005"}],
         group_by: [model],
         group_prices: [{match: {model: large}, model: per_unit, unit_price: "0.002"}]}
      - {charge_id: tokens_avg, metric: tokens, aggregation: avg, model: per_unit,
         unit_price: "0.0001"}
      - {charge_id: payments_min, metric: payments, aggregation: min, model: per_unit,
         unit_price: "0.01"}
      - {charge_id: logins_seen, metric: logins, aggregation: unique_count,
         unique_property: user_id, model: package, package_size: 10, package_price: "1.00"}
      - {charge_id: storage_latest, metric: storage_gb, aggregation: latest, model: per_unit,
         unit_price: "0.02"}
      - {charge_id: attached_latest, metric: attached_gb, aggregation: latest, model: per_unit,
         unit_price: "0.01"}
"""
PLANS = ("every_kind_a", "every_kind_b")
# Pricing breadth part B (`--part-b`): coupons of every kind in their own price-book file,
# taxes (every_kind_a's rate, a charge exempt, every_kind_b's customers at their own rate),
# every_kind_a's monthly credit allocation, every_kind_b billed by calendar quarter with its
# base fee a quarter ahead (the demo's own grants, top-up and annual plan are in both homes).
PART_B = """\
coupons:
  - {coupon_id: calls_off, kind: percentage, percent: "0.10", applies_to: ["charge:calls_hourly"]}
  - {coupon_id: usage_off, kind: percentage, percent: "0.05", applies_to: [usage], duration_months: 2}
  - {coupon_id: welcome, kind: amount, amount: "25.00", currency: USD, duration_months: 1}
"""


def moved_customers(home: Home) -> dict[str, str]:
    """Every fourth customer on a USD plan to every_kind_a, the next to every_kind_b."""
    book = {p["plan_id"]: p["currency"] for p in _plans(home)}
    subs = pl.read_csv(home.landing_reference / "subscriptions.csv", infer_schema=False)
    usd = sorted(set(subs.filter(pl.col("plan_id").replace_strict(book) == "USD")["customer_id"]))
    return {c: PLANS[i // 4 % 2] for i, c in enumerate(usd) if i % 4 == 0}


def _plans(home: Home) -> list[dict]:
    return [
        p
        for f in sorted(home.pricing.glob("*.yaml"))
        for p in yaml.safe_load(f.read_text())["plans"]
    ]


def add_attached_changes(world: Home, moved: dict[str, str]) -> None:
    """A signed metric the generator does not write: each moved customer attaches or detaches
    storage once a day (one CSV in each day's export folder)."""
    usage = world.landing_usage
    folders = sorted(
        {p.parent for p in usage.glob("*/*/*/*") if p.relative_to(usage).parts[0].isdigit()}
    )
    for d, folder in enumerate(folders):
        day = dt.date(*map(int, folder.relative_to(usage).parts))
        rows = [
            (f"att_{d}_{n}", f"{day}T{n % 24:02d}:30:00Z", c, "attached_gb", str(q), "", "")
            for n, c in enumerate(sorted(moved))
            for q in [(10 if (d + n) % 3 else -5)]
        ]
        frame = pl.DataFrame(
            rows,
            schema=[
                "event_id",
                "occurred_at",
                "customer_id",
                "metric",
                "quantity",
                "status",
                "properties",
            ],
            orient="row",
        )
        frame.write_csv(folder / "attached.csv")


def every_kind(home: Home, moved: dict[str, str], part_b: bool = False) -> None:
    """The breadth home: the every-kind plans beside the demo's, the moved customers on them;
    with `part_b`, their coupons (three redeemed by each moved customer) and taxes too."""
    book = EVERY_KIND
    if part_b:
        book = book.replace(
            '    minimum_commitment: "50"\n',
            '    minimum_commitment: "50"\n    tax_rate: "0.2"\n    credit_rate: "0.01"\n'
            '    credit_allocation: {credits: "500", rollover_cap: "100"}\n',
            1,
        )
        book = book.replace(
            "  - plan_id: every_kind_b\n    version: 1\n    effective_from: 2020-01-01\n"
            "    currency: USD\n",
            "  - plan_id: every_kind_b\n    version: 1\n    effective_from: 2020-01-01\n"
            "    currency: USD\n    billing_interval: quarter\n    base_fee_timing: in_advance\n"
            '    base_fee: "90.00"\n',
            1,
        )
        book = book.replace(
            'unit_price: "0.000001", minimum: "1.00"}',
            'unit_price: "0.000001", minimum: "1.00", tax_rate: "0"}',
            1,
        )
        (home.pricing / "coupons.yaml").write_text(PART_B)
        start = min(
            pl.read_csv(home.landing_reference / "subscriptions.csv", infer_schema=False)[
                "started_at"
            ]
        )
        rows = [
            (f"r_{c}_{k}", c, k, start[:10])
            for c in sorted(moved)
            for k in ("calls_off", "usage_off", "welcome")
        ]
        pl.DataFrame(
            rows, schema=["redemption_id", "customer_id", "coupon_id", "redeemed_on"], orient="row"
        ).write_csv(home.landing_reference / "coupon_redemptions.csv")
        customers = home.landing_reference / "customers.csv"
        b_side = sorted(c for c, plan in moved.items() if plan == "every_kind_b")
        pl.read_csv(customers, infer_schema=False).with_columns(
            pl.when(pl.col("customer_id").is_in(b_side))
            .then(pl.lit("0.19"))
            .otherwise(None)
            .alias("tax_rate")
        ).write_csv(customers)
    (home.pricing / "every_kind.yaml").write_text(book)
    path = home.landing_reference / "subscriptions.csv"
    subs = pl.read_csv(path, infer_schema=False)
    subs.with_columns(
        pl.col("customer_id").replace_strict(moved, default=pl.col("plan_id")).alias("plan_id")
    ).write_csv(path)


def billed_kinds(home: Home) -> str:
    """The every-kind charges that billed something, and how many discount lines and taxed
    invoices there are: the comparison is not empty."""
    from warehouse.reading import reading

    charges = {c["charge_id"] for p in yaml.safe_load(EVERY_KIND)["plans"] for c in p["charges"]}
    with reading(home) as warehouse:
        rows = warehouse.rows(
            "select distinct charge_id from marts.fct_invoice_lines "
            "where line_type = 'usage' and amount > 0"
        )
        [(discounts, taxed)] = warehouse.rows(
            "select (select count(*) from marts.fct_invoice_lines where line_type = 'discount'), "
            "(select count(*) from marts.fct_invoices where tax > 0)"
        )
    billed = ", ".join(sorted(c for (c,) in rows if c in charges)) or "none"
    return f"{billed}; {discounts} discount lines, {taxed} taxed invoices"


def nightly_pair(args, root: Path) -> list[tuple[str, str, float, float]]:
    world = Home.at(root / "world")
    start = dt.date(2026, 8, 1)
    cfg = GenerateConfig(
        customers=args.nightly_customers,
        days=args.nightly_days,
        events_per_day=args.nightly_events_per_day,
        start=start,
    )
    truth = generate(world, cfg)
    moved = moved_customers(world)
    add_attached_changes(world, moved)
    print(f"nightly world: {truth.events:,} events, {len(moved)} customers moved", flush=True)
    days = exports_by_day(world)
    last = start + dt.timedelta(days=len(days) - 1)
    homes = {}
    out = []
    for kind in ("today", "breadth"):
        home = Home.at(root / kind)
        deliver(world, home, [f for d in days[:-1] for f in d])
        if kind == "breadth":
            every_kind(home, moved, args.part_b)
        homes[kind] = home
    for kind, home in homes.items():
        day = str(last - dt.timedelta(days=1))
        m = run_tally("run", "--home", str(home.root), "--from", day, "--to", day)
        out.append(("first load of history", kind, m.seconds, m.peak_gib))
        print(out[-1], flush=True)
        if kind == "breadth":
            print(f"  billed: {billed_kinds(home)}", flush=True)
        run_tally("close", "--home", str(home.root), "--month", f"{start:%Y-%m}")
    for rep in (1, 2):
        for kind, home in homes.items():
            copy = Home.at(root / f"{kind}-night")
            shutil.copytree(home.root, copy.root, symlinks=True)
            deliver(world, copy, days[-1])
            m = run_tally("run", "--home", str(copy.root), "--from", str(last), "--to", str(last))
            out.append((f"nightly, run {rep}", kind, m.seconds, m.peak_gib))
            print(out[-1], flush=True)
            shutil.rmtree(copy.root)
    return out


def first_load_pair(args, root: Path) -> list[tuple[str, str, float, float]]:
    world = Home.at(root / "first-load-world")
    start = dt.date(2026, 9, 1)
    cfg = GenerateConfig(
        customers=args.customers,
        days=args.days,
        events_per_day=args.first_load_events // args.days,
        start=start,
    )
    truth = generate(world, cfg)
    moved = moved_customers(world)
    add_attached_changes(world, moved)
    print(f"first-load world: {truth.events:,} events, {len(moved)} customers moved", flush=True)
    end = start + dt.timedelta(days=args.days - 1)
    out = []
    for rep in (1, 2):
        for kind in ("today", "breadth"):
            home = Home.at(root / f"first-load-{kind}")
            shutil.copytree(world.root / "landing", home.root / "landing")
            shutil.copytree(world.root / "pricing", home.root / "pricing")
            if kind == "breadth":
                every_kind(home, moved, args.part_b)
            m = run_tally("run", "--home", str(home.root), "--from", str(start), "--to", str(end))
            out.append((f"first load, run {rep}", kind, m.seconds, m.peak_gib))
            print(out[-1], flush=True)
            shutil.rmtree(home.root)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nightly-days", type=int, default=60)
    parser.add_argument("--nightly-events-per-day", type=int, default=300_000)
    parser.add_argument("--nightly-customers", type=int, default=2000)
    parser.add_argument("--skip-nightly", action="store_true")
    parser.add_argument("--first-load-events", type=int, default=0, help="0: no first load")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--part-b", action="store_true", help="add coupons and taxes (pricing breadth, part B)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tally-bench-breadth-"))
    rows = []
    try:
        if not args.skip_nightly:
            rows += nightly_pair(args, root)
        if args.first_load_events:
            rows += first_load_pair(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{'run':<26}{'price book':<10}{'seconds':>9}  {'peak GiB':>8}")
    for name, kind, seconds, peak in rows:
        print(f"{name:<26}{kind:<10}{seconds:9.1f}  {peak:8.2f}")
    by = {(n, k): s for n, k, s, _ in rows}
    for name in dict.fromkeys(n for n, _, _, _ in rows):
        print(f"{name}: breadth / today = {by[(name, 'breadth')] / by[(name, 'today')]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
