"""Live spend: micro-batches as exports land (`tally watch`, the live_spend job), on copies of
the sample world (September closed, October open)."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from test_pipeline import SAMPLE
from worlds import tally

from cli.main import main
from lake.home import Home
from orchestration.runner import execute

pytestmark = pytest.mark.e2e

HEADER = "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
RUN = ("--from", "2026-09-01", "--to", "2026-10-05")


def micro_batch(home: Home):
    return execute(
        home,
        "live_spend",
        op_config={"micro_batch": {"config": {"settle_seconds": 0}}},
        announce=False,
    )


def drops(count: int) -> list[tuple[str, str]]:
    """`count` small exports as an exporter sends them through a day: new October usage, late
    September usage (for the closed month: adjustments), events sent again in a later file
    (an exporter's retry), a bad row, and one file delivered again under another name."""
    rng = random.Random(7)
    customers = [f"cus_{n:04d}" for n in range(1, 13)]
    usage = [("api_calls", "1"), ("tokens", None), ("storage_gb", "12.5")]
    files, sent = [], []
    for i in range(count):
        rows = []
        for j in range(rng.randint(1, 6)):
            if sent and rng.random() < 0.2:
                rows.append(rng.choice(sent))  # the same event again, byte for byte
                continue
            day = rng.choice(["2026-09-28", "2026-10-02", "2026-10-03", "2026-10-04"])
            metric, quantity = rng.choice(usage)
            quantity = quantity or str(rng.randint(1, 90_000))
            rows.append(
                f"live_{i}_{j},{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z,"
                f"{rng.choice(customers)},{metric},{quantity},200,\n"
            )
            sent.append(rows[-1])
        if i == 5:
            rows.append("bad_row,not-a-time,cus_0001,api_calls,1,200,\n")
        files.append((f"live/drop-{i:02d}.csv", HEADER + "".join(rows)))
    files.append(("live/again/drop-03-redelivered.csv", files[3][1]))
    return files


def land(home: Home, name: str, text: str) -> None:
    path = home.landing_usage / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def marts(home: Home) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, without what records when or in which batch a row came:
    a file's batch and ingestion time, a notification's sending time, a finding's detection."""
    skip = {"batch_id", "ingested_at", "sent_at", "issued_at", "detected_at"}
    out = {}
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    f"where table_schema = 'marts' and table_name = '{table}' "
                    "order by ordinal_position"
                ).fetchall()
                if c not in skip
            ]
            rows = con.execute(f"select {', '.join(columns)} from marts.{table}").fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def _files(rows: list[tuple]) -> tuple:
    """fct_ingested_files as totals: the files and their contents, rows read, accepted,
    quarantined and dropped as duplicates over all of them."""
    names = sorted((r[0], r[1]) for r in rows)
    totals = tuple(sum(r[i] for r in rows) for i in range(2, 6))
    return names, totals


@pytest.fixture(scope="module")
def live(worlds, tmp_path_factory) -> Home:
    return worlds.get(SAMPLE).copy(tmp_path_factory.mktemp("live")).home


@pytest.mark.slow  # 32 micro-batches, each a dbt run: `make test-slow`
def test_micro_batches_then_the_nightly_give_the_marts_of_one_run(worlds, tmp_path):
    """32 drops, each followed by a micro-batch, then the nightly: the marts of one run over
    the same files, row for row (the spend notifications aside: a micro-batch may raise one
    at a moment the single run never sees, and that is what live spend is for)."""
    watched = worlds.get(SAMPLE).copy(tmp_path / "watched").home
    once = worlds.get(SAMPLE).copy(tmp_path / "once").home
    files = drops(32)
    for name, text in files:
        land(watched, name, text)
        assert micro_batch(watched).success, name
        land(once, name, text)
    with duckdb.connect(str(watched.warehouse), read_only=True) as con:
        [(accepted,)] = con.execute(
            "select count(*) from staging.stg_lake__usage_events where event_id like 'live_%'"
        ).fetchall()
    assert accepted > 60
    nightly, single = tally(watched, "run", *RUN), tally(once, "run", *RUN)
    assert (nightly.status, single.status) == (single.status, single.status), nightly.output
    assert single.status in (0, 3), single.output
    live_marts, one_run = marts(watched), marts(once)
    assert live_marts.keys() == one_run.keys()
    # Per file, one run counts an event sent in two files to the file first in path order, a
    # sequence of micro-batches to the file that arrived first: the files and every total
    # agree, the attribution of duplicates between two files may not.
    per_file = {"fct_spend_notifications", "fct_ingested_files"}
    differ = [t for t in live_marts if t not in per_file and live_marts[t] != one_run[t]]
    assert differ == []
    ingested = "fct_ingested_files"
    assert _files(live_marts[ingested]) == _files(one_run[ingested])
    adjustments = [r for r in one_run["fct_invoice_adjustments"] if r]
    assert adjustments  # the late September usage reached the closed month as adjustments


def test_a_micro_batch_refreshes_spend_and_the_customer_page_but_not_the_close(live, capsys):
    page = live.reports / "customers" / "cus_0002.json"
    before = json.loads(page.read_text())
    finance = (live.reports / "index.html").read_bytes()
    land(
        live,
        "live/big.csv",
        HEADER
        + "big_1,2026-10-04T09:00:00Z,cus_0002,api_calls,1,200,\n"
        + "".join(
            f"big_{n},2026-10-04T09:{n % 60:02d}:00Z,cus_0002,api_calls,1,200,\n"
            for n in range(2, 400)
        ),
    )
    finished = micro_batch(live)
    assert finished.success
    after = json.loads(page.read_text())
    day = {(u["usage_date"], u["metric"]): u["quantity"] for u in after["usage"]}
    old = {(u["usage_date"], u["metric"]): u["quantity"] for u in before["usage"]}
    assert int(day[("2026-10-04", "api_calls")]) == int(old[("2026-10-04", "api_calls")]) + 399
    with duckdb.connect(str(live.warehouse), read_only=True) as con:
        [(spend,)] = con.execute(
            "select spend_to_date from marts.mart_customer_spend where customer_id = 'cus_0002'"
        ).fetchall()
    assert Decimal(after["spend"]["spend_to_date"]) == spend
    assert (live.reports / "index.html").read_bytes() == finance  # finance waits for the nightly
    capsys.readouterr()
    assert main(["close", "--home", str(live.root), "--month", "2026-10"]) == 2
    refused = capsys.readouterr().err
    assert "live micro-batch(es) (`tally watch`) refreshed the spend marts" in refused
    assert "run `tally run` first" in refused


def test_watch_picks_up_a_landed_file_and_a_sigterm_waits_for_its_micro_batch(live):
    """The command as a user runs it: a dropped file's spend reaches its page; SIGTERM in the
    middle of the micro-batch ends the watch once the micro-batch is done, with 0; a file
    being written (a dot-file, a .tmp) is never read."""
    page = live.reports / "customers" / "cus_0003.json"
    before = page.read_text()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = ["watch", "--home", str(live.root), "--interval", "1", "--settle", "0.5"]
    watch = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    row = "{},2026-10-04T10:00:00Z,cus_0003,{},{},200,\n"
    try:
        assert watch.stdout.readline().startswith("watch: landing/usage")
        land(live, "live/.partial.csv", HEADER + row.format("dot_1", "api_calls", 1))
        land(live, "live/export.csv.tmp", HEADER + row.format("tmp_1", "api_calls", 1))
        land(live, "live/export.csv", HEADER + row.format("w_1", "tokens", 50000))
        time.sleep(3)  # the micro-batch has started (it takes several seconds)
        watch.send_signal(signal.SIGTERM)
        out, _ = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, out
    assert re.search(r"micro-batch \w+: 1 file\(s\), 1 events", out), out
    assert "watch: stopped by SIGTERM after 1 micro-batch(es)" in out
    assert page.read_text() != before
    with duckdb.connect(str(live.warehouse), read_only=True) as con:
        read = {
            e
            for (e,) in con.execute(
                "select event_id from staging.stg_lake__usage_events "
                "where event_id in ('dot_1', 'tmp_1', 'w_1')"
            ).fetchall()
        }
    assert read == {"w_1"}


def test_a_micro_batch_that_failed_after_ingesting_is_made_good_by_the_next(live, monkeypatch):
    """The lake took the batch, the marts did not: the next look has no new file to notice,
    yet runs a micro-batch, because the lake is ahead of what the spend marts reflect."""
    import orchestration.defs.live as live_job
    from lake.freshness import marts_behind_lake, micro_batch_due

    def broken(*_args, **_kw):
        raise RuntimeError("dbt ran out of disk (injected)")

    def calls() -> int:
        with duckdb.connect(str(live.warehouse), read_only=True) as con:
            [(n,)] = con.execute(
                "select coalesce(sum(events), 0) from marts.fct_usage_daily "
                "where customer_id = 'cus_0004' and metric = 'api_calls'"
            ).fetchall()
        return n

    before = calls()
    land(live, "live/lost.csv", HEADER + "lost_1,2026-10-04T11:00:00Z,cus_0004,api_calls,1,200,\n")
    with monkeypatch.context() as mp:
        mp.setattr(live_job, "_rebuild_spend_models", broken)
        assert not micro_batch(live).success
    behind = marts_behind_lake(live)
    assert len(behind) == 1
    assert micro_batch_due(live, 0) is not None  # no new file, yet a micro-batch is due
    assert micro_batch(live).success
    assert marts_behind_lake(live) == [] and micro_batch_due(live, 0) is None
    assert calls() == before + 1


def test_a_customer_added_since_the_nightly_is_known_to_the_next_micro_batch(live):
    """A micro-batch reads the reference data as it is now, as a nightly does first: the new
    customer's events are accepted, not quarantined as an unknown customer."""
    import polars as pl

    customers = live.landing_reference / "customers.csv"
    table = pl.read_csv(customers, infer_schema=False)
    new = {c: None for c in table.columns} | {"customer_id": "cus_new", "currency": "USD"}
    if "name" in new:
        new["name"] = "New Co"
    pl.concat([table, pl.DataFrame([new], schema=table.schema)]).write_csv(customers)
    land(live, "live/new-co.csv", HEADER + "new_1,2026-10-04T12:00:00Z,cus_new,api_calls,1,200,\n")
    assert micro_batch(live).success
    with duckdb.connect(str(live.warehouse), read_only=True) as con:
        accepted = con.execute(
            "select count(*) from staging.stg_lake__usage_events where event_id = 'new_1'"
        ).fetchone()[0]
    assert accepted == 1
