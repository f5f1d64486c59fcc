"""A retroactive price change and a late event after close, simulated first, then backfilled:
the issued invoices stay as they were and every difference becomes an adjustment. Re-runs,
including one killed halfway, give identical marts."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import pytest
from worked_world import WORKED, q, write_csv
from worlds import Built

from cli.main import main
from lake.home import Home

pytestmark = pytest.mark.e2e

HEADER = ["event_id", "occurred_at", "customer_id", "metric", "quantity", "status", "properties"]

# Version 3 of `unit`, effective from 1 September: calls cost 0.03 instead of 0.01.
CORRECTION = """\
plans:
  - plan_id: unit
    version: 3
    effective_from: 2026-09-01
    currency: USD
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.03", free_units: 2}
  # c_ahead's fee from October, which September's close billed in advance at 30.00
  - plan_id: ahead
    name: Ahead
    version: 2
    effective_from: 2026-10-01
    currency: USD
    base_fee_timing: in_advance
    base_fee: "36.00"
    charges:
      - {charge_id: h_calls, metric: h_calls, aggregation: count, model: per_unit,
         unit_price: "0.10"}
"""
MARTS = (
    "fct_usage_daily",
    "fct_invoice_lines",
    "fct_invoices",
    "fct_invoice_adjustments",
    "fct_credit_ledger",
    "fct_revenue_monthly",
    "mart_customer_spend",
    "fct_ingested_files",
    "fct_quarantined_events",
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _marts(home: Home) -> dict[str, list]:
    return {m: sorted(q(home, f"select * from marts.{m}"), key=repr) for m in MARTS}


def _run(home: Home, start="2026-09-01", end="2026-09-30") -> int:
    return main(["run", "--home", str(home.root), "--from", start, "--to", end])


@dataclass(frozen=True)
class Backfilled:
    """The worked world (September closed) on this module's copy, after a simulation of the
    price correction, the correction merged with a late September call, and a backfill."""

    home: Home
    issued: dict[str, bytes]  # the invoice documents as September's close wrote them
    simulated: int  # simulate's exit status
    simulation: Path  # its --output file
    before: dict[Path, str]  # every file of the home (digest) before the simulation
    after: dict[Path, str]  # and after it
    backfilled: int  # the backfill run's exit status
    marts: dict[str, list]  # the marts it left
    rerun: int  # the same run again


@pytest.fixture(scope="module")
def backfilled(worlds, tmp_path_factory) -> Backfilled:
    built = worlds.get(WORKED).copy(tmp_path_factory.mktemp("backfill"))
    # 3: c_unit's credits, which its plan never draws, are a warning (test_worked_invoices)
    assert (built.facts["run"].status, built.facts["close"].status) == (3, 3)
    home = built.home
    issued = {p.name: p.read_bytes() for p in home.exports.glob("*.json")}

    # 1. Simulate the candidate price book: nothing in the home may change.
    candidate = tmp_path_factory.mktemp("pr") / "plans.yaml"
    candidate.write_text(
        (home.pricing / "plans.yaml").read_text() + CORRECTION.removeprefix("plans:\n")
    )
    before = {p: _digest(p) for p in sorted(home.root.rglob("*")) if p.is_file()}
    sim_csv = tmp_path_factory.mktemp("sim") / "sim.csv"
    sim_status = main(
        ["simulate", "--home", str(home.root), "--price-book", str(candidate), "--month", "2026-09",
         "--output", str(sim_csv)]
    )  # fmt: skip
    after = {p: _digest(p) for p in sorted(home.root.rglob("*")) if p.is_file()}

    # 2. Merge the pricing change and receive a late September call, then backfill September.
    (home.pricing / "2026-09-correction.yaml").write_text(CORRECTION)
    write_csv(
        home.landing_usage / "late" / "2026-10-12.csv",
        HEADER,
        [("late1", "2026-09-20T08:00:00Z", "c_unit", "api_calls", "1", "200", "")],
    )
    backfill_status = _run(home)
    marts = _marts(home)
    return Backfilled(
        home, issued, sim_status, sim_csv, before, after, backfill_status, marts, _run(home)
    )


def test_simulating_a_month_without_usage_says_so(backfilled, capsys):
    home = backfilled.home
    args = ["--price-book", str(home.pricing), "--month", "2027-03"]
    assert main(["simulate", "--home", str(home.root), *args]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        "  note: the lake has no usage in 2027-03: the figures are the subscriptions' fees "
        "and minimums only"
    )
    assert out[2] == (
        "  note: left out, billed by quarter, year or anniversary or with the base fee in "
        "advance rather than by calendar month in arrears: c_ahead, c_anniv, c_monthly, c_quarter"
    )
    assert not any(line.startswith("shape:") for line in out)


def test_simulation_prints_the_difference_and_writes_nothing(backfilled, capsys):
    assert backfilled.simulated == 0
    assert backfilled.before == backfilled.after  # not one byte of the home changed
    lines = backfilled.simulation.read_text().splitlines()[1:]
    rows = {r.split(",")[0]: r.split(",")[2:] for r in lines}
    # c_unit: 6 calls, 2 free: 0.04 at 0.01, 0.12 at 0.03
    assert [D(x) for x in rows["c_unit"]] == [D("0.04"), D("0.12"), D("0.08")]
    # c_change: 4 calls on unit (0.02 -> 0.06), the rest unchanged: 18.02 -> 18.06
    assert [D(x) for x in rows["c_change"]] == [D("18.02"), D("18.06"), D("0.04")]
    assert [D(x) for x in rows["c_grad"]] == [D("4.04"), D("4.04"), D(0)]
    # The simulation rates in Python what the warehouse rated in SQL, to the cent, for every
    # kind of charge: tiers at a rate and in packages, packages rounded down, avg, min and
    # weighted_sum (591.00 + 15.00 + 51.00 + 4.00 + 210.00 + 15.00 + 1.50), caps and true-ups
    # (7.00 - 2.00 + 1.00 + 2.00 - 2.00).
    assert [D(x) for x in rows["c_breadth"]] == [D("887.50"), D("887.50"), D(0)]
    assert [D(x) for x in rows["c_caps"]] == [D("6.00"), D("6.00"), D(0)]
    # Buckets by the day and by the hour, each priced on its own: 2.15 + 1.90 + 30.00.
    assert [D(x) for x in rows["c_bucket"]] == [D("34.05"), D("34.05"), D(0)]
    # Percentage fees event by event, after free allowances, within bounds: 11.15 + 13.79.
    assert [D(x) for x in rows["c_cards"]] == [D("24.94"), D("24.94"), D(0)]
    # A line per group at the group's price: 2.40 + 3.00 + 0.02 + 3.00 + 14.00.
    assert [D(x) for x in rows["c_groups"]] == [D("22.42"), D("22.42"), D(0)]
    # A coupon applied in order, as the warehouse applies it: 329.00 - 32.90.
    assert [D(x) for x in rows["c_tax"]] == [D("296.10"), D("296.10"), D(0)]
    # The quarterly, anniversary and in-advance customers are no calendar month's invoice in
    # arrears: left out.
    assert not {"c_quarter", "c_anniv", "c_ahead", "c_monthly"} & set(rows)


def test_simulating_recurring_charges_reads_the_months_before(backfilled, tmp_path):
    """October has no c_recur event: what its recurring charges bill is September's, carried
    (5 seats = 5.00, member A = 3.00, 10 GB all month = 1.00), in the warehouse's draft and in
    the simulation alike."""
    home, out = backfilled.home, tmp_path / "october.csv"
    args = ["--price-book", str(home.pricing), "--month", "2026-10", "--output", str(out)]
    assert main(["simulate", "--home", str(home.root), *args]) == 0
    rows = {r.split(",")[0]: r.split(",")[2:] for r in out.read_text().splitlines()[1:]}
    assert [D(x) for x in rows["c_recur"]] == [D("9.00"), D("9.00"), D(0)]


def test_backfill_turns_every_difference_into_an_adjustment(backfilled):
    home, issued = backfilled.home, backfilled.issued
    rows = q(
        home,
        "select invoice_id, charge_id, issued_amount, recomputed_amount, difference, reason "
        "from marts.fct_invoice_adjustments order by 1, 2",
    )
    assert rows == [
        # October's fee, billed in advance by September's invoice: 30.00 -> 36.00 (with
        # September's own 10 days, 40.00 -> 46.00)
        ("INV-2026-09-c_ahead", "base_fee", D("40.00"), D("46.00"), D("6.00"), "price_change"),
        # 4 calls, 2 free, now at 0.03: 0.02 -> 0.06
        ("INV-2026-09-c_change", "calls", D("0.02"), D("0.06"), D("0.04"), "price_change"),
        # 6 calls + the late one, 2 free, at 0.03: 0.04 -> 0.15
        ("INV-2026-09-c_unit", "calls", D("0.04"), D("0.15"), D("0.11"), "both"),
    ]
    # The issued invoices themselves are untouched.
    assert {p.name: p.read_bytes() for p in home.exports.glob("*.json")} == issued


def test_pending_adjustments_ride_on_the_next_open_invoice(backfilled):
    home = backfilled.home
    rows = q(
        home,
        "select invoice_id, charge_id, amount, invoice_status from marts.fct_invoice_lines "
        "where line_type = 'adjustment' order by 1",
    )
    assert rows == [
        ("INV-2026-10-c_ahead", "INV-2026-09-c_ahead:base_fee", D("6.00"), "draft"),
        ("INV-2026-10-c_change", "INV-2026-09-c_change:calls", D("0.04"), "draft"),
        ("INV-2026-10-c_unit", "INV-2026-09-c_unit:calls", D("0.11"), "draft"),
    ]
    pending = q(
        home,
        "select invoice_id, carried_amount, pending_amount, pending_on_invoice_id "
        "from marts.fct_invoice_adjustments order by 1",
    )
    assert pending == [
        ("INV-2026-09-c_ahead", 0, D("6.00"), "INV-2026-10-c_ahead"),
        ("INV-2026-09-c_change", 0, D("0.04"), "INV-2026-10-c_change"),
        ("INV-2026-09-c_unit", 0, D("0.11"), "INV-2026-10-c_unit"),
    ]
    # October's unused days are credited at the fee now in force for October: 36.00 x 21 / 31
    assert q(
        home,
        "select amount from marts.fct_invoice_lines "
        "where invoice_id = 'INV-2026-10-c_ahead' and line_type = 'base_fee'",
    ) == [(D("-24.39"),)]


def test_closing_the_next_month_carries_them_once(backfilled, tmp_path):
    """Closing October freezes the adjustment lines on its invoices; nothing stays pending."""
    home = Built(backfilled.home, {}).copy(tmp_path).home
    assert main(["close", "--home", str(home.root), "--month", "2026-10"]) in (0, 3)
    doc_lines = q(
        home,
        "select invoice_id, amount, invoice_status from marts.fct_invoice_lines "
        "where line_type = 'adjustment' order by 1",
    )
    assert doc_lines == [
        ("INV-2026-10-c_ahead", D("6.00"), "issued"),
        ("INV-2026-10-c_change", D("0.04"), "issued"),
        ("INV-2026-10-c_unit", D("0.11"), "issued"),
    ]
    pending = q(
        home,
        "select invoice_id, carried_amount, pending_amount, pending_on_invoice_id "
        "from marts.fct_invoice_adjustments order by 1",
    )
    assert pending == [
        ("INV-2026-09-c_ahead", D("6.00"), 0, None),
        ("INV-2026-09-c_change", D("0.04"), 0, None),
        ("INV-2026-09-c_unit", D("0.11"), 0, None),
    ]


def test_the_late_event_lands_in_its_own_day(backfilled):
    home = backfilled.home
    [(events,)] = q(
        home,
        "select sum(events) from marts.fct_usage_daily "
        "where customer_id = 'c_unit' and usage_date = date '2026-09-20'",
    )
    assert events == 1


def test_rerunning_the_range_gives_identical_marts(backfilled):
    assert backfilled.backfilled == backfilled.rerun == 3  # late usage after close: a warning
    assert _marts(backfilled.home) == backfilled.marts


def test_a_run_killed_halfway_then_rerun_gives_identical_marts(backfilled, tmp_path):
    home, marts = backfilled.home, backfilled.marts
    write_csv(
        home.landing_usage / "late" / "2026-10-13.csv",
        HEADER,
        [("late2", "2026-09-21T08:00:00Z", "c_grad", "tokens", "0", "200", "")],
    )
    tally = Path(sys.executable).with_name("tally")
    args = [
        str(tally),
        "run",
        "--home",
        str(home.root),
        "--from",
        "2026-09-01",
        "--to",
        "2026-09-30",
    ]
    dbt_log = home.root / ".dagster" / "dbt-target" / "dbt.log"
    logged = dbt_log.stat().st_size
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, env=os.environ)
    deadline = time.monotonic() + 120
    while dbt_log.stat().st_size == logged and time.monotonic() < deadline:
        time.sleep(0.2)  # until dbt writes its log: the run is inside the dbt step
    assert proc.poll() is None, "the run ended before it could be killed inside the dbt step"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    # In a subprocess with a timeout: the killed run held the warehouse pool's only slot, and a
    # rerun that waited for it would wait forever.
    rerun = subprocess.run(args, capture_output=True, text=True, env=os.environ, timeout=600)
    assert rerun.returncode == 3, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "was interrupted earlier; marked failed" in rerun.stdout
    after = _marts(home)
    # The new zero-token event is the only change: usage gains one event, nothing else moves.
    changed = {m for m in MARTS if after[m] != marts[m]}
    assert changed <= {"fct_usage_daily", "fct_ingested_files"}
    [(events,)] = q(
        home, "select count(*) from staging.stg_lake__usage_events where event_id = 'late2'"
    )
    assert events == 1
    assert _run(home) == 3 and _marts(home) == after
