"""Hand-written usage rated through the CLI (`tally run`, then `tally close`).

Every pricing model, aggregation, filter, proration and rounding case on a handful of
events whose invoices were worked out by hand (the arithmetic is in the comments). The run uses
a far-from-UTC local time zone: billing days and periods are UTC whatever the machine says.
"""

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest
from worked_world import (
    ANNIV_OCTOBER,
    BUCKETS_OCTOBER,
    CADENCE_CUSTOMERS,
    CUSTOMERS,
    EXPECTED_LINES,
    EXPECTED_QUANTITIES,
    PRICE_BOOK,
    QUARTER_LINES,
    RECURRING_OCTOBER,
    SUBTOTALS,
    WORKED,
    q,
    write_csv,
    write_home,
)
from worlds import Built, tally

from cli.main import main
from lake.home import Home
from transforms.items import InvoiceLine, invoice_items

pytestmark = pytest.mark.e2e


def _issued_files(home: Home) -> dict[str, bytes]:
    """Every file month close wrote: the invoice documents and the issued lake tables."""
    files = [*home.exports.glob("*.json"), *home.lake_issued.rglob("*.parquet")]
    return {
        str(p.relative_to(home.root)): p.read_bytes()
        for p in sorted(files)
        if not p.name.startswith("_")  # the lake's empty-schema placeholders
    }


@dataclass(frozen=True)
class Worked:
    """The worked world (September closed) on this module's copy, after a later run and a
    second close of September."""

    home: Home
    statuses: list[int]  # run, close, the later run, the second close
    issued: dict[str, bytes]  # what the first close wrote, as it wrote it
    issued_rows: list[tuple]  # the issued invoices as the marts had them then


@pytest.fixture(scope="module")
def worked(worlds, tmp_path_factory) -> Worked:
    built = worlds.get(WORKED).copy(tmp_path_factory.mktemp("worked"))
    home = built.home
    issued = _issued_files(home)
    issued_rows = q(home, "select * from marts.fct_invoices where status = 'issued' order by 1")
    # Later: a late September call for c_unit and October tokens for c_grad arrive.
    write_csv(
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
        ]
        + RECURRING_OCTOBER
        + BUCKETS_OCTOBER
        + ANNIV_OCTOBER,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "Pacific/Kiritimati")
        later = tally(home, "run", "--from", "2026-10-01", "--to", "2026-10-10")
        again = tally(home, "close", "--month", "2026-09")
    first = [built.facts["run"].status, built.facts["close"].status]
    return Worked(home, [*first, later.status, again.status], issued, issued_rows)


def test_commands_succeed(worked):
    statuses = worked.statuses
    # c_unit holds credits its plan never draws (no credit_rate): a warning, so every run and
    # close that builds the marts exits 3, as the later run does for the late September call
    # (usage after close, which adjustments resolve). Closing September again changes
    # nothing: exit 0.
    assert statuses == [3, 3, 3, 0]


def test_every_line_is_rated_to_the_cent(worked):
    issued = worked.issued
    actual = {}
    for name in (n for n in issued if n.endswith(".json")):
        doc = json.loads(issued[name])
        actual[doc["customer"]["customer_id"]] = {
            (
                ln["line_type"],
                ln["charge_id"],
                *([ln["group_key"]] if ln.get("group_key") else []),
            ): D(ln["amount"])
            for ln in doc["lines"]
        }
    # and c_quarter's third quarter, which ends with September; c_ahead's two base fees:
    # test_a_fee_in_advance_bills_the_next_month_and_credits_unused_days
    del actual["c_ahead"]
    assert actual == EXPECTED_LINES | {
        "c_quarter": QUARTER_LINES,
        "c_monthly": {
            ("usage", "m_calls"): D("2.50"),
            ("minimum_true_up", "m_calls"): D("0.30"),
            ("base_fee", None): D("20.54"),
        },
    }


def test_documents_show_caps_true_ups_and_how_each_tier_priced(worked):
    """c_caps: each charge's commitment line right after its usage, the plan's cap last.
    c_breadth: tiers in packages and tiers at a rate say what they priced."""
    docs = {}
    for name in (n for n in worked.issued if n.endswith(".json")):
        doc = json.loads(worked.issued[name])
        docs[doc["customer"]["customer_id"]] = doc
    caps = [(ln["description"], ln["amount"]) for ln in docs["c_caps"]["lines"]]
    assert caps == [
        ("Capped calls", "7.00"),
        ("Capped calls, spend cap", "-2.00"),
        ("Floor tokens", "1.00"),
        ("Floor tokens, minimum spend true-up", "2.00"),
        ("caps plan, spend cap", "-2.00"),
    ]
    lines = {ln["charge_id"]: ln for ln in docs["c_breadth"]["lines"]}
    assert [t["priced"] for t in lines["blocks"]["tiers"]] == [
        "10 packages of 100 \u00d7 1.00 USD",
        "5 packages of 1,000 \u00d7 1.00 USD",
    ]
    assert [t["priced"] for t in lines["payouts"]["tiers"]] == [
        "1,000 \u00d7 1%",
        "4,050 \u00d7 2%",
    ]
    assert lines["payouts"]["quantity"] == "5050.00"  # money, in the plan's minor units
    assert lines["seats"]["pricing"] == ("2.00 USD per package of 100, a part package not billed")
    # What the measure adds, and a percentage's allowance and bounds, are said too.
    pricing = {
        ln["charge_id"]: ln["pricing"]
        for c in ("c_recur", "c_bucket", "c_cards")
        for ln in docs[c]["lines"]
    }
    assert pricing["seats_held"] == "1 USD per unit; counts every earlier month too"
    assert pricing["gpu_hours"] == "each hour priced on its own: 0.1 USD per unit"
    assert pricing["card_fees"] == (
        "1.3% of the amount + 2.00 USD per paying event; the first 3 events and the first 250 "
        "of the amount free"
    )
    assert pricing["fx_fees"] == (
        "2.99% of the amount; the first 30 of the amount free; at least 1.75 USD and at most "
        "12.00 USD per event"
    )


def test_a_grouped_charge_is_a_line_per_group_on_the_document(worked):
    """c_groups: each group a row named by its values, at its own price, in the JSON and in
    fct_invoice_lines (group_key)."""
    docs = {}
    for name in (n for n in worked.issued if n.endswith(".json")):
        doc = json.loads(worked.issued[name])
        docs[doc["customer"]["customer_id"]] = doc
    rows = [(ln["description"], ln["pricing"], ln["amount"]) for ln in docs["c_groups"]["lines"]]
    assert rows == [
        ("Llm tokens (model: (none))", "0.000002 USD per unit", "0.02"),
        ("Llm tokens (model: large)", "0.00001 USD per unit", "3.00"),
        ("Llm tokens (model: small)", "0.000002 USD per unit", "2.40"),
        ("Regional (region: eu)", "graduated tiers: each tier prices the units inside it", "3.00"),
        ("Regional (region: us)", "graduated tiers: each tier prices the units inside it", "14.00"),
    ]
    assert q(
        worked.home,
        "select group_key, quantity from marts.fct_invoice_lines "
        "where customer_id = 'c_groups' and charge_id = 'regional' "
        "and period_start = date '2026-09-01' order by 1",
    ) == [('{"region":"eu"}', D(3)), ('{"region":"us"}', D(12))]


def test_usage_quantities_follow_each_aggregation(worked):
    home = worked.home
    rows = q(
        home,
        "select customer_id, charge_id, quantity from marts.fct_invoice_lines "
        "where line_type = 'usage' and period_start = date '2026-09-01'",
    )
    quantities = {(c, ch): qty for c, ch, qty in rows}
    for key, expected in EXPECTED_QUANTITIES.items():
        assert quantities[key] == expected, key


def test_invoices_are_issued_with_subtotals_in_their_currency(worked):
    home, issued_rows = worked.home, worked.issued_rows
    rows = q(
        home,
        "select customer_id, currency, subtotal, status from marts.fct_invoices "
        "where period_start = date '2026-09-01'",
    )
    assert {c: (ccy, s, st) for c, ccy, s, st in rows} == {
        c: (CUSTOMERS[c], SUBTOTALS[c], "issued") for c in CUSTOMERS
    } | {"c_ahead": ("USD", D("40.00"), "issued"), "c_monthly": ("USD", D("23.34"), "issued")}
    # and c_quarter's quarter, c_ahead's and c_monthly's Septembers
    assert len(issued_rows) == len(CUSTOMERS) + 3


def test_reconciliation_finds_only_the_late_usage_when_billing_agrees(worked):
    """Billing agrees on every invoice; one finding is the adjustment the September call that
    arrived after close makes: 7 calls, 2 free, at 0.01 is 0.05 against 0.04 issued (a warning
    until the adjustment is carried onto a closed invoice). The other is c_unit's credits,
    which its plan never draws (no credit_rate)."""
    home = worked.home
    findings = q(
        home,
        "select check_name, severity, customer_id, period_start, subject, expected, actual, "
        "difference from marts.fct_billing_mismatches order by check_name",
    )
    assert findings == [
        (
            "adjustment_pending",
            "warning",
            "c_unit",
            dt.date(2026, 9, 1),
            "INV-2026-09-c_unit:calls",
            D("0.04"),
            D("0.05"),
            D("0.01"),
        ),
        (
            "credits_not_accepted",
            "warning",
            "c_unit",
            dt.date(2026, 10, 1),
            "credits held",
            D(2200),
            D(0),
            D(-2200),
        ),
    ]
    alerts = [json.loads(line) for line in home.alerts.read_text().splitlines()]
    assert {(a["check"], a["severity"]) for a in alerts} == {
        ("fct_billing_mismatches:no_pending_adjustments", "warning"),
        ("fct_billing_mismatches:credits_are_accepted", "warning"),
    }


def test_issued_invoices_never_change(worked):
    home, issued, issued_rows = worked.home, worked.issued, worked.issued_rows
    # a document per invoice (c_quarter's, c_ahead's and c_monthly's too), six lake tables
    assert len(issued) == len(CUSTOMERS) + 3 + 6
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
    The last event is at 12:00 on 10 October, 9.5 days into the month: projected to 31 days,
    10 * 31 / 9.5 = 32.631578947 tokens -> 10 * 0.20 + 22.631578947 * 0.10 = 4.2631578947
    -> 4.26 (through the tiers, not 2.00 * 31 / 9.5 = 6.53)."""
    home = worked.home
    [(status, subtotal)] = q(
        home,
        "select status, subtotal from marts.fct_invoices "
        "where customer_id = 'c_grad' and period_start = date '2026-10-01'",
    )
    assert (status, subtotal) == ("draft", D("2.00"))
    [(period, spend, projected, as_of, as_of_at)] = q(
        home,
        "select period_start, spend_to_date, projected_spend, as_of, as_of_at "
        "from marts.mart_customer_spend where customer_id = 'c_grad'",
    )
    assert (period, spend, projected, as_of, as_of_at) == (
        dt.date(2026, 10, 1),
        D("2.00"),
        D("4.26"),
        dt.date(2026, 10, 10),
        dt.datetime(2026, 10, 10, 12, tzinfo=dt.UTC),
    )
    page = (home.reports / "customers" / "c_grad.html").read_text(encoding="utf-8")
    assert "Period 2026-10, usage up to 2026-10-10 12:00 UTC." in page


def test_recurring_charges_carry_september_into_october(worked):
    """c_recur's October draft counts what September left: 5 seats carried + 48 bought = 53.00,
    member A carried then removed and B added = 3.00, 10 GB carried and +20 from the 6th =
    2.68 (worked out at RECURRING_OCTOBER). The projection scales only October's own seats:
    5 + 48 x 31 / 9.5 days (as of 10 October 12:00) = 161.631578947 -> 161.63, + 3.00 + 2.68."""
    home = worked.home
    rows = q(
        home,
        "select charge_id, quantity, amount from marts.fct_invoice_lines "
        "where customer_id = 'c_recur' and period_start = date '2026-10-01' order by 1",
    )
    assert rows == [
        ("disk", D("26.774193548"), D("2.68")),
        ("members", D(1), D("3.00")),
        ("seats_held", D(53), D("53.00")),
    ]
    [(spend, projected)] = q(
        home,
        "select spend_to_date, projected_spend from marts.mart_customer_spend "
        "where customer_id = 'c_recur'",
    )
    assert (spend, projected) == (D("58.68"), D("167.31"))


def test_bucketed_charges_project_the_mean_bucket_for_each_bucket_left(worked):
    """c_bucket's October: 1.10 + 0.40 so far, projected 3.41 + 1.31 (BUCKETS_OCTOBER)."""
    home = worked.home
    rows = q(
        home,
        "select charge_id, quantity, amount from marts.fct_invoice_lines "
        "where customer_id = 'c_bucket' and period_start = date '2026-10-01' order by 1",
    )
    assert rows == [
        ("batch_packs", D(0), D("0.00")),
        ("gpu_days", D(12), D("1.10")),
        ("gpu_hours", D(4), D("0.40")),
    ]
    [(spend, projected)] = q(
        home,
        "select spend_to_date, projected_spend from marts.mart_customer_spend "
        "where customer_id = 'c_bucket'",
    )
    assert (spend, projected) == (D("1.50"), D("4.72"))


@pytest.mark.slow  # two runs and a full refresh on a copy of the world: `make test-slow`
def test_a_late_september_seat_reaches_october_through_the_carried_state(worked, tmp_path):
    """One seat bought on 20 September arrives after October was rated: September's issued
    invoice keeps 5.00 (the seat is an adjustment), October's draft holds 54 seats, and the
    marts are those a full refresh gives. A late capped call for c_caps: its usage adjustment
    (+1.00) and its spend cap's (-1.00) are kept apart, each by line type."""
    home = Built(worked.home, {}).copy(tmp_path).home
    write_csv(
        home.landing_usage / "late" / "2026-10-11.csv",
        ["event_id", "occurred_at", "customer_id", "metric", "quantity", "status", "properties"],
        [
            ("r_late", "2026-09-20T00:00:00Z", "c_recur", "seat_changes", "1", "", ""),
            ("cc_late", "2026-09-20T00:00:00Z", "c_caps", "capped_calls", "1", "200", ""),
        ],
    )
    assert tally(home, "run", "--from", "2026-10-10", "--to", "2026-10-10").status == 3
    lines = (
        "select i.period_start, i.status, l.quantity, l.amount from marts.fct_invoice_lines l "
        "join marts.fct_invoices i using (invoice_id) "
        "where i.customer_id = 'c_recur' and l.charge_id = 'seats_held' order by 1"
    )
    assert q(home, lines) == [
        (dt.date(2026, 9, 1), "issued", D(5), D("5.00")),
        (dt.date(2026, 10, 1), "draft", D(54), D("54.00")),
    ]
    [(difference,)] = q(
        home,
        "select difference from marts.fct_invoice_adjustments where customer_id = 'c_recur'",
    )
    assert difference == D("1.00")
    assert q(
        home,
        "select charge_id, line_type, issued_amount, recomputed_amount, difference, reason "
        "from marts.fct_invoice_adjustments where customer_id = 'c_caps' order by 2 desc",
    ) == [
        ("capped_calls", "usage", D("7.00"), D("8.00"), D("1.00"), "late_usage"),
        ("capped_calls", "spend_cap", D("-2.00"), D("-3.00"), D("-1.00"), "late_usage"),
    ]
    assert q(
        home,
        "select charge_id, amount from marts.fct_invoice_lines "
        "where customer_id = 'c_caps' and line_type = 'adjustment' order by 1",
    ) == [
        ("INV-2026-09-c_caps:capped_calls", D("1.00")),
        ("INV-2026-09-c_caps:capped_calls:spend_cap", D("-1.00")),
    ]
    # as items, the cap's credit note is absorbed by the usage's debit carried with it
    assert q(
        home,
        "select item, amount from marts.fct_invoice_items "
        "where invoice_id = 'INV-2026-10-c_caps' and item like 'adjustment:%'",
    ) == [("adjustment:INV-2026-09-c_caps:capped_calls", D("0.00"))]
    incremental = q(home, "select * from marts.fct_invoice_lines order by 1")
    tally(home, "run", "--from", "2026-10-10", "--to", "2026-10-10", "--full-refresh")
    assert q(home, "select * from marts.fct_invoice_lines order by 1") == incremental


def test_month_end_uses_utc_days(worked):
    home = worked.home
    rows = q(
        home,
        "select usage_date, events from marts.fct_usage_daily "
        "where customer_id = 'c_unit' and usage_date >= date '2026-09-30'",
    )
    assert dict(rows) == {dt.date(2026, 9, 30): 1, dt.date(2026, 10, 1): 1}


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


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "seller.yaml",
            "address: 1 Sample Street\n",
            "tally: seller.yaml: legal_name: is required",
        ),
        (
            "customers.csv",
            "customer_id,name,currency,tax_rate\nc_unit,U,USD,1.5\n",
            "tally: customers.csv: row 2: tax_rate: 1.5 is not from 0 up to, not including, 1",
        ),
    ],
)
def test_a_bad_seller_profile_or_tax_rate_is_refused_before_any_data_is_touched(
    tmp_path, capsys, file, text, message
):
    home = Home.at(tmp_path)
    write_home(home)
    (home.landing_reference / file).write_text(text, encoding="utf-8")
    status = main(["run", "--home", str(home.root), "--from", "2026-09-01", "--to", "2026-10-01"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith(message), err
    assert not home.lake.exists() and not home.warehouse.exists()


def test_credits_are_applied_at_close_in_burn_order(worked):
    issued = worked.issued
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
    home = worked.home
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


def test_a_recurring_grant_rolls_over_its_cap_when_its_month_closes(worked):
    """c_unit's monthly 1,000 promotional credits, kept up to 200: September's close rolls 200
    into October's instance and lets 800 expire, dated 1 October (grant, rollover, expiry
    within the day); October's instance holds 1,200 (its plan takes no credits, so nothing is
    drawn)."""
    home = worked.home
    oct1 = dt.date(2026, 10, 1)
    assert q(
        home,
        "select entry_date, entry_type, grant_id, source, instance_of, credits, balance_after, "
        "customer_balance_after from marts.fct_credit_ledger "
        "where customer_id = 'c_unit' order by customer_balance_after is null, entry_date, "
        "case entry_type when 'grant' then 0 when 'rollover' then 1 when 'consumption' then 2 "
        "else 3 end, entry_id",
    ) == [
        (dt.date(2026, 8, 1), "grant", "cu_g", "reference", None, 1000, 1000, 1000),
        (
            dt.date(2026, 9, 1),
            "grant",
            "cu_monthly@2026-09-01",
            "recurrence",
            "cu_monthly",
            1000,
            1000,
            2000,
        ),
        (oct1, "grant", "cu_monthly@2026-10-01", "recurrence", "cu_monthly", 1000, 1000, 3000),
        (oct1, "rollover", "cu_monthly@2026-10-01", "recurrence", "cu_monthly", 200, 1200, 3200),
        (oct1, "rollover", "cu_monthly@2026-09-01", "recurrence", "cu_monthly", -200, 800, 3000),
        (oct1, "expiry", "cu_monthly@2026-09-01", "recurrence", "cu_monthly", -800, 0, 2200),
    ]
    assert q(
        home,
        "select credits_remaining from marts.mart_customer_spend where customer_id = 'c_unit'",
    ) == [(D(2200),)]
    # Nothing will draw them: c_unit's plan takes no credits (a warning, not a silent no-op).
    assert q(
        home,
        "select severity, period_start, subject, expected, actual from "
        "marts.fct_billing_mismatches where check_name = 'credits_not_accepted'",
    ) == [("warning", oct1, "credits held", D(2200), 0)]


def test_revenue_recognizes_credits_at_cost_basis_and_rolls_deferred_forward(worked):
    home = worked.home
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
    home = worked.home
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
                 or i.total <> i.subtotal + i.tax - i.credits_applied)
        """,
    )
    assert untied == []
    # Cash billed for the service: what customers pay, less the tax they pay in cash.
    [(billed, cash)] = q(
        home,
        "select (select sum(billed_revenue) from marts.fct_revenue_monthly), "
        "(select sum(total - (tax - credits_applied_to_tax)) from marts.fct_invoices "
        "where status = 'issued')",
    )
    assert billed == cash


def test_a_draft_shows_the_credits_close_would_apply_and_spend_shows_what_is_left(worked):
    """October for c_cred by 10 October: 20.00 base fee + 70 calls * 0.10 = 27.00. Live at the
    end of October: cr_late (priority 1) 500 credits = 5.00, then cr_buy 2180 = 21.80: 26.80
    applied, 0.20 to pay. Projected from 9.5 days (the last event is at 12:00 on 10 October):
    70 * 31 / 9.5 = 228.421052632 calls = 22.8421052632 -> 22.84 + 20.00 = 42.84."""
    home = worked.home
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
    assert (remaining, value, to_apply, projected) == (D(2680), D("26.80"), D("26.80"), D("42.84"))


def _guide_query(title: str) -> str:
    """A query of the querying guide (docs/querying.md), under its `-- title` comment."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "querying.md").read_text()
    block = guide.split(f"-- {title}", 1)[1]
    return block.split("```", 1)[0].split("\n", 1)[1]


def test_the_querying_guide_answers_finance_questions_with_one_query_each(worked):
    home = worked.home
    # c_cred carries 22.44 (above); c_unit's 8.00 grant is never drawn: its plan takes none;
    # c_wallet bought 25.00 + 20.00 (its top-up) and used 20.00.
    deferred = q(home, _guide_query("How much deferred revenue do we carry?"))
    assert deferred == [("EUR", 0), ("JPY", 0), ("USD", D("55.44"))]
    # c_cred projects 42.84 against 26.80 of credits, c_tax 62.10 against ct_gpu's 10.00;
    # c_unit's credits are worth nothing.
    running_out = q(home, _guide_query("Which customers run out of credits this month?"))
    assert [(r[0], r[-1]) for r in running_out] == [("c_tax", D("52.10")), ("c_cred", D("16.04"))]


def test_a_late_event_after_close_is_an_adjustment_carried_to_the_next_invoice(worked):
    """u8 (15 September) arrived after September was issued: 7 calls, 2 free, 0.05 against
    0.04 issued. The issued invoice keeps 0.04; October's draft carries the 0.01."""
    home = worked.home
    rows = q(
        home,
        "select invoice_id, charge_id, issued_amount, recomputed_amount, difference, reason, "
        "pending_on_invoice_id from marts.fct_invoice_adjustments",
    )
    assert rows == [
        (
            "INV-2026-09-c_unit",
            "calls",
            D("0.04"),
            D("0.05"),
            D("0.01"),
            "late_usage",
            "INV-2026-10-c_unit",
        )
    ]
    [(amount,)] = q(
        home,
        "select amount from marts.fct_invoice_lines where invoice_id = 'INV-2026-10-c_unit' "
        "and line_type = 'adjustment'",
    )
    assert amount == D("0.01")


def test_invoice_items_share_the_plan_cap_and_add_up_to_each_subtotal(worked):
    """c_caps, September: capped_calls 7.00 - 2.00 = 5.00 and floor_tokens 1.00 + 2.00 = 3.00
    share the plan's cap of -2.00 as 5 : 3, -1.25 and -0.75. Every invoice's items are what
    the reference makes of its lines, and add up to its subtotal."""
    home = worked.home
    assert q(
        home,
        "select item, item_order, amount, tax, due from marts.fct_invoice_items "
        "where invoice_id = 'INV-2026-09-c_caps' order by item_order",
    ) == [
        ("charge:capped_calls", 1, D("3.75"), D(0), D("3.75")),
        ("charge:floor_tokens", 2, D("2.25"), D(0), D("2.25")),
    ]
    lines = q(
        home,
        "select invoice_id, line_type, charge_id, amount, currency from marts.fct_invoice_lines",
    )
    by_invoice: dict[str, list] = {}
    for invoice_id, line_type, charge_id, amount, currency in lines:
        by_invoice.setdefault(invoice_id, []).append(
            (InvoiceLine(line_type, charge_id, amount), currency)
        )
    # (an invoice with a coupon is held to the coupons' reference in the test after)
    discounted = {
        i for i, rows in by_invoice.items() if any(ln.line_type == "discount" for ln, _ in rows)
    }
    expected = {
        (invoice_id, item.item, item.item_order, item.amount)
        for invoice_id, rows in by_invoice.items()
        if invoice_id not in discounted
        for item in invoice_items([line for line, _ in rows], rows[0][1])
    }
    items = [
        row
        for row in q(
            home, "select invoice_id, item, item_order, amount from marts.fct_invoice_items"
        )
        if row[0] not in discounted
    ]
    assert set(items) == expected and len(items) == len(expected)
    assert q(
        home,
        "select count(*) from marts.fct_invoices i join (select invoice_id, sum(amount) as amount "
        "from marts.fct_invoice_items group by 1) t using (invoice_id) where t.amount = i.subtotal",
    ) == q(home, "select count(*) from marts.fct_invoices")


def test_the_pricing_contracts_invoice_discounted_taxed_and_paid_by_credits(worked):
    """c_tax, September, the pricing contract's invoice: base fee 49.00, tax_calls 250.00, tax_gpu
    15.00 + its minimum's true-up 5.00, training 10.00 (exempt: its charge's tax rate is 0). The
    coupon launch10 (10 %, redeemed 3 September) takes 32.90, shared 4.90 / 25.00 / 2.00 / 1.00;
    tax at 20 % (customers.csv) per item: 8.82 + 45.00 + 3.60 = 57.42 on 296.10. The
    promotional grant pays 300.00: the subtotal first, then 3.90 of the tax; 53.52 is due. Tax
    is not revenue: billed revenue is 53.52 - 57.42 + 3.90 = 0, and the credits that paid tax are
    an expense, not a discount."""
    home = worked.home
    assert q(
        home,
        "select discounts, subtotal, tax, credits_applied, credits_applied_to_tax, total, status "
        "from marts.fct_invoices where invoice_id = 'INV-2026-09-c_tax'",
    ) == [(D("-32.90"), D("296.10"), D("57.42"), D("300.00"), D("3.90"), D("53.52"), "issued")]
    assert q(
        home,
        "select item, amount, tax_rate, tax, due from marts.fct_invoice_items "
        "where invoice_id = 'INV-2026-09-c_tax' order by item_order",
    ) == [
        ("base_fee", D("44.10"), D("0.2"), D("8.82"), D("52.92")),
        ("charge:tax_calls", D("225.00"), D("0.2"), D("45.00"), D("270.00")),
        ("charge:tax_gpu", D("18.00"), D("0.2"), D("3.60"), D("21.60")),
        ("charge:training", D("9.00"), D(0), D(0), D("9.00")),
    ]
    assert q(
        home,
        "select line_type, coupon_id, amount from marts.fct_invoice_lines "
        "where invoice_id = 'INV-2026-09-c_tax' and line_type = 'discount'",
    ) == [("discount", "launch10", D("-32.90"))]
    doc = json.loads(worked.issued["exports/INV-2026-09-c_tax.json"])
    assert (
        doc["subtotal"],
        doc["tax"],
        doc["taxes"],
        doc["credits_applied"],
        doc["amount_due"],
    ) == ("296.10", "57.42", [{"rate": "20 %", "tax": "57.42"}], "300.00", "53.52")
    [discount] = [ln for ln in doc["lines"] if ln["line_type"] == "discount"]
    assert (discount["description"], discount["pricing"], discount["amount"]) == (
        "Coupon launch10",
        "10 % off",
        "-32.90",
    )
    assert doc["seller"]["legal_name"] == "Worked Example Ltd"
    assert (doc["customer"]["billing_address"], doc["customer"]["tax_id"]) == (
        "Rue de la Loi 1\n1000 Bruxelles",
        "BE0123456789",
    )
    html = (home.exports / "INV-2026-09-c_tax.html").read_text()
    assert "Tax 20 %" in html and "Worked Example Ltd" in html and "BE0123456789" in html
    # The promotional grant's 300.00: 296.10 of discount, 3.90 of tax paid (an expense).
    assert q(
        home,
        "select billed_revenue, discounts, tax_billed, credits_applied_to_tax, promotional_discount, "
        "promotional_tax, deferred_to_tax "
        "from marts.fct_revenue_monthly where customer_id = 'c_tax' and month = '2026-09-01'",
    ) == [(D("0.00"), D("-32.90"), D("57.42"), D("3.90"), D("296.10"), D("3.90"), D(0))]
    assert q(
        home,
        "select money, tax_money, deferred_to_tax from marts.fct_credit_ledger "
        "where grant_id = 'ct_promo' and entry_type = 'consumption'",
    ) == [(D("300.00"), D("3.90"), D(0))]
    # Credits pay the item that owes most first: all of tax_calls, then 30.00 of the base fee.
    assert q(
        home,
        "select item, credits_applied from marts.fct_invoice_items "
        "where invoice_id = 'INV-2026-09-c_tax' order by item_order",
    ) == [
        ("base_fee", D("30.00")),
        ("charge:tax_calls", D("270.00")),
        ("charge:tax_gpu", D(0)),
        ("charge:training", D(0)),
    ]
    # October's draft: ct_gpu may pay tax_gpu only, so it leaves the larger base fee unpaid.
    assert q(
        home,
        "select item, due, credits_applied from marts.fct_invoice_items "
        "where invoice_id = 'INV-2026-10-c_tax' and due <> 0 order by item_order",
    ) == [("base_fee", D("52.92"), D(0)), ("charge:tax_gpu", D("21.60"), D("10.00"))]
    assert q(
        home,
        "select credits_applied, total from marts.fct_invoices where invoice_id = 'INV-2026-10-c_tax'",
    ) == [(D("10.00"), D("64.52"))]
    # October's draft: launch10 lasts three months; nobody else is taxed or discounted.
    assert q(
        home,
        "select customer_id, discounts < 0, tax > 0 from marts.fct_invoices "
        "where discounts <> 0 or tax <> 0 order by 1, period_start",
    ) == [("c_tax", True, True), ("c_tax", True, True)]


def test_invoices_issued_before_taxes_read_as_untaxed(worked, tmp_path):
    """A home whose September was issued by a release without taxes (no `tax` on its issued
    invoices, no `tax_rate` on their lines, nothing of tax on its credits): the next run reads
    them as untaxed and changes nothing else."""
    home = Built(worked.home, {}).copy(tmp_path).home
    # That release had no taxes, coupons or frozen items: the customer who has them is left
    # out of the issued store (its September reads as a draft), the rest loses the columns.
    (home.lake_issued / "invoice_items" / "period=2026-09.parquet").unlink()
    drops = {
        "invoices": ["tax", "credit_note_number", "customer_billing_address", "customer_tax_id"],
        "invoice_lines": ["tax_rate", "coupon_id"],
        "credit_consumption": ["tax_money", "deferred_to_tax"],
    }
    for table, columns in drops.items():
        path = home.lake_issued / table / "period=2026-09.parquet"
        pl.read_parquet(path).filter(pl.col("customer_id") != "c_tax").drop(columns).write_parquet(
            path
        )
    figures = (
        "select invoice_id, subtotal, credits_applied, total from marts.fct_invoices "
        "where customer_id <> 'c_tax' order by 1"
    )
    before = q(home, figures)
    assert tally(home, "run", "--from", "2026-10-10", "--to", "2026-10-10").status == 3
    assert q(home, figures) == before
    assert q(
        home, "select count(*) from marts.fct_invoices where status = 'issued' and tax <> 0"
    ) == [(0,)]
    assert q(
        home,
        "select count(*) from marts.fct_invoice_lines where invoice_status = 'issued' and tax_rate <> 0",
    ) == [(0,)]


def test_a_top_up_comes_between_draws_at_close_and_joins_the_ledger(worked):
    """c_wallet's rule (threshold 1,000, top-up 2,000 at 0.01): September's close draws cw_buy
    down to the threshold, tops up, and finishes with cw_buy (TOPUPS in worked_world.py). The
    October draft (base fee 20.00): cw_buy's last 500 credits (5.00), then September's top-up
    10.00 down to the threshold, October's top-up comes, and September's pays 5.00 more."""
    home, sep30 = worked.home, dt.date(2026, 9, 30)
    doc = json.loads(worked.issued["exports/INV-2026-09-c_wallet.json"])
    assert (D(doc["credits_applied"]), D(doc["total"])) == (D("20.00"), D(0))
    assert [(c["grant_id"], D(c["credits"]), D(c["money"])) for c in doc["credits"]] == [
        ("cw_buy", D(2000), D("20.00"))
    ]
    assert q(
        home,
        "select topup_grant_id, topup_id, period_start, created_on, credits, purchase_amount, "
        "currency, kind, status from marts.fct_credit_topups order by period_start",
    ) == [
        (
            "cw_auto@2026-09-01#1",
            "cw_auto",
            dt.date(2026, 9, 1),
            sep30,
            2000,
            D("20.00"),
            "USD",
            "purchased",
            "issued",
        ),
        (
            "cw_auto@2026-10-01#1",
            "cw_auto",
            dt.date(2026, 10, 1),
            dt.date(2026, 10, 31),
            2000,
            D("20.00"),
            "USD",
            "purchased",
            "draft",
        ),
    ]
    assert q(
        home,
        "select entry_date, entry_type, grant_id, source, instance_of, credits, invoice_id, "
        "revenue from marts.fct_credit_ledger where customer_id = 'c_wallet' "
        "order by entry_date, entry_type desc",
    ) == [
        (dt.date(2026, 8, 1), "grant", "cw_buy", "reference", None, 2500, None, 0),
        (sep30, "grant", "cw_auto@2026-09-01#1", "topup", "cw_auto", 2000, None, 0),
        (
            sep30,
            "consumption",
            "cw_buy",
            "reference",
            None,
            -2000,
            "INV-2026-09-c_wallet",
            D("20.00"),
        ),
    ]
    assert q(
        home,
        "select grant_id, sum(credits_applied) from intermediate.int_draft_credits "
        "where entry_type = 'draw' and invoice_id = 'INV-2026-10-c_wallet' group by 1 "
        "order by 1",
    ) == [("cw_auto@2026-09-01#1", D("15.00")), ("cw_buy", D("5.00"))]
    assert q(
        home,
        "select credits_applied, total from marts.fct_invoices "
        "where invoice_id = 'INV-2026-10-c_wallet'",
    ) == [(D("20.00"), D(0))]
    page = (home.reports / "customers" / "c_wallet.html").read_text()
    said = " ".join(page.split('<p id="topups">', 1)[1].split("</p>", 1)[0].split())
    assert said == (
        "Closing October 2026 now would top up the credits automatically: 2,000 credits for "
        "20.00 USD."
    )
    assert '<p id="topups">' not in (home.reports / "customers" / "c_cred.html").read_text()
    notes = [
        json.loads(line)
        for line in home.notifications.read_text().splitlines()
        if "credits_topped_up" in line
    ]
    assert [(n["notification_id"], n["amount"], n["as_of"]) for n in notes] == [
        ("c_wallet:2026-09:credits_topped_up:cw_auto@2026-09-01#1", "20.00", "2026-09-30")
    ]
    assert notes[0]["text"] == (
        "c_wallet: prepaid credits were topped up automatically on 2026-09-30 "
        "(cw_auto@2026-09-01#1, for 20.00 USD) as the balance reached the threshold while "
        "September 2026 was billed."
    )


def test_a_quarter_is_one_invoice_issued_by_the_close_of_its_last_month(worked):
    """c_quarter (worked_world.CADENCE_CUSTOMERS): Q3 from 10 September, issued by the
    September close, its tiers over the quarter, its revenue September's; Q4 is open (its
    whole base fee, in arrears, so far)."""
    home = worked.home
    assert q(
        home,
        "select invoice_id, period_start, period_end, status, subtotal from marts.fct_invoices "
        "where customer_id = 'c_quarter' order by period_start",
    ) == [
        ("INV-2026-07-c_quarter", dt.date(2026, 7, 1), dt.date(2026, 10, 1), "issued", D("70.98")),
        ("INV-2026-10-c_quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "draft", D("300.00")),
    ]
    assert q(
        home,
        "select line_type, quantity, amount from marts.fct_invoice_lines "
        "where invoice_id = 'INV-2026-07-c_quarter' order by 1",
    ) == [("base_fee", D(21), D("68.48")), ("usage", D(3), D("2.50"))]
    document = json.loads((home.exports / "INV-2026-07-c_quarter.json").read_text())
    assert document["period"] == {"first_day": "2026-07-01", "last_day": "2026-09-30"}
    [base] = [ln for ln in document["lines"] if ln["line_type"] == "base_fee"]
    assert base["pricing"] == "300.00 USD per quarter, 21 of 92 days"
    assert q(
        home,
        "select month, billed_revenue from marts.fct_revenue_monthly "
        "where customer_id = 'c_quarter'",
    ) == [(dt.date(2026, 9, 1), D("70.98"))]
    # Q4's spend (its whole base fee so far) against a quarter's budget, 3 x 40.00
    assert q(
        home,
        "select notification_id, amount, budget from marts.fct_spend_notifications "
        "where customer_id = 'c_quarter' order by 1",
    ) == [
        ("c_quarter:2026-10:projected_over_budget", D("300.00"), D("120.00")),
        ("c_quarter:2026-10:spend_threshold:50", D("300.00"), D("120.00")),
    ]


def test_an_anniversary_month_runs_from_the_day_of_subscription(worked):
    """c_anniv: 15 September - 14 October, left open by the September close; its October call
    joins it; spend to date covers the period."""
    home = worked.home
    assert q(
        home,
        "select invoice_id, period_start, period_end, status, subtotal from marts.fct_invoices "
        "where customer_id = 'c_anniv'",
    ) == [
        (
            "INV-2026-09-15-c_anniv",
            dt.date(2026, 9, 15),
            dt.date(2026, 10, 15),
            "draft",
            D("30.30"),
        )
    ]
    assert q(
        home,
        "select period_start, spend_to_date from marts.mart_customer_spend "
        "where customer_id = 'c_anniv'",
    ) == [(dt.date(2026, 9, 15), D("30.30"))]


def test_a_fee_in_advance_bills_the_next_month_and_credits_unused_days(worked):
    """c_ahead (worked_world.CADENCE_CUSTOMERS): 30.00 a month in advance from 21 September
    to 11 October. September's invoice, issued, has September's 10 days and October's whole
    fee, each the revenue of the month it pays for; October's draft credits 21 unused days."""
    home = worked.home
    assert q(
        home,
        "select invoice_id, line_type, quantity, amount, service_period_start, "
        "service_period_end, invoice_status from marts.fct_invoice_lines "
        "where customer_id = 'c_ahead' and line_type = 'base_fee' order by 1, 5",
    ) == [
        (
            "INV-2026-09-c_ahead",
            "base_fee",
            D(10),
            D("10.00"),
            dt.date(2026, 9, 21),
            dt.date(2026, 10, 1),
            "issued",
        ),
        (
            "INV-2026-09-c_ahead",
            "base_fee",
            D(31),
            D("30.00"),
            dt.date(2026, 10, 1),
            dt.date(2026, 11, 1),
            "issued",
        ),
        (
            "INV-2026-10-c_ahead",
            "base_fee",
            D(-21),
            D("-20.32"),
            dt.date(2026, 10, 11),
            dt.date(2026, 11, 1),
            "draft",
        ),
    ]
    assert q(
        home,
        "select invoice_id, subtotal, total from marts.fct_invoices "
        "where customer_id = 'c_ahead' order by 1",
    ) == [
        ("INV-2026-09-c_ahead", D("40.00"), D("40.00")),
        ("INV-2026-10-c_ahead", D("-20.32"), D(0)),
    ]
    assert q(
        home,
        "select month, billed_revenue from marts.fct_revenue_monthly "
        "where customer_id = 'c_ahead' order by 1",
    ) == [(dt.date(2026, 9, 1), D("10.00")), (dt.date(2026, 10, 1), D("30.00"))]
    document = json.loads((home.exports / "INV-2026-09-c_ahead.json").read_text())
    fees = [
        (ln["description"], ln["pricing"])
        for ln in document["lines"]
        if ln["line_type"] == "base_fee"
    ]
    assert fees == [
        ("Ahead plan, base fee", "30.00 USD per month, 10 of 30 days"),
        (
            "Ahead plan, base fee in advance for 2026-10-01 to 2026-10-31",
            "30.00 USD per month, 31 of 31 days",
        ),
    ]


def test_the_finance_page_counts_each_invoice_under_the_month_its_period_starts_in(worked):
    """c_anniv's period from 15 September joins September's row (still open: a draft beside the
    issued monthly invoices), not a second September; c_quarter's quarter is July's."""
    feed = json.loads((worked.home.reports / "index.json").read_text())
    rows = {(r["period_start"][:7], r["currency"]): r for r in feed["issued_vs_billed"]}
    assert len(rows) == len(feed["issued_vs_billed"])
    usd = [c for c, ccy in (CUSTOMERS | CADENCE_CUSTOMERS).items() if ccy == "USD"]
    september = rows[("2026-09", "USD")]
    assert (september["invoices"], september["status"]) == (len(usd) - 1, "issued and draft")
    # c_monthly's quarter is invoiced monthly: its October is October's
    assert (rows[("2026-07", "USD")]["invoices"], rows[("2026-07", "USD")]["status"]) == (
        1,
        "issued",
    )


def test_usage_invoiced_monthly_is_a_monthly_invoice_inside_the_quarter(worked):
    """c_monthly (worked_world.CADENCE_CUSTOMERS): quarters with usage invoiced monthly.
    September, Q3's only month held, is issued with its usage, its month's charge minimum and
    Q3's fee for 21 days; October, Q4's first month, rates its own calls through the tiers
    and against its own minimum again, and has no fee yet (in arrears: on December's)."""
    home = worked.home
    assert q(
        home,
        "select invoice_id, period_start, period_end, status, subtotal from marts.fct_invoices "
        "where customer_id = 'c_monthly' order by 1",
    ) == [
        ("INV-2026-09-c_monthly", dt.date(2026, 9, 1), dt.date(2026, 10, 1), "issued", D("23.34")),
        ("INV-2026-10-c_monthly", dt.date(2026, 10, 1), dt.date(2026, 11, 1), "draft", D("4.00")),
    ]
    assert q(
        home,
        "select invoice_id, line_type, quantity, amount from marts.fct_invoice_lines "
        "where customer_id = 'c_monthly' order by 1, 2",
    ) == [
        ("INV-2026-09-c_monthly", "base_fee", D(21), D("20.54")),
        ("INV-2026-09-c_monthly", "minimum_true_up", D(21), D("0.30")),
        ("INV-2026-09-c_monthly", "usage", D(3), D("2.50")),
        ("INV-2026-10-c_monthly", "minimum_true_up", D(31), D("1.50")),
        ("INV-2026-10-c_monthly", "usage", D(3), D("2.50")),
    ]
    # the document prices the fee by the quarter and the charge's minimum by the month
    document = json.loads((home.exports / "INV-2026-09-c_monthly.json").read_text())
    assert sorted(
        (ln["line_type"], ln["pricing"]) for ln in document["lines"] if ln["line_type"] != "usage"
    ) == [
        ("base_fee", "90.00 USD per quarter, 21 of 92 days"),
        ("minimum_true_up", "4.00 USD per month, 21 of 30 days"),
    ]
    # its budget is a month's: the open invoice is a month
    assert q(
        home,
        "select period_start, period_end, period_months from marts.mart_customer_spend "
        "where customer_id = 'c_monthly'",
    ) == [(dt.date(2026, 10, 1), dt.date(2026, 11, 1), 1)]
