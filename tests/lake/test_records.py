"""Records kept between runs heal: a missing, truncated or unparsable one is unknown, and what
it vouched for is rebuilt (never a traceback)."""

import datetime as dt
import textwrap

import duckdb
import polars as pl
import pytest

from cli.outcome import record, standing
from lake.freshness import mark_built, unchanged_since_built, why_stale
from lake.home import Home
from lake.ingest import ingest, read_manifests
from lake.records import read_json_record, write_json_record
from warehouse.build import set_aside_unusable, why_unusable

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
BROKEN = {
    "cut short": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not JSON": lambda text: "<html>",
    "not an object": lambda text: "[1, 2]",
}


@pytest.mark.parametrize("how", BROKEN)
def test_a_broken_json_record_is_unknown(tmp_path, how):
    path = tmp_path / "built.json"
    write_json_record(path, {"batches": ["a"], "inputs": "x"})
    assert read_json_record(path) == {"batches": ["a"], "inputs": "x"}
    path.write_text(BROKEN[how](path.read_text()))
    assert read_json_record(path) is None
    assert read_json_record(tmp_path / "missing.json") is None


def _built_home(tmp_path) -> Home:
    home = Home.at(tmp_path)
    home.landing_reference.mkdir(parents=True)
    (home.landing_reference / "customers.csv").write_text("customer_id,name,currency\nc1,A,USD\n")
    home.warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(home.warehouse)).close()
    mark_built(home, "models")
    return home


@pytest.mark.parametrize("how", BROKEN)
def test_a_broken_build_record_means_build_again_and_close_waits(tmp_path, how):
    home = _built_home(tmp_path)
    assert unchanged_since_built(home, "models") and why_stale(home) is None
    built = home.warehouse_folder / "built.json"
    built.write_text(BROKEN[how](built.read_text()))
    assert not unchanged_since_built(home, "models")
    assert why_stale(home) == "the last run did not finish building the marts"


@pytest.mark.parametrize("how", [*BROKEN, "another shape"])
def test_a_broken_last_run_record_means_run_again(tmp_path, how):
    home = _built_home(tmp_path)
    record(home, 3, {"error": [], "warning": ["a:b"]}, "run-1")
    assert standing(home).failed_checks == {"error": [], "warning": ["a:b"]}
    last = home.warehouse_folder / "last_run.json"
    if how == "another shape":
        last.write_text(last.read_text().replace('"warning": [', '"warning": [1, '))
    else:
        last.write_text(BROKEN[how](last.read_text()))
    assert standing(home) is None


def _land(home: Home, name: str, rows: str) -> None:
    home.landing_usage.mkdir(parents=True, exist_ok=True)
    header = "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
    (home.landing_usage / name).write_text(header + textwrap.dedent(rows).lstrip())


def _ingest(home: Home):
    return ingest(home, customers=["c1"], metrics=["api_calls"], now=NOW)


def _lake_events(home: Home) -> list[tuple]:
    return (
        pl.read_parquet(home.lake_events / "**" / "batch-*.parquet")
        .select("event_id", "occurred_at", "quantity", "source_file")
        .sort("event_id")
        .rows()
    )


def _cut(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_batch_whose_manifest_is_cut_short_is_set_aside_and_ingested_again(tmp_path):
    home = Home.at(tmp_path)
    _land(home, "a.csv", "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    first = _ingest(home)
    _land(home, "b.csv", "e2,2026-10-02T10:00:00Z,c1,api_calls,2,200,\n")
    _ingest(home)
    before = _lake_events(home)
    _cut(home.lake_ingested_files / f"batch-{first.batch_id}.parquet")
    assert sorted(read_manifests(home)["file_path"]) == ["landing/usage/b.csv"]

    said: list[str] = []
    again = ingest(home, customers=["c1"], metrics=["api_calls"], now=NOW, progress=said.append)
    assert said[0].startswith(f"batch {first.batch_id}: its manifest cannot be read; set aside")
    assert again.files["file_path"].to_list() == ["landing/usage/a.csv"]
    assert again.totals["rows_accepted"] == 1
    assert _lake_events(home) == before  # the same events, once each
    aside = home.lake / "unreadable" / f"batch-{first.batch_id}"
    assert (aside / "ingested_files" / f"batch-{first.batch_id}.parquet").exists()
    assert list(aside.rglob("events/*/*.parquet"))  # kept, where nothing reads them


def test_a_day_record_cut_short_is_recorded_again_from_the_lake(tmp_path):
    home = Home.at(tmp_path)
    _land(home, "a.csv", "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    first = _ingest(home)
    days = home.lake_batch_days / f"batch-{first.batch_id}.parquet"
    expected = pl.read_parquet(days)
    _cut(days)
    _ingest(home)
    assert pl.read_parquet(days).equals(expected)


def test_a_warehouse_file_cut_short_is_set_aside_and_said_so(tmp_path):
    home = Home.at(tmp_path)
    home.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(home.incremental_store)) as con:
        con.execute("create table t as select range as x from range(1000000)")
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create table marts as select 1 as x")
    assert why_unusable(home.incremental_store) is None
    _cut(home.incremental_store)
    assert "cut short" in why_unusable(home.incremental_store)
    [said] = set_aside_unusable(home)
    assert said.startswith("warehouse/incremental.duckdb cannot be read (")
    assert not home.incremental_store.exists() and home.warehouse.exists()
    [aside] = home.warehouse.parent.glob("incremental.duckdb.unreadable-*")
    assert said.endswith(f"set aside as {aside.name}; rebuilt")
