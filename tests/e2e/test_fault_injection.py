"""Fault injection: the worked world with every fault tally must find, and the exact findings.

Faults: one row per quarantine reason, an unreadable file, an overlapping re-export and a
re-delivered file; a billing system that missed an invoice, billed one tally does not have,
and disagrees on subtotal, credits and total (and once within tolerance); then, after
September is closed, a corrupted issued invoice line, a corrupted credit consumption and a
lake file lost. Alerts go to alerts.jsonl and to a local webhook.
"""

import datetime as dt
import json
import shutil
import threading
from dataclasses import dataclass
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, HTTPServer

import polars as pl
import pytest
from worked_world import (
    CADENCE_BILLED,
    CREDITS_APPLIED,
    CUSTOMERS,
    EVENTS,
    SUBTOTALS,
    TAXES,
    q,
    write_csv,
    write_home,
)
from worlds import World, tally

from cli.main import main
from lake.home import Home
from publish.alerts import Alert, raise_alerts

pytestmark = pytest.mark.e2e

HEADER = ["event_id", "occurred_at", "customer_id", "metric", "quantity", "status", "properties"]
SEP = dt.date(2026, 9, 1)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # keep the test output clean
        pass


def _inject_landing_faults(home: Home) -> None:
    usage = home.landing_usage
    faults = usage / "faults" / "faults.csv"
    faults.parent.mkdir(parents=True, exist_ok=True)
    faults.write_text(
        ",".join(HEADER)
        + "\n"
        + "\n".join(
            [
                ",2026-09-03T00:00:00Z,c_unit,api_calls,1,200,",  # missing_event_id
                "f2,not a time,c_unit,api_calls,1,200,",  # bad_timestamp
                "f3,2026-09-03T00:00:00Z,c_nobody,api_calls,1,200,",  # unknown_customer
                "f4,2026-09-03T00:00:00Z,c_unit,gpu_hours,1,200,",  # unknown_metric
                "f5,2026-09-03T00:00:00Z,c_unit,api_calls,lots,200,",  # bad_quantity
                "f6,2026-09-03T00:00:00Z,c_unit,api_calls,-2,200,",  # negative_quantity
                "f7,2030-01-01T00:00:00Z,c_unit,api_calls,1,200,",  # future_timestamp
                "f8,2026-09-03T00:00:00Z,c_unit,api_calls,1",  # malformed_row (ragged)
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (usage / "faults" / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    # An overlapping re-export: three events again, and one new event (c_vol, same max).
    write_csv(
        usage / "reexport" / "2026-09-late-export.csv",
        HEADER,
        [e for e in EVENTS if e[0] in ("u1", "g1", "v1")]
        + [("v4", "2026-09-16T00:00:00Z", "c_vol", "storage_gb", "100", "", "")],
    )
    # The whole first export delivered again under another name.
    shutil.copyfile(usage / "2026-09.csv", usage / "reexport" / "2026-09-copy.csv")


def _inject_billing_faults(home: Home) -> None:
    """billed_invoices.csv as a billing system with slips would have it."""
    rows = []
    for c, subtotal in SUBTOTALS.items():
        credits = CREDITS_APPLIED.get(c, D(0))
        total = subtotal + TAXES.get(c, D(0)) - credits
        if c == "c_vol":
            continue  # missed by the billing system
        if c == "c_grad":
            subtotal, total = subtotal + D("0.50"), total + D("0.50")  # hand-edited
        if c == "c_cred":
            credits, total = credits - D("0.20"), total + D("0.20")  # credits short by 0.20
        if c == "c_pkg":
            subtotal, total = subtotal + D("0.01"), total + D("0.01")  # within tolerance
        rows.append(
            (f"b_{c}", c, "2026-09-01", CUSTOMERS[c], str(subtotal), str(credits), str(total))
        )
    rows.append(("b_aug_c_unit", "c_unit", "2026-08-01", "USD", "1.00", "0", "1.00"))
    rows += CADENCE_BILLED
    write_csv(
        home.landing_reference / "billed_invoices.csv",
        [
            "invoice_id",
            "customer_id",
            "period_start",
            "currency",
            "subtotal",
            "credits_applied",
            "total",
        ],
        rows,
    )


def _corrupt_after_close(home: Home) -> str:
    """An issued line and a credit consumption changed behind tally's back, and a lake file of
    October lost. Returns the batch whose file was lost."""
    lines_file = home.lake_issued / "invoice_lines" / "period=2026-09.parquet"
    lines = pl.read_parquet(lines_file)
    lines.with_columns(
        pl.when(pl.col("invoice_id") == "INV-2026-09-c_unit")
        .then(pl.col("amount") + pl.lit(D("0.01")).cast(pl.Decimal(38, 4)))
        .otherwise(pl.col("amount"))
        .alias("amount")
    ).write_parquet(lines_file)
    consumption_file = home.lake_issued / "credit_consumption" / "period=2026-09.parquet"
    consumption = pl.read_parquet(consumption_file)
    consumption.with_columns(
        pl.when(pl.col("grant_id") == "cr_buy")
        .then(pl.lit(D("8.00")).cast(pl.Decimal(38, 4)))
        .otherwise(pl.col("money"))
        .alias("money")
    ).write_parquet(consumption_file)
    [lost] = sorted((home.lake_events / "event_date=2026-10-01").glob("batch-*.parquet"))
    lost.unlink()
    # An exporter re-sends an event id with another day's timestamp.
    write_csv(
        home.landing_usage / "reexport" / "2026-10-resend.csv",
        HEADER,
        [("v1", "2026-09-25T10:00:00Z", "c_vol", "storage_gb", "80", "", "")],
    )
    return lost.name.split("-")[1]


def _build_faulty(home: Home, _params) -> dict:
    """The worked world with its faults, run and closed, corrupted, then run and closed again,
    with every alert also POSTed to a local webhook."""
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    write_home(home)
    _inject_landing_faults(home)
    _inject_billing_faults(home)
    run = ["--from", "2026-09-01", "--to", "2026-10-01"]
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TALLY_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
            statuses = [tally(home, "run", *run), tally(home, "close", "--month", "2026-09")]
            findings_before = q(home, "select check_name from marts.fct_billing_mismatches")
            lost_batch = _corrupt_after_close(home)
            statuses += [tally(home, "run", *run), tally(home, "close", "--month", "2026-10")]
    finally:
        server.shutdown()
    return {
        "statuses": [s.status for s in statuses],
        "findings_before": findings_before,
        "lost_batch": lost_batch,
        "alerts_written": home.alerts.read_text().splitlines(),
        "alerts_posted": list(_Hook.received),
    }


FAULTY = World("faulty", _build_faulty)


@dataclass(frozen=True)
class Faulty:
    home: Home  # this module's copy
    statuses: list[int]  # run, close September, run after the corruption, close October
    findings_before: list[tuple]  # the findings before the corruption
    lost_batch: str  # the batch whose October file was lost
    alerts_written: list[str]  # alerts.jsonl after the build
    alerts_posted: list[dict]  # what the webhook received meanwhile


@pytest.fixture(scope="module")
def faulty(worlds, tmp_path_factory) -> Faulty:
    built = worlds.get(FAULTY).copy(tmp_path_factory.mktemp("faulty"))
    return Faulty(built.home, **built.facts)


def test_exit_statuses_tell_warnings_from_blocking_failures(faulty):
    statuses = faulty.statuses
    # run and close with only billing-system warnings: 3; after the corruption the run finds
    # blocking errors (1) and October's close is refused (1).
    assert statuses == [3, 3, 1, 1]


def test_every_quarantine_reason_is_found_and_nothing_valid_is_lost(faulty):
    home = faulty.home
    reasons = dict(q(home, "select reason, count(*) from marts.fct_quarantined_events group by 1"))
    assert reasons == {
        "missing_event_id": 1,
        "bad_timestamp": 1,
        "unknown_customer": 1,
        "unknown_metric": 1,
        "bad_quantity": 1,
        "negative_quantity": 1,
        "future_timestamp": 1,
        "malformed_row": 1,
        "unreadable_file": 1,
    }
    [(status, error)] = q(
        home,
        "select status, error from marts.fct_ingested_files where file_path like '%broken.parquet'",
    )
    assert status == "failed" and "parquet" in error.lower()
    [(accepted, duplicates, read)] = q(
        home,
        "select sum(rows_accepted), sum(duplicates_dropped), sum(rows_read) "
        "from marts.fct_ingested_files",
    )
    # The worked events, the re-export's new event, and v1 re-sent with another day's
    # timestamp: ingestion cannot tell it from a new event (see event_id_reused below).
    assert accepted == len(EVENTS) + 2
    assert duplicates == 3  # the three re-exported events
    assert read == accepted + duplicates + 8  # eight faulty rows; the unreadable file has none
    # The re-delivered file is recognized by its content and read no further.
    [(status, rows)] = q(
        home,
        "select status, rows_read from marts.fct_ingested_files "
        "where file_path like '%2026-09-copy.csv'",
    )
    assert (status, rows) == ("already_ingested", 0)


def test_billing_system_disagreements_are_exact_warnings(faulty):
    home, findings_before = faulty.home, faulty.findings_before
    rows = q(
        home,
        "select check_name, customer_id, period_start, expected, actual, difference "
        "from marts.fct_billing_mismatches where severity = 'warning' order by 1, 2",
    )
    assert rows == [
        # the corrupted issued line: 0.05 was issued, 0.04 is right
        ("adjustment_pending", "c_unit", SEP, D("0.05"), D("0.04"), D("-0.01")),
        ("credits_differ", "c_cred", SEP, D("20.00"), D("20.20"), D("0.20")),
        # c_unit's credits, which its plan never draws (test_worked_invoices)
        ("credits_not_accepted", "c_unit", dt.date(2026, 10, 1), D(2200), D(0), D(-2200)),
        ("invoice_missing_in_billing_system", "c_vol", SEP, None, D("53.20"), D("53.20")),
        ("invoice_missing_in_tally", "c_unit", dt.date(2026, 8, 1), D("1.00"), None, D("-1.00")),
        ("subtotal_differs", "c_grad", SEP, D("4.54"), D("4.04"), D("-0.50")),
        ("total_differs", "c_cred", SEP, D("0.20"), D(0), D("-0.20")),
        ("total_differs", "c_grad", SEP, D("4.54"), D("4.04"), D("-0.50")),
    ]
    assert sorted(r[0] for r in findings_before) == sorted(r[0] for r in rows[1:])


def test_corruption_and_loss_are_blocking_errors(faulty):
    home, lost_batch = faulty.home, faulty.lost_batch
    rows = q(
        home,
        "select check_name, customer_id, subject, expected, actual "
        "from marts.fct_billing_mismatches where severity = 'error' order by 1",
    )
    assert rows == [
        # the first batch accepted every valid event; u7 (1 October UTC) is gone from the lake
        ("conservation_lake", None, f"batch {lost_batch}", len(EVENTS) + 1, len(EVENTS)),
        ("credits_differ_from_ledger", "c_cred", "INV-2026-09-c_cred", D("20.00"), D("20.20")),
        ("event_id_reused", None, "v1", D(1), D(2)),  # 5 and 25 September
        ("lines_differ_from_subtotal", "c_unit", "INV-2026-09-c_unit", D("0.04"), D("0.05")),
    ]


def test_a_blocking_finding_stops_the_close_and_says_why(faulty, capsys):
    home = faulty.home
    assert not (home.lake_issued / "invoices" / "period=2026-10.parquet").exists()
    assert main(["close", "--home", str(home.root), "--month", "2026-10"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tally: not closing 2026-10: 4 blocking finding(s)")
    assert "event_id_reused x1" in err
    assert "conservation_lake x1" in err and "lines_differ_from_subtotal x1" in err


def test_alerts_reach_the_file_and_the_webhook(faulty):
    written = [json.loads(line) for line in faulty.alerts_written]
    assert written == faulty.alerts_posted  # every alert, byte for byte the same object
    checks = {(a["check"], a["severity"]) for a in written}
    assert {
        ("fct_billing_mismatches:agrees_with_billing_system", "warning"),
        ("fct_billing_mismatches:rows_conserved", "error"),
        ("fct_billing_mismatches:lines_sum_to_subtotal", "error"),
        ("fct_billing_mismatches:credits_match_ledger", "error"),
    } <= checks
    for alert in written:
        assert alert["text"].startswith(f":rotating_light: tally {alert['severity']}:")
        assert alert["partition"] and alert["summary"] and alert["run_id"]
    # An alert names the billing periods its findings belong to, not the run's range.
    partitions = {a["check"].split(":")[1]: a["partition"] for a in written}
    assert partitions["credits_match_ledger"] == "2026-09-01"
    assert partitions["lines_sum_to_subtotal"] == "2026-09-01"
    assert partitions["rows_conserved"].endswith("no period")  # a batch's events lost


def test_a_failing_webhook_is_logged_and_never_fatal(tmp_path, caplog):
    home = Home.at(tmp_path)
    alert = Alert("asset:check", "error", "2026-09-01", "something is off", {"findings": 2})
    failed = raise_alerts(home, [alert], webhook="http://127.0.0.1:9/unreachable")
    assert failed == 1
    [line] = home.alerts.read_text().splitlines()
    assert json.loads(line)["counts"] == {"findings": 2}
    assert "alert webhook failed" in caplog.text


def test_the_failure_sensor_alerts_for_runs_the_cli_did_not_start(faulty):
    """A scheduled month close (no CLI tag) of October fails on the blocking findings; the
    run-failure sensor writes the alert."""
    import dagster as dg

    from orchestration.definitions import defs as load
    from orchestration.defs.sensors import alert_on_failed_runs
    from orchestration.settings import TallySettings

    home = faulty.home
    before = len(home.alerts.read_text().splitlines())
    with dg.instance_for_test() as instance, pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALLY_HOME", str(home.root))
        result = (
            load()
            .resolve_job_def("month_close")
            .execute_in_process(instance=instance, partition_key="2026-10-01", raise_on_error=False)
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_failed_runs",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
            resources={"settings": TallySettings(home=str(home.root))},
        ).for_run_failure()
        alert_on_failed_runs(context)
    new = [json.loads(line) for line in home.alerts.read_text().splitlines()[before:]]
    assert [(a["check"], a["severity"], a["partition"]) for a in new] == [
        ("run:month_close:issue_invoices", "error", "2026-10-01")
    ]
    assert new[0]["summary"].startswith("not closing 2026-10: 4 blocking finding(s)")


def test_the_summary_names_each_unreadable_file_with_its_reason(faulty, capsys):
    from cli.summary import print_summary

    home = faulty.home
    print_summary(home)
    out = capsys.readouterr().out
    assert "    unreadable: landing/usage/faults/broken.parquet: not a readable Parquet file" in out
