"""Hand-written usage rated through the CLI (`tally run`, then `tally close`).

Every pricing model, aggregation, filter, proration and rounding case of SPEC 3 on a handful of
events whose invoices were worked out by hand (the arithmetic is in the comments). The run uses
a far-from-UTC local time zone: billing days and periods are UTC whatever the machine says.
"""

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from transforms.home import Home

pytestmark = pytest.mark.e2e

PRICE_BOOK = """\
plans:
  - plan_id: unit                   # per_unit with free units, count aggregation
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.01", free_units: 2}
  - plan_id: unit                   # from October only: September stays on version 1
    version: 2
    effective_from: 2026-10-01
    currency: USD
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.02", free_units: 2}

  - plan_id: grad                   # superseded before September
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - {charge_id: tokens, metric: tokens, model: per_unit, unit_price: "1.00"}
  - plan_id: grad                   # graduated with flat fees, sum of fractional quantities
    version: 2
    effective_from: 2026-09-01
    currency: USD
    charges:
      - charge_id: tokens
        metric: tokens
        aggregation: sum
        model: graduated
        tiers:
          - {up_to: 10, unit_price: "0.10", flat_fee: "1.00"}
          - {up_to: null, unit_price: "0.05", flat_fee: "2.00"}
  - plan_id: grad                   # effective mid-September: first rates October
    version: 3
    effective_from: 2026-09-15
    currency: USD
    charges:
      - charge_id: tokens
        metric: tokens
        aggregation: sum
        model: graduated
        tiers:
          - {up_to: 10, unit_price: "0.20"}
          - {up_to: null, unit_price: "0.10"}

  - plan_id: vol                    # volume on the month's maximum reading
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - charge_id: peak
        metric: storage_gb
        aggregation: max
        model: volume
        tiers:
          - {up_to: 100, unit_price: "0.50"}
          - {up_to: null, unit_price: "0.40", flat_fee: "5"}

  - plan_id: pkg                    # packages of distinct users, prorated base fee
    version: 1
    effective_from: 2026-01-01
    currency: USD
    base_fee: "30.00"
    charges:
      - {charge_id: mau, metric: logins, aggregation: unique_count, unique_property: user_id,
         model: package, package_size: 2, package_price: "3.00", free_units: 1}

  - plan_id: pct                    # percentage of settled payments, minimum commitment
    version: 1
    effective_from: 2026-01-01
    currency: USD
    minimum_commitment: "10.00"
    charges:
      - {charge_id: payments, metric: payments, filter: {status: success}, model: percentage,
         rate: "0.029", fixed_fee: "0.30"}

  - plan_id: last_eur               # latest reading, filtered on a property, in euros
    version: 1
    effective_from: 2026-01-01
    currency: EUR
    charges:
      - {charge_id: eu_storage, metric: storage_gb, aggregation: latest,
         filter: {properties: {region: [eu]}}, model: per_unit, unit_price: "0.10"}

  - plan_id: yen                    # a currency without minor units
    version: 1
    effective_from: 2026-01-01
    currency: JPY
    base_fee: "1000"
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: sum, model: per_unit,
         unit_price: "0.5"}
"""

CUSTOMERS = {
    "c_unit": "USD",
    "c_grad": "USD",
    "c_vol": "USD",
    "c_pkg": "USD",
    "c_pct": "USD",
    "c_last": "EUR",
    "c_jpy": "JPY",
    "c_change": "USD",
}

SUBSCRIPTIONS = [
    ("s_unit", "c_unit", "unit", "2026-09-01", ""),
    ("s_grad", "c_grad", "grad", "2026-09-01", ""),
    ("s_vol", "c_vol", "vol", "2026-09-01", ""),
    ("s_pkg", "c_pkg", "pkg", "2026-09-11", ""),  # 20 of September's 30 days
    ("s_pct", "c_pct", "pct", "2026-09-01", ""),
    ("s_last", "c_last", "last_eur", "2026-09-01", ""),
    ("s_jpy", "c_jpy", "yen", "2026-09-01", ""),
    ("s_change1", "c_change", "unit", "2026-09-01", "2026-09-16"),  # 15 days on unit
    ("s_change2", "c_change", "pkg", "2026-09-16", ""),  # then 15 days on pkg
]

# (event_id, occurred_at, customer, metric, quantity, status, properties)
EVENTS = [
    # c_unit: 6 calls in September -> (6 - 2 free) * 0.01 = 0.04
    ("u1", "2026-09-02T10:00:00Z", "c_unit", "api_calls", "", "200", ""),
    ("u2", "2026-09-02T11:00:00Z", "c_unit", "api_calls", "", "500", ""),  # no filter: billed
    ("u3", "2026-09-03T10:00:00Z", "c_unit", "api_calls", "1", "200", ""),
    ("u4", "2026-09-04T10:00:00Z", "c_unit", "api_calls", "1", "200", ""),
    ("u5", "2026-09-05T10:00:00Z", "c_unit", "api_calls", "1", "", ""),
    ("u6", "2026-10-01T01:00:00+02:00", "c_unit", "api_calls", "1", "200", ""),  # Sep 30 UTC
    ("u7", "2026-09-30T23:30:00-02:00", "c_unit", "api_calls", "1", "200", ""),  # Oct 1 UTC
    # c_grad (version 2): 4.5 + 6 + 0.25 = 10.75 tokens
    #   tier 1: 10 * 0.10 + 1.00 = 2.00; tier 2: 0.75 * 0.05 + 2.00 = 2.0375 -> 4.0375 -> 4.04
    ("g1", "2026-09-05T00:00:00Z", "c_grad", "tokens", "4.5", "200", ""),
    ("g2", "2026-09-20T00:00:00Z", "c_grad", "tokens", "6", "200", ""),
    ("g3", "2026-09-30T23:59:59.999Z", "c_grad", "tokens", "0.25", "200", ""),
    # c_vol: max(80, 120.5, 90) = 120.5 -> all at tier 2: 120.5 * 0.40 + 5 = 53.20
    ("v1", "2026-09-05T00:00:00Z", "c_vol", "storage_gb", "80", "", ""),
    ("v2", "2026-09-10T00:00:00Z", "c_vol", "storage_gb", "120.5", "", ""),
    ("v3", "2026-09-15T00:00:00Z", "c_vol", "storage_gb", "90", "", ""),
    # c_pkg: users a, b, c (a twice; one login without a user) -> 3 - 1 free = 2 -> 1 package
    #   3.00, base fee 30.00 * 20 / 30 = 20.00
    ("p1", "2026-09-12T08:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "a"}'),
    ("p2", "2026-09-12T09:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "b"}'),
    ("p3", "2026-09-13T08:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "a"}'),
    ("p4", "2026-09-14T08:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "c"}'),
    ("p5", "2026-09-14T09:00:00Z", "c_pkg", "logins", "", "200", "{}"),
    # c_pct: settled 100.00 + 33.33 = 133.33 in 2 payments; the 402 is declined
    #   133.33 * 0.029 + 2 * 0.30 = 3.86657 + 0.60 = 4.46657 -> 4.47; true-up 10.00 - 4.47 = 5.53
    ("t1", "2026-09-03T00:00:00Z", "c_pct", "payments", "100.00", "200", ""),
    ("t2", "2026-09-04T00:00:00Z", "c_pct", "payments", "33.33", "201", ""),
    ("t3", "2026-09-05T00:00:00Z", "c_pct", "payments", "50.00", "402", ""),
    # c_last: latest EU reading; l2 and l3 share a timestamp, the higher event_id wins -> 65
    #   65 * 0.10 = 6.50 EUR (the later US reading does not match the filter)
    ("l1", "2026-09-03T10:00:00Z", "c_last", "storage_gb", "50", "", '{"region": "eu"}'),
    ("l2", "2026-09-20T10:00:00Z", "c_last", "storage_gb", "70", "", '{"region": "eu"}'),
    ("l3", "2026-09-20T10:00:00Z", "c_last", "storage_gb", "65", "", '{"region": "eu"}'),
    ("l4", "2026-09-25T10:00:00Z", "c_last", "storage_gb", "999", "", '{"region": "us"}'),
    # c_jpy: 3 calls * 0.5 = 1.5 -> 2 JPY (no minor units), base fee 1000
    ("y1", "2026-09-03T00:00:00Z", "c_jpy", "api_calls", "1", "200", ""),
    ("y2", "2026-09-04T00:00:00Z", "c_jpy", "api_calls", "1", "200", ""),
    ("y3", "2026-09-05T00:00:00Z", "c_jpy", "api_calls", "1", "200", ""),
    # c_change: on unit until the 16th: 4 calls -> (4 - 2) * 0.01 = 0.02; the login on the
    #   10th is not priced by unit. On pkg from the 16th: base 30.00 * 15 / 30 = 15.00, users
    #   x, y -> 2 - 1 free -> 1 package 3.00; the call on the 20th is not priced by pkg.
    ("x1", "2026-09-02T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
    ("x2", "2026-09-03T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
    ("x3", "2026-09-04T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
    ("x4", "2026-09-15T23:59:59Z", "c_change", "api_calls", "1", "200", ""),
    ("x5", "2026-09-10T00:00:00Z", "c_change", "logins", "", "200", '{"user_id": "w"}'),
    ("x6", "2026-09-16T00:00:00Z", "c_change", "logins", "", "200", '{"user_id": "x"}'),
    ("x7", "2026-09-17T00:00:00Z", "c_change", "logins", "", "200", '{"user_id": "y"}'),
    ("x8", "2026-09-20T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
]

# invoice -> {(line_type, charge_id): amount}, all worked out above
EXPECTED_LINES = {
    "c_unit": {("usage", "calls"): D("0.04")},
    "c_grad": {("usage", "tokens"): D("4.04")},
    "c_vol": {("usage", "peak"): D("53.20")},
    "c_pkg": {("usage", "mau"): D("3.00"), ("base_fee", None): D("20.00")},
    "c_pct": {("usage", "payments"): D("4.47"), ("minimum_true_up", None): D("5.53")},
    "c_last": {("usage", "eu_storage"): D("6.50")},
    "c_jpy": {("usage", "calls"): D("2"), ("base_fee", None): D("1000")},
    "c_change": {
        ("usage", "calls"): D("0.02"),
        ("usage", "mau"): D("3.00"),
        ("base_fee", None): D("15.00"),
    },
}
EXPECTED_QUANTITIES = {
    ("c_unit", "calls"): D(6),
    ("c_grad", "tokens"): D("10.75"),
    ("c_vol", "peak"): D("120.5"),
    ("c_pkg", "mau"): D(3),
    ("c_pct", "payments"): D("133.33"),
    ("c_last", "eu_storage"): D(65),
}
SUBTOTALS = {c: sum(lines.values()) for c, lines in EXPECTED_LINES.items()}


def _csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)]
    for row in rows:
        lines.append(
            ",".join('"' + v.replace('"', '""') + '"' if "," in v or '"' in v else v for v in row)
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_home(home: Home) -> None:
    home.pricing.mkdir(parents=True, exist_ok=True)
    (home.pricing / "plans.yaml").write_text(PRICE_BOOK, encoding="utf-8")
    ref = home.landing_reference
    _csv(
        ref / "customers.csv",
        ["customer_id", "name", "currency", "created_at"],
        [(c, c.upper(), ccy, "2026-01-01T00:00:00Z") for c, ccy in CUSTOMERS.items()],
    )
    _csv(
        ref / "subscriptions.csv",
        ["subscription_id", "customer_id", "plan_id", "started_at", "ended_at"],
        SUBSCRIPTIONS,
    )
    _csv(
        ref / "credit_grants.csv",
        [
            "grant_id",
            "customer_id",
            "granted_at",
            "credits",
            "kind",
            "purchase_amount",
            "expires_at",
            "priority",
        ],
        [],
    )
    # The billing system of record billed exactly the hand-worked subtotals.
    _csv(
        ref / "billed_invoices.csv",
        [
            "invoice_id",
            "customer_id",
            "period_start",
            "currency",
            "subtotal",
            "credits_applied",
            "total",
        ],
        [
            (f"b_{c}", c, "2026-09-01", CUSTOMERS[c], str(s), "0", str(s))
            for c, s in SUBTOTALS.items()
        ],
    )
    _csv(
        home.landing_usage / "2026-09.csv",
        ["event_id", "occurred_at", "customer_id", "metric", "quantity", "status", "properties"],
        EVENTS,
    )


def _issued_files(home: Home) -> dict[str, bytes]:
    """Every file month close wrote: the invoice documents and the issued lake tables."""
    files = [*home.exports.glob("*.json"), *home.lake_issued.rglob("*.parquet")]
    return {
        str(p.relative_to(home.root)): p.read_bytes()
        for p in sorted(files)
        if not p.name.startswith("_")  # the lake's empty-schema placeholders
    }


def q(home: Home, sql: str):
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local-time bug moves whole days
    home = Home.at(tmp_path_factory.mktemp("worked"))
    write_home(home)
    statuses = [
        main(["run", "--home", str(home.root), "--from", "2026-09-01", "--to", "2026-10-01"]),
        main(["close", "--home", str(home.root), "--month", "2026-09"]),
    ]
    issued = _issued_files(home)
    issued_rows = q(home, "select * from marts.fct_invoices where status = 'issued' order by 1")
    # Later: a late September call for c_unit and October tokens for c_grad arrive.
    _csv(
        home.landing_usage / "late" / "2026-10-10.csv",
        ["event_id", "occurred_at", "customer_id", "metric", "quantity", "status", "properties"],
        [("u8", "2026-09-15T12:00:00Z", "c_unit", "api_calls", "1", "200", "")]
        + [
            (f"g_oct{d}", f"2026-10-{d:02d}T12:00:00Z", "c_grad", "tokens", "1.0", "200", "")
            for d in range(1, 11)
        ],
    )
    statuses.append(
        main(["run", "--home", str(home.root), "--from", "2026-10-01", "--to", "2026-10-10"])
    )
    statuses.append(main(["close", "--home", str(home.root), "--month", "2026-09"]))  # again
    yield home, statuses, issued, issued_rows
    mp.undo()


def test_commands_succeed(worked):
    _, statuses, _, _ = worked
    assert statuses == [0, 0, 0, 0]


def test_every_line_is_rated_to_the_cent(worked):
    home, _, issued, _ = worked
    actual = {}
    for name in (n for n in issued if n.endswith(".json")):
        doc = json.loads(issued[name])
        actual[doc["customer_id"]] = {
            (ln["line_type"], ln["charge_id"]): D(ln["amount"]) for ln in doc["lines"]
        }
    assert actual == EXPECTED_LINES


def test_usage_quantities_follow_each_aggregation(worked):
    home, _, _, _ = worked
    rows = q(
        home,
        "select customer_id, charge_id, quantity from marts.fct_invoice_lines "
        "where line_type = 'usage' and period_start = date '2026-09-01'",
    )
    quantities = {(c, ch): qty for c, ch, qty in rows}
    for key, expected in EXPECTED_QUANTITIES.items():
        assert quantities[key] == expected, key


def test_invoices_are_issued_with_subtotals_in_their_currency(worked):
    home, _, _, issued_rows = worked
    rows = q(
        home,
        "select customer_id, currency, subtotal, status from marts.fct_invoices "
        "where period_start = date '2026-09-01'",
    )
    assert {c: (ccy, s, st) for c, ccy, s, st in rows} == {
        c: (CUSTOMERS[c], SUBTOTALS[c], "issued") for c in CUSTOMERS
    }
    assert len(issued_rows) == len(CUSTOMERS)


def test_reconciliation_finds_nothing_when_billing_agrees(worked):
    home, _, _, _ = worked
    assert q(home, "select * from marts.fct_billing_mismatches") == []


def test_issued_invoices_never_change(worked):
    home, _, issued, issued_rows = worked
    assert len(issued) == len(CUSTOMERS) + 2  # one document per invoice, two lake tables
    assert _issued_files(home) == issued  # byte for byte, after a later run and a second close
    assert q(home, "select * from marts.fct_invoices where status = 'issued' order by 1") == (
        issued_rows
    )
    # The late September call is in the usage mart but not on the issued invoice.
    [(calls,)] = q(
        home,
        "select sum(events) from marts.fct_usage_daily where customer_id = 'c_unit' "
        "and usage_date < date '2026-10-01'",
    )
    assert calls == 7


def test_open_month_has_drafts_and_a_projection_through_the_tiers(worked):
    """October for c_grad under version 3: 10 tokens by Oct 10 -> 10 * 0.20 = 2.00 so far.
    Projected to 31 days: 31 tokens -> 10 * 0.20 + 21 * 0.10 = 4.10 (not 2.00 * 31 / 10)."""
    home, _, _, _ = worked
    [(status, subtotal)] = q(
        home,
        "select status, subtotal from marts.fct_invoices "
        "where customer_id = 'c_grad' and period_start = date '2026-10-01'",
    )
    assert (status, subtotal) == ("draft", D("2.00"))
    [(period, spend, projected, as_of)] = q(
        home,
        "select period_start, spend_to_date, projected_spend, as_of "
        "from marts.mart_customer_spend where customer_id = 'c_grad'",
    )
    assert (period, spend, projected, as_of) == (
        dt.date(2026, 10, 1),
        D("2.00"),
        D("4.10"),
        dt.date(2026, 10, 10),
    )


def test_month_end_uses_utc_days(worked):
    home, _, _, _ = worked
    rows = q(
        home,
        "select usage_date, events from marts.fct_usage_daily "
        "where customer_id = 'c_unit' and usage_date >= date '2026-09-30'",
    )
    assert dict(rows) == {dt.date(2026, 9, 30): 1, dt.date(2026, 10, 1): 1}


def test_rating_sql_passes_its_dbt_unit_tests(worked, tmp_path):
    """The `unit_tests:` of dbt_project, run against this warehouse: dbt types the fixtures
    from the input relations, so they must exist."""
    home = worked[0]
    project = Path(__file__).resolve().parents[2] / "dbt_project"
    dbt = Path(sys.executable).with_name("dbt")
    done = subprocess.run(
        [
            str(dbt),
            "test",
            "--select",
            "test_type:unit",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env={**os.environ, "TALLY_HOME": str(home.root), "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "PASS=6 " in done.stdout, done.stdout[-2000:]  # a selector typo would run none


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("currency: JPY", "currency: USD"),
            "tally: pricing/plans.yaml: plan yen v1: currency: USD does not match customer c_jpy",
        ),
        (
            ('package_price: "3.00"', 'package_price: "3,00"'),
            "tally: pricing/plans.yaml: plan pkg v1: charges[0].package_price: '3,00' is not a decimal",
        ),
    ],
)
def test_a_bad_price_book_is_refused_before_any_data_is_touched(tmp_path, capsys, change, message):
    home = Home.at(tmp_path)
    write_home(home)
    (home.pricing / "plans.yaml").write_text(PRICE_BOOK.replace(*change), encoding="utf-8")
    status = main(["run", "--home", str(home.root), "--from", "2026-09-01", "--to", "2026-10-01"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith(message), err
    assert not home.lake.exists() and not home.warehouse.exists()
