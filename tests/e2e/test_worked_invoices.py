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

  - plan_id: cred                   # takes prepaid credits: 1 credit pays 0.01
    version: 1
    effective_from: 2026-01-01
    currency: USD
    base_fee: "20.00"
    credit_rate: "0.01"
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.10"}

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
    "c_cred": "USD",
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
    ("s_cred", "c_cred", "cred", "2026-09-01", ""),
]

# (grant_id, customer, granted_at, credits, kind, purchase_amount, expires_at, priority)
GRANTS = [
    # c_unit's plan has no credit_rate: its grant is never drawn.
    ("cu_g", "c_unit", "2026-08-01", "1000", "purchased", "8.00", "", "50"),
    # c_cred, September (20.20 due), burn order of the grants live at close (1 October):
    #   cr_vip    priority 10                      200 credits =  2.00, emptied
    #   cr_promo  priority 50, expires 1 October  1000 credits = 10.00, emptied (promotional)
    #   cr_buy    priority 50, never expires       820 credits =  8.20 (of 3000)
    #   not live: cr_old (expired 30 September), cr_late (granted 1 October)
    # credits_applied 20.20, total 0. Revenue: cr_vip 2.00 (all it cost); cr_buy at
    # 24.00 / 3000 = 0.008 per credit: 820 * 0.008 = 6.56. Promotional discount 10.00.
    ("cr_buy", "c_cred", "2026-08-01", "3000", "purchased", "24.00", "", ""),
    ("cr_old", "c_cred", "2026-08-01", "400", "promotional", "0", "2026-09-30", "50"),
    ("cr_vip", "c_cred", "2026-08-15", "200", "purchased", "2.00", "2026-10-20", "10"),
    ("cr_promo", "c_cred", "2026-08-20", "1000", "promotional", "0", "2026-10-01", "50"),
    ("cr_late", "c_cred", "2026-10-01", "500", "purchased", "5.00", "", "1"),
]
CREDITS_APPLIED = {"c_cred": D("20.20")}

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
    # c_cred: 2 calls * 0.10 = 0.20, base fee 20.00
    ("k1", "2026-09-08T00:00:00Z", "c_cred", "api_calls", "1", "200", ""),
    ("k2", "2026-09-09T00:00:00Z", "c_cred", "api_calls", "1", "200", ""),
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
    "c_cred": {("usage", "calls"): D("0.20"), ("base_fee", None): D("20.00")},
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
        GRANTS,
    )
    # The billing system of record billed exactly the hand-worked subtotals and credits.
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
            (
                f"b_{c}",
                c,
                "2026-09-01",
                CUSTOMERS[c],
                str(s),
                str(CREDITS_APPLIED.get(c, D(0))),
                str(s - CREDITS_APPLIED.get(c, D(0))),
            )
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
        ]
        + [
            (f"k_oct{n}", "2026-10-02T09:00:00Z", "c_cred", "api_calls", "", "200", "")
            for n in range(70)
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
    # The late September call makes the later run and close exit 3: a warning (usage after
    # close) that adjustments resolve, not an error.
    assert statuses == [0, 0, 3, 3]


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


def test_reconciliation_finds_only_the_late_usage_when_billing_agrees(worked):
    """Billing agrees on every invoice; the one finding is the September call that arrived
    after close: 7 calls used, 6 invoiced (a warning, not a reason to stop billing)."""
    home, _, _, _ = worked
    findings = q(
        home,
        "select check_name, severity, customer_id, period_start, subject, expected, actual, "
        "difference from marts.fct_billing_mismatches",
    )
    assert findings == [
        (
            "usage_differs_from_invoice",
            "warning",
            "c_unit",
            dt.date(2026, 9, 1),
            "calls",
            D(7),
            D(6),
            D(-1),
        )
    ]
    alerts = [json.loads(line) for line in home.alerts.read_text().splitlines()]
    assert {(a["check"], a["severity"]) for a in alerts} == {
        ("fct_billing_mismatches:usage_matches_invoices", "warning")
    }


def test_issued_invoices_never_change(worked):
    home, _, issued, issued_rows = worked
    assert len(issued) == len(CUSTOMERS) + 3  # a document per invoice, three lake tables
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


def test_credits_are_applied_at_close_in_burn_order(worked):
    home, _, issued, _ = worked
    doc = json.loads(issued["exports/INV-2026-09-c_cred.json"])
    assert (D(doc["subtotal"]), D(doc["credits_applied"]), D(doc["total"])) == (
        D("20.20"),
        D("20.20"),
        D(0),
    )
    # The document lists the grants drawn in burn order.
    assert [(c["grant_id"], D(c["credits"]), D(c["money"])) for c in doc["credits"]] == [
        ("cr_vip", D(200), D("2.00")),
        ("cr_promo", D(1000), D("10.00")),
        ("cr_buy", D(820), D("8.20")),
    ]
    unit = json.loads(issued["exports/INV-2026-09-c_unit.json"])
    assert (D(unit["credits_applied"]), unit["credits"]) == (D(0), [])  # no credit_rate


def test_the_ledger_records_grants_consumption_and_expiry_with_running_balances(worked):
    home, _, _, _ = worked
    rows = q(
        home,
        "select entry_date, entry_type, grant_id, credits, invoice_id, balance_after, "
        "customer_balance_after, revenue from marts.fct_credit_ledger "
        "where customer_id = 'c_cred' order by customer_balance_after is null, entry_date, "
        "case entry_type when 'grant' then 0 when 'consumption' then 1 else 2 end, entry_id",
    )
    sep30, inv = dt.date(2026, 9, 30), "INV-2026-09-c_cred"
    assert rows == [
        (dt.date(2026, 8, 1), "grant", "cr_buy", 3000, None, 3000, 3000, 0),
        (dt.date(2026, 8, 1), "grant", "cr_old", 400, None, 400, 3400, 0),
        (dt.date(2026, 8, 15), "grant", "cr_vip", 200, None, 200, 3600, 0),
        (dt.date(2026, 8, 20), "grant", "cr_promo", 1000, None, 1000, 4600, 0),
        (sep30, "consumption", "cr_buy", -820, inv, 2180, 3780, D("6.56")),
        (sep30, "consumption", "cr_promo", -1000, inv, 0, 2780, 0),
        (sep30, "consumption", "cr_vip", -200, inv, 0, 2580, D("2.00")),
        (sep30, "expiry", "cr_old", -400, None, 0, 2180, 0),  # promotional: no breakage
        (dt.date(2026, 10, 1), "grant", "cr_late", 500, None, 500, 2680, 0),
    ]


def test_revenue_recognizes_credits_at_cost_basis_and_rolls_deferred_forward(worked):
    home, _, _, _ = worked
    rows = q(
        home,
        "select month, billed_revenue, credit_revenue, breakage_revenue, recognized_revenue, "
        "promotional_discount, deferred_opening, deferred_closing "
        "from marts.fct_revenue_monthly where customer_id = 'c_cred' order by month",
    )
    assert rows == [
        # August: 24.00 + 2.00 bought, all deferred
        (dt.date(2026, 8, 1), 0, 0, 0, 0, 0, 0, D("26.00")),
        # September: nothing billed in cash; 2.00 + 6.56 of credits recognized
        (dt.date(2026, 9, 1), 0, D("8.56"), 0, D("8.56"), D("10.00"), D("26.00"), D("17.44")),
        # October: 5.00 more bought (October is not closed yet)
        (dt.date(2026, 10, 1), 0, 0, 0, 0, 0, D("17.44"), D("22.44")),
    ]


def test_ledger_and_revenue_tie_to_the_issued_invoices(worked):
    home, _, _, _ = worked
    untied = q(
        home,
        """
        with credits as (
            select invoice_id, sum(money) as money from marts.fct_credit_ledger
            where entry_type = 'consumption' group by 1
        )
        select i.invoice_id from marts.fct_invoices as i
        left join credits as c using (invoice_id)
        where i.status = 'issued'
            and (coalesce(c.money, 0) <> i.credits_applied
                 or i.total <> i.subtotal - i.credits_applied)
        """,
    )
    assert untied == []
    [(billed, cash)] = q(
        home,
        "select (select sum(billed_revenue) from marts.fct_revenue_monthly), "
        "(select sum(total) from marts.fct_invoices where status = 'issued')",
    )
    assert billed == cash


def test_a_draft_shows_the_credits_close_would_apply_and_spend_shows_what_is_left(worked):
    """October for c_cred by 10 October: 20.00 base fee + 70 calls * 0.10 = 27.00. Live at the
    end of October: cr_late (priority 1) 500 credits = 5.00, then cr_buy 2180 = 21.80: 26.80
    applied, 0.20 to pay. Projected: 70 * 31 / 10 = 217 calls = 21.70 + 20.00 = 41.70."""
    home, _, _, _ = worked
    [(subtotal, credits, total)] = q(
        home,
        "select subtotal, credits_applied, total from marts.fct_invoices "
        "where invoice_id = 'INV-2026-10-c_cred'",
    )
    assert (subtotal, credits, total) == (D("27.00"), D("26.80"), D("0.20"))
    [(remaining, value, to_apply, projected)] = q(
        home,
        "select credits_remaining, credits_remaining_value, credits_to_apply, projected_spend "
        "from marts.mart_customer_spend where customer_id = 'c_cred'",
    )
    # as of 10 October: cr_buy 2180 + cr_late 500 (cr_vip is live but empty)
    assert (remaining, value, to_apply, projected) == (D(2680), D("26.80"), D("26.80"), D("41.70"))


def _readme_query(title: str) -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split(f"-- {title}", 1)[1]
    return block.split("```", 1)[0].split("\n", 1)[1]


def test_the_readme_answers_finance_questions_with_one_query_each(worked):
    home, _, _, _ = worked
    # c_cred carries 22.44 (above); c_unit's 8.00 grant is never drawn: its plan takes none.
    deferred = q(home, _readme_query("How much deferred revenue do we carry?"))
    assert deferred == [("EUR", 0), ("JPY", 0), ("USD", D("30.44"))]
    # c_cred projects 41.70 against 26.80 of credits; c_unit's credits are worth nothing.
    running_out = q(home, _readme_query("Which customers run out of credits this month?"))
    assert [(r[0], r[-1]) for r in running_out] == [("c_cred", D("14.90"))]
