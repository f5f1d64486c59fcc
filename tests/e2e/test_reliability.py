"""Faults around a run and a close, on one small world, in the order they meet a real home:

1. an analyst holds the warehouse open read-only while the nightly runs: the run succeeds;
2. a process holds the warehouse open for writing: the run stops at dbt with one line, and
   `tally close` refuses the stale marts (new events were ingested after the last build);
3. close crashes between writing the lines and credit consumption and its commit: nothing it
   wrote is read, the next run is clean, and the close then issues once; a customer id with
   `/` gets an escaped document inside exports/;
4. closing the issued month again changes nothing and says so.
"""

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import polars as pl
import pytest
from worlds import World

import lake.issued
import orchestration.defs.publish.assets
from cli.main import main
from demo.generate import GenerateConfig, generate
from lake.home import Home
from publish.notifications import undelivered

pytestmark = pytest.mark.e2e

SLASHED = "zz/x"  # a customer id with a slash
RUN = ["--from", "2026-09-01", "--to", "2026-10-03"]


def _append_csv(path, row: dict) -> None:
    with path.open(newline="") as fh:
        header = next(csv.reader(fh))
    with path.open("a", newline="") as fh:
        csv.writer(fh).writerow([row.get(c, "") for c in header])


def _land(home: Home, config: GenerateConfig) -> dict:
    """A small generated world, and a customer whose id holds a slash; nothing run yet."""
    generate(home, config)
    ref = home.landing_reference
    first = pl.read_csv(ref / "subscriptions.csv", infer_schema=False).row(0, named=True)
    customer = pl.read_csv(ref / "customers.csv", infer_schema=False).filter(
        pl.col("customer_id") == first["customer_id"]
    )
    _append_csv(
        ref / "customers.csv",
        {**customer.row(0, named=True), "customer_id": SLASHED, "name": "Slash & Co"},
    )
    _append_csv(
        ref / "subscriptions.csv",
        {
            "subscription_id": "s-slash",
            "customer_id": SLASHED,
            "plan_id": first["plan_id"],
            "started_at": "2026-09-01",
        },
    )
    (home.landing_usage / "slash.csv").write_text(
        "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
        f"slash-1,2026-09-10T10:00:00Z,{SLASHED},api_calls,1,200,\n"
        # before the customer's subscription starts: nothing bills it
        f"slash-0,2026-08-20T10:00:00Z,{SLASHED},api_calls,1,200,\n"
    )
    return {}


LANDED = World(
    "reliability", _land, GenerateConfig(customers=4, days=33, events_per_day=150, seed=5)
)


@pytest.fixture(scope="module")
def home(worlds, tmp_path_factory) -> Home:
    """This module's copy: every test here runs commands on it, in order."""
    return worlds.get(LANDED).copy(tmp_path_factory.mktemp("reliability")).home


def _hold(home: Home, *, read_only: bool) -> subprocess.Popen:
    """Another process with the warehouse open, until it is killed."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys, time
        con = duckdb.connect({str(home.warehouse)!r}, read_only={read_only})
        print(con.execute("select count(*) from marts.fct_invoices").fetchone()[0], flush=True)
        time.sleep(600)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip().isdigit()  # open before the run starts
    return holder


def _late_event(home: Home, name: str, event_id: str) -> None:
    customer = pl.read_csv(home.landing_reference / "subscriptions.csv", infer_schema=False)[
        "customer_id"
    ][0]
    (home.landing_usage / name).write_text(
        "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
        f"{event_id},2026-09-20T10:00:00Z,{customer},api_calls,1,200,\n"
    )


# Two runs of a fresh world each, about a minute: `make test-slow` (CI runs it), keeping `make
# test` within its ten minutes.
@pytest.mark.slow
def test_a_reader_holding_the_warehouse_does_not_block_the_nightly(home, capsys):
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    reader = _hold(home, read_only=True)
    try:
        _late_event(home, "late-1.csv", "late-1")
        status = main(["run", "--home", str(home.root), *RUN])
        assert status in (0, 3), capsys.readouterr()
    finally:
        reader.kill()
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        [(n,)] = con.execute(
            "select count(*) from staging.stg_lake__usage_events where event_id = 'late-1'"
        ).fetchall()
        uncovered = con.execute(
            "select customer_id, period_start, subject, severity, actual from "
            "marts.fct_billing_mismatches where check_name = 'usage_without_subscription'"
        ).fetchall()
    assert n == 1
    # usage that no subscription covers is revenue leakage: a finding, never silent
    assert uncovered == [(SLASHED, dt.date(2026, 8, 1), "api_calls", "warning", 1)]


def test_a_writer_holding_the_warehouse_stops_the_run_in_one_line_and_close_refuses(home, capsys):
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)  # a warehouse to hold
    writer = _hold(home, read_only=False)
    try:
        _late_event(home, "late-2.csv", "late-2")
        capsys.readouterr()
        status = main(["run", "--home", str(home.root), *RUN])
        out = capsys.readouterr().out
    finally:
        writer.kill()
        writer.wait()
    assert status == 2
    [failure] = [line for line in out.splitlines() if line.startswith("run failed at:")]
    assert "is open for writing by another process" in failure
    assert "Conflicting lock" in failure

    status = main(["close", "--home", str(home.root), "--month", "2026-09"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("tally: not closing 2026-09: the marts are out of date: ")
    assert "events were ingested after the marts were last built" in err
    assert not lake.issued.is_issued(home, dt.date(2026, 9, 1))


def test_new_landing_files_after_the_run_make_close_refuse(home, capsys):
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    _late_event(home, "late-3.csv", "late-3")
    capsys.readouterr()
    status = main(["close", "--home", str(home.root), "--month", "2026-09"])
    assert status == 2
    assert (
        "1 landing file(s) arrived or changed since the last run (e.g. landing/usage/late-3.csv)"
        in (capsys.readouterr().err)
    )


@pytest.mark.slow  # as above: two runs and a close of a fresh world
def test_the_full_audit_at_close_finds_what_the_nightly_does_not_read(home, capsys):
    """A lake file edited by hand on a day no new batch touches: the nightly rebuilds only the
    days its batches touched and counts events from file footers, so it sees nothing wrong; the
    full audit at month close reads every event and refuses the close."""
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    [path, *_] = sorted((home.lake_events / "event_date=2026-09-05").glob("batch-*.parquet"))
    original = path.read_bytes()
    events = pl.read_parquet(path)
    first_row = pl.int_range(pl.len()) == 0
    edited = pl.when(first_row).then(pl.col("quantity") + 1).otherwise(pl.col("quantity"))
    events.with_columns(edited.cast(events.schema["quantity"])).write_parquet(path)
    try:
        assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            errors = con.execute(
                "select count(*) from marts.fct_billing_mismatches where severity = 'error'"
            ).fetchone()[0]
        assert errors == 0  # the nightly's checks pass

        capsys.readouterr()
        status = main(["close", "--home", str(home.root), "--month", "2026-09"])
        out = capsys.readouterr()
        assert status == 2
        assert (
            "2026-09 not closed: the full audit of the lake found audit_day_aggregate_quantity (1)"
            in out.out + out.err
        )
        assert not lake.issued.is_issued(home, dt.date(2026, 9, 1))
        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            finding = con.execute(
                "select subject, expected - actual from audit.audit_lake"
            ).fetchall()
        assert finding == [("2026-09-05", 1)]
    finally:
        path.write_bytes(original)


def test_a_run_whose_publish_step_fails_exits_2(home, monkeypatch, capsys):
    """The marts are built and checked, but the pages are not: the run did not complete."""
    _late_event(home, "late-4.csv", "late-4")

    def disk_full(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(orchestration.defs.publish.assets, "build_reports", disk_full)
    capsys.readouterr()
    assert main(["run", "--home", str(home.root), *RUN]) == 2
    out = capsys.readouterr().out
    assert "run failed at: publish: disk full (injected)" in out
    assert "summary:" not in out


def _invoiced(home: Home) -> list[tuple]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(
            "select invoice_id, line_type, sum(amount) from marts.fct_invoice_lines "
            "group by all order by all"
        ).fetchall()


def _cut(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_records_cut_short_are_unknown_close_waits_and_the_next_run_rebuilds(home, capsys):
    """built.json, last_run.json, the incremental store and a batch's manifest, all cut short
    (a full disk, a bad copy): close refuses in one line, the next run rebuilds what they
    vouched for, and the invoices come out the same."""
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    before = _invoiced(home)
    september = pl.read_parquet(home.lake_batch_days / "*.parquet").filter(
        pl.col("event_date") == dt.date(2026, 9, 10)
    )["batch_id"][0]
    for path in (
        home.warehouse_folder / "built.json",
        home.warehouse_folder / "last_run.json",
        home.incremental_store,
        home.lake_ingested_files / f"batch-{september}.parquet",
    ):
        _cut(path)
    capsys.readouterr()
    assert main(["close", "--home", str(home.root), "--month", "2026-09"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tally: not closing 2026-09: the marts are out of date: ")
    assert err.endswith("run `tally run` first, then close\n")

    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    assert "Traceback" not in capsys.readouterr().err
    assert _invoiced(home) == before
    assert list((home.lake / "unreadable").glob(f"batch-{september}/ingested_files/*.parquet"))
    assert list(home.warehouse.parent.glob("incremental.duckdb.unreadable-*"))
    assert json.loads((home.warehouse_folder / "built.json").read_text())["batches"]


class _Webhook(BaseHTTPRequestHandler):
    received: list[tuple[str, str]] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((body["notification_id"], self.headers["Idempotency-Key"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_run_with_nothing_new_still_delivers_what_waits_for_the_webhook(
    home, monkeypatch, capsys
):
    """The runs so far recorded spend notifications with no webhook set; now it is set."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("TALLY_NOTIFY_WEBHOOK", f"http://127.0.0.1:{httpd.server_port}/t/secret")
    try:
        waiting = undelivered(home)
        assert waiting
        capsys.readouterr()
        assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
        out = capsys.readouterr().out
        assert "nothing new since run" in out
        n = len(waiting)
        assert f"webhook: {n} of {n} waiting spend notification(s) delivered\n" in out
        assert _Webhook.received == [(i, i) for i in waiting]
        assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
        assert "webhook:" not in capsys.readouterr().out
        assert len(_Webhook.received) == n and undelivered(home) == []
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_landing_file_edited_in_place_refuses_the_close(home, capsys):
    """Rewritten with the same size and modification time: no nightly reads it again (it
    looks at names, sizes and times), so close hashes the files of the month's batches."""
    path = home.landing_usage / "slash.csv"
    original, stat = path.read_bytes(), path.stat()
    path.write_bytes(original.replace(b",api_calls,1,200,", b",api_calls,9,200,", 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    try:
        capsys.readouterr()
        assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
        assert "nothing new since run" in capsys.readouterr().out
        assert main(["close", "--home", str(home.root), "--month", "2026-09"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            "tally: not closing 2026-09: landing/usage/slash.csv is not what batch "
        )
        assert err.count("\n") == 1
        assert not lake.issued.is_issued(home, dt.date(2026, 9, 1))
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_month_with_no_invoice_closes_to_nothing_and_closes_later_when_one_appears(home, capsys):
    """August: no subscription was active yet. Its close issues and records nothing (a
    mistyped month is not closed for good); once a subscription for August lands, August
    closes as any month, and the close says how many invoices it issued."""
    capsys.readouterr()
    assert main(["close", "--home", str(home.root), "--month", "2026-08"]) == 0
    assert capsys.readouterr().out == (
        "close: 2026-08 has no invoice to issue (no billing period ends in it): nothing "
        "issued, nothing recorded\n"
    )
    assert not list(home.lake_issued.rglob("period=2026-08.parquet"))
    assert not lake.issued.is_issued(home, dt.date(2026, 8, 1))

    ref = home.landing_reference
    plan = pl.read_csv(ref / "subscriptions.csv", infer_schema=False)["plan_id"][0]
    currency = pl.read_csv(ref / "customers.csv", infer_schema=False)["currency"][0]
    _append_csv(
        ref / "customers.csv", {"customer_id": "late-co", "name": "Late Co", "currency": currency}
    )
    _append_csv(
        ref / "subscriptions.csv",
        {
            "subscription_id": "s-late",
            "customer_id": "late-co",
            "plan_id": plan,
            "started_at": "2026-08-01",
            "ended_at": "2026-09-01",
        },
    )
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    capsys.readouterr()
    assert main(["close", "--home", str(home.root), "--month", "2026-08"]) in (0, 3)
    out = capsys.readouterr().out
    assert re.search(rf"invoices issued +1   {currency} [\d,]+\.\d\d\n", out), out
    assert lake.issued.is_issued(home, dt.date(2026, 8, 1))


def test_a_close_that_crashes_before_its_commit_leaves_nothing_that_is_read(
    home, monkeypatch, capsys
):
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    real_write = lake.issued.write_table

    def crash_at_commit(df, path):
        if path.parent.name == "invoices":
            raise OSError("disk full (injected)")
        real_write(df, path)

    with monkeypatch.context() as mp:
        mp.setattr(lake.issued, "write_table", crash_at_commit)
        status = main(["close", "--home", str(home.root), "--month", "2026-09"])
    assert status == 2
    issued = home.lake_issued
    assert (issued / "invoice_lines" / "period=2026-09.parquet").exists()  # the half-written parts
    assert (issued / "credit_consumption" / "period=2026-09.parquet").exists()
    assert not lake.issued.is_issued(home, dt.date(2026, 9, 1))
    assert not list(home.exports.glob("INV-2026-09-*.json"))  # no document says "issued"

    # The next run removes the parts; nothing of them reaches the marts.
    assert main(["run", "--home", str(home.root), *RUN]) in (0, 3)
    assert not (issued / "invoice_lines" / "period=2026-09.parquet").exists()
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        statuses = con.execute(
            "select distinct status from marts.fct_invoices where period_start = date '2026-09-01'"
        ).fetchall()
        consumed = con.execute(
            "select count(*) from marts.fct_credit_ledger where entry_type = 'consumption'"
        ).fetchone()[0]
        errors = con.execute(
            "select count(*) from marts.fct_billing_mismatches where severity = 'error'"
        ).fetchone()[0]
    assert statuses == [("draft",)]
    assert consumed == 0
    assert errors == 0

    capsys.readouterr()
    assert main(["close", "--home", str(home.root), "--month", "2026-09"]) in (0, 3)
    documents = {p.name: json.loads(p.read_text()) for p in home.exports.glob("*.json")}
    assert documents and all(d["status"] == "issued" for d in documents.values())
    slashed = [d for d in documents.values() if d["customer"]["customer_id"] == SLASHED]
    assert len(slashed) == 1
    assert f"{slashed[0]['invoice_id'].replace('/', '%2F')}.json" in documents
    assert all(p.parent == home.exports for p in home.exports.rglob("*") if p.is_file())
    # Its report page too stays in reports/customers/, under the escaped id.
    page = home.reports / "customers" / "zz%2Fx.html"
    assert "Slash &amp; Co" in page.read_text()
    assert not (home.reports / "customers" / "zz").exists()


def test_closing_an_issued_month_again_changes_nothing_and_says_so(home, capsys):
    alerts_before = home.alerts.read_text() if home.alerts.exists() else ""
    invoices = home.lake_issued / "invoices" / "period=2026-09.parquet"
    stamp = invoices.stat().st_mtime_ns
    run_logs = sorted((home.dagster_home / "logs").iterdir())
    capsys.readouterr()
    status = main(["close", "--home", str(home.root), "--month", "2026-09"])
    assert status == 0
    assert capsys.readouterr().out == "close: 2026-09 is already issued; nothing changed\n"
    assert invoices.stat().st_mtime_ns == stamp
    assert (home.alerts.read_text() if home.alerts.exists() else "") == alerts_before
    assert sorted((home.dagster_home / "logs").iterdir()) == run_logs  # no job was run


def test_every_link_on_a_page_opens_its_file(home):
    """Each href followed as a browser does: resolved against the page, then percent-decoded
    to a path (the slashed customer's page and document are named with `%2F`)."""
    pages = sorted(home.reports.rglob("*.html"))
    followed = 0
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for href in parser.hrefs:
            target = urllib.parse.urlsplit(urllib.parse.urljoin(page.as_uri(), href))
            assert target.scheme == "file", (page, href)
            assert Path(urllib.request.url2pathname(target.path)).is_file(), (page, href)
            followed += 1
    slashed_page = home.reports / "customers" / "zz%2Fx.html"
    assert slashed_page in pages and followed > len(pages)
    assert "zz%252Fx.html" in (home.reports / "index.html").read_text()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [value for name, value in attrs if name in ("href", "src") and value]
