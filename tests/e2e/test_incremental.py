"""Incremental nightly runs: exports arriving night after night, late events for
earlier days included, give the same marts as one run over all of them, while each night
rebuilds only the usage dates its batch touched."""

import contextlib
import copy
import datetime as dt
import hashlib
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from worlds import Built, Ran, World, tally

from cli.main import main
from demo.generate import GenerateConfig, generate
from lake.home import Home

pytestmark = pytest.mark.e2e

START = dt.date(2026, 9, 26)
DAYS = 9  # across the September/October boundary
# Columns that name a batch or an instant of the run, not a figure: they differ by design.
RUN_COLUMNS = {"batch_id", "ingested_at", "detected_at"}
# Raised by the run that first sees them, with that run's figures: night after night raises
# them on other nights than one run does (compared in a test of their own).
RAISED_BY_RUNS = "fct_spend_notifications"
REUSED_ID = "evt_11_0000000000"  # the world's first event (seed 11), on 26 September


def _arrivals(landing: Path) -> list[list[Path]]:
    """The world's usage exports grouped as they would arrive: three days a night, the
    re-delivered copies last."""
    dated = sorted(p for p in landing.rglob("*") if p.is_file() and "redelivered" not in p.parts)
    days = sorted({p.parent for p in dated})
    nights = [[p for p in dated if p.parent in days[i : i + 3]] for i in range(0, len(days), 3)]
    nights[-1] += sorted(p for p in landing.rglob("redelivered/*") if p.is_file())
    return nights


def _marts(home: Home, *, raised: bool = False) -> dict[str, list]:
    """Every mart's rows (the notifications only when `raised`)."""
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        tables = [
            t
            for (t,) in con.sql(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
            if (t == RAISED_BY_RUNS) == raised
        ]
        out = {}
        for table in sorted(tables):
            cols = [c for c in con.table(f"marts.{table}").columns if c not in RUN_COLUMNS]
            select = ", ".join(f'"{c}"' for c in cols)
            out[table] = sorted(con.sql(f"select {select} from marts.{table}").fetchall(), key=repr)
        return out


def _compiled(home: Home) -> Path:
    [sql] = (home.dagster_home / "dbt-target" / "compiled").rglob("int_usage_daily.sql")
    return sql


@dataclass(frozen=True)
class DailyBuild:
    """The usage dates the last build of int_usage_daily rebuilt from all their events, and
    those it merged with the new batches' events alone (from the compiled SQL's header)."""

    rebuilt: list[str]
    merged: list[str]

    @property
    def touched(self) -> list[str]:
        return sorted(self.rebuilt + self.merged)


def _rebuilt_dates(home: Home) -> DailyBuild | None:
    """What the last build of int_usage_daily read; None when it read every date."""
    text = _compiled(home).read_text()
    if "where 1 = 1" in text:
        return None

    def dates(label: str) -> list[str]:
        [listed] = re.findall(rf"^-- dates {label}: (.*)$", text, flags=re.M)
        return [] if listed == "none" else listed.split(", ")

    return DailyBuild(dates("rebuilt"), dates("merged"))


# The models rated per billing period (incremental by period_start).
PERIOD_MODELS = (
    "int_usage_event_groups",
    "int_usage_charged",
    "fct_usage_daily",
    "int_invoice_usage",
)


def _rebuilt_periods(home: Home, model: str) -> list[str] | None:
    """The periods the last build of `model` rated, from its compiled SQL; None when it rated
    every period."""
    [sql] = (home.dagster_home / "dbt-target" / "compiled").rglob(f"{model}.sql")
    text = sql.read_text()
    if "1 = 1" in text:
        return None
    # Each period's first day, in a range of dates (`>= cast(...)`) or among the periods a
    # partition is one of (`in (cast(...), cast(...))`); int_invoice_usage filters each of its
    # inputs: each period once. (1970-01-01 is the epoch seconds are counted from.)
    found = re.findall(r"(?:>= |in \(|, )cast\('(\d{4}-\d{2}-\d{2})' as date\)", text)
    return sorted(set(found) - {"1970-01-01"})


CONFIG = GenerateConfig(customers=6, days=DAYS, events_per_day=300, start=START, seed=11)
LAST = START + dt.timedelta(days=DAYS - 1)


def _land(home: Home, config: GenerateConfig) -> None:
    generate(home, config)
    # The last night's export re-uses the id of the world's first event on another day: the
    # nightly finds it by looking up only the new dates' id hashes.
    reuse = home.landing_usage / f"{LAST:%Y/%m/%d}" / "reuse.csv"
    reuse.write_text(
        "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
        f"{REUSED_ID},{LAST - dt.timedelta(days=1)}T12:00:00Z,cus_0001,api_calls,1,200,\n"
    )


def _build_whole(home: Home, config: GenerateConfig) -> dict:
    """Every export, then one run over all of them."""
    _land(home, config)
    return {"status": tally(home, "run", "--from", str(START), "--to", str(LAST)).status}


def _build_nightly(home: Home, config: GenerateConfig) -> dict:
    """The same exports arriving three days a night, a run each night; then a run with
    nothing new, and a --full-refresh."""
    exports = Home.at(home.root.parent / "exports")
    _land(exports, config)
    for folder in ("pricing", "landing/reference"):
        shutil.copytree(exports.root / folder, home.root / folder)
    statuses, rebuilt, touched = [], [], []
    for night, files in enumerate(_arrivals(exports.landing_usage)):
        for f in files:
            target = home.root / f.relative_to(exports.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        day = str(min(START + dt.timedelta(days=3 * night + 2), LAST))
        statuses.append(tally(home, "run", "--from", day, "--to", day).status)
        rebuilt.append(_rebuilt_dates(home))
        batch_days = pl.read_parquet(home.lake_batch_days / "batch-*.parquet")
        newest = pl.read_parquet(home.lake_ingested_files / "batch-*.parquet").sort("ingested_at")[
            "batch_id"
        ][-1]
        touched.append(
            sorted(
                str(d)
                for d in batch_days.filter(pl.col("batch_id") == newest)["event_date"].to_list()
            )
        )
    compiled_before = _compiled(home).stat().st_mtime_ns
    again = tally(home, "run", "--from", str(LAST), "--to", str(LAST))
    rebuilt.append(None if _compiled(home).stat().st_mtime_ns != compiled_before else "no dbt")
    marts = {**_marts(home), **_marts(home, raised=True)}
    refreshed = tally(home, "run", "--from", str(LAST), "--to", str(LAST), "--full-refresh")
    rebuilt.append(_rebuilt_dates(home))
    return {
        "statuses": statuses,
        "rebuilt": rebuilt,
        "touched": touched,
        "again": again,
        "refreshed": refreshed.status,
        "marts_before_refresh": marts,
    }


WHOLE = World("incremental-whole", _build_whole, CONFIG)
NIGHTLY = World("incremental-nightly", _build_nightly, CONFIG)


@dataclass(frozen=True)
class Histories:
    """The same exports, run once over everything and night by night (both read only)."""

    whole: Home
    whole_status: int
    nightly: Home  # after the nights, a run with nothing new and a --full-refresh
    statuses: list[int]  # each night's exit status
    rebuilt: list  # the dates each build of int_usage_daily read (None: every date)
    touched: list[list[str]]  # the dates each night's batch touched
    again: Ran  # the run with nothing new
    refreshed: int  # the --full-refresh's exit status
    marts_before_refresh: dict[str, list]


@pytest.fixture(scope="module")
def histories(worlds) -> Histories:
    whole, nightly = worlds.get(WHOLE), worlds.get(NIGHTLY)
    return Histories(
        whole.home, whole.facts["status"], nightly.home, **copy.deepcopy(nightly.facts)
    )


def test_night_after_night_gives_the_marts_of_one_run_over_everything(histories):
    """Compared after a --full-refresh of the nightly home, and before it (in the test below)."""
    whole, nightly = histories.whole, histories.nightly
    status_whole, statuses = histories.whole_status, histories.statuses
    # Warnings (3): the billing slips. The reused id is an error (1), from the last night on.
    assert status_whole == 1 and set(statuses[:-1]) <= {0, 3} and statuses[-1] == 1
    expected, actual = _marts(whole), _marts(nightly)
    assert expected.keys() == actual.keys()
    assert sum(len(rows) for rows in expected.values()) > 100
    for table in expected:
        assert actual[table] == expected[table], table


def test_each_night_reads_only_the_dates_its_batch_touched(histories):
    rebuilt, touched = histories.rebuilt, histories.touched
    assert rebuilt[0] is None  # the first build reads every date: no date filter at all
    for night in range(1, len(touched)):
        assert rebuilt[night].touched == touched[night], night
        # The night's new days are built from their events; a day built on an earlier night
        # is merged with the late events alone, never read whole again.
        assert not set(rebuilt[night].rebuilt) & set(sum(touched[:night], [])), night
    assert any(build.merged for build in rebuilt[1 : len(touched)])


def test_the_tables_that_grow_with_history_are_not_in_the_copied_warehouse(histories):
    """Each build copies the warehouse: the daily aggregate, the id index and the rating per
    period live in the incremental store beside it, updated in place."""
    nightly = histories.nightly

    def tables(path: Path) -> set[str]:
        with duckdb.connect(str(path), read_only=True) as con:
            return {
                f"{s}.{t}"
                for s, t in con.sql(
                    "select schema_name, table_name from duckdb_tables()"
                ).fetchall()
            }

    growing = {
        f"intermediate.{m}" for m in ("int_usage_daily", "int_event_ids", "int_event_id_repeats")
    }
    growing |= {f"intermediate.{m}" for m in PERIOD_MODELS if m.startswith("int_")}
    assert growing <= tables(nightly.incremental_store)
    warehouse = tables(nightly.warehouse)
    assert not growing & warehouse
    assert {"marts.fct_usage_daily", "marts.fct_invoices"} <= warehouse


def test_a_run_with_nothing_new_runs_no_dbt_and_a_full_refresh_rebuilds_all(histories):
    """Nothing new: dbt is not run at all (the marts are current), the checks still report
    what stands (same exit status). --full-refresh reads every date again."""
    whole, statuses, rebuilt, touched = (
        histories.whole,
        histories.statuses,
        histories.rebuilt,
        histories.touched,
    )
    assert histories.again.status == statuses[-1] and histories.refreshed == statuses[-1]
    assert rebuilt[len(touched)] == "no dbt"
    output = histories.again.output
    assert "nothing new since run" in output and "the marts are current" in output
    assert "summary:" in output
    assert rebuilt[len(touched) + 1] is None  # --full-refresh: every date read
    nightly_marts = dict(histories.marts_before_refresh)
    raised = nightly_marts.pop(RAISED_BY_RUNS)
    assert nightly_marts == _marts(whole)  # the marts of the no-op run, before the refresh
    # Neither the no-op run nor the full refresh raised a notification again.
    assert _marts(histories.nightly, raised=True)[RAISED_BY_RUNS] == raised


def test_each_notification_is_raised_once_night_after_night(histories):
    whole, nightly = histories.whole, histories.nightly
    [raised] = _marts(nightly, raised=True).values()
    ids = [r[0] for r in raised]  # notification_id, customer, period, kind, ..., as_of, sent_at
    assert len(ids) == len(set(ids)) > 0
    written = [
        json.loads(n)["notification_id"] for n in nightly.notifications.read_text().splitlines()
    ]
    assert sorted(written) == sorted(ids)
    # Raised on the night that first saw it, with that night's figures: several as-of days.
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        days = con.execute(f"select count(distinct as_of) from marts.{RAISED_BY_RUNS}").fetchone()
    assert days[0] > 1
    # One run over everything raises the last open period's; the nights raised each of them.
    [once] = _marts(whole, raised=True).values()
    assert {r[0] for r in once} <= set(ids)


def test_an_id_reused_on_a_later_night_is_found_by_the_lookup_of_new_dates(histories):
    nightly_marts = histories.marts_before_refresh
    reused = [row for row in nightly_marts["fct_billing_mismatches"] if row[0] == "event_id_reused"]
    # check_name, severity, customer, period, subject, expected, actual, difference
    assert [r[:5] for r in reused] == [
        ("event_id_reused", "error", None, dt.date(2026, 9, 1), REUSED_ID)
    ]
    assert [r[6] for r in reused] == [2]


@pytest.mark.slow  # a run on a copy of the nightly history: `make test-slow`
def test_a_price_change_re_rates_only_the_periods_it_affects(histories, tmp_path):
    """A new version of a plan from October re-rates October and leaves September as it was;
    the marts are those a full refresh gives."""
    nightly = histories.nightly
    home = Built(nightly, {}).copy(tmp_path).home
    book_path = home.pricing / "plans.yaml"
    book = yaml.safe_load(book_path.read_text())
    [starter] = [p for p in book["plans"] if p["plan_id"] == "starter"]
    repriced = {**starter, "version": starter["version"] + 1, "effective_from": "2026-10-01"}
    repriced["charges"] = [
        {**c, "unit_price": str(2 * float(c["unit_price"]))} for c in starter["charges"]
    ]
    book["plans"].append(repriced)
    book_path.write_text(yaml.safe_dump(book, sort_keys=False))
    before = _marts(nightly)
    last = str(START + dt.timedelta(days=DAYS - 1))
    main(["run", "--home", str(home.root), "--from", last, "--to", last])
    assert {m: _rebuilt_periods(home, m) for m in PERIOD_MODELS} == dict.fromkeys(
        PERIOD_MODELS, ["2026-10-01"]
    )
    after = _marts(home)
    september, october = dt.date(2026, 9, 1), dt.date(2026, 10, 1)

    def invoices(marts, period):
        # invoice_id, customer_id, period_start, ...: every figure of the period's invoices
        return sorted(r for r in marts["fct_invoices"] if period in r)

    assert invoices(after, september) == invoices(before, september)
    assert invoices(after, october) != invoices(before, october)
    main(["run", "--home", str(home.root), "--from", last, "--to", last, "--full-refresh"])
    assert _rebuilt_periods(home, "int_invoice_usage") is None
    assert _marts(home) == after


@pytest.mark.slow  # a run on a copy of the nightly history: `make test-slow`
def test_a_period_rated_to_no_rows_keeps_none_of_its_old_rows(histories, tmp_path):
    """Every subscription ends with September (an edit of the reference data): October has no
    subscription left to rate on, so nothing of its earlier rating may linger; the marts are
    those a full refresh gives."""
    nightly = histories.nightly
    home = Built(nightly, {}).copy(tmp_path).home
    october = dt.date(2026, 10, 1)

    def october_rows() -> int:
        with duckdb.connect(str(home.incremental_store), read_only=True) as con:
            return con.execute(
                "select count(*) from intermediate.int_invoice_usage where period_start = ?",
                [october],
            ).fetchone()[0]

    assert october_rows() > 0
    path = home.landing_reference / "subscriptions.csv"
    subscriptions = pl.read_csv(path, infer_schema=False)
    ends = pl.col("ended_at")
    ended = subscriptions.filter(pl.col("started_at") < str(october)).with_columns(
        pl.when(ends.is_null() | (ends > str(october)))
        .then(pl.lit(str(october)))
        .otherwise(ends)
        .alias("ended_at")
    )
    ended.write_csv(path)
    last = str(START + dt.timedelta(days=DAYS - 1))
    main(["run", "--home", str(home.root), "--from", last, "--to", last])
    assert _rebuilt_periods(home, "int_invoice_usage") == [str(october)]
    assert october_rows() == 0
    after = _marts(home)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        invoiced = con.execute(
            "select count(*) from marts.fct_invoices where period_start = ?", [october]
        ).fetchone()[0]
    assert invoiced == 0  # no subscription, no invoice: the usage is flagged instead
    assert after["fct_invoices"]  # September's are still there
    main(["run", "--home", str(home.root), "--from", last, "--to", last, "--full-refresh"])
    assert _marts(home) == after


@pytest.mark.slow  # a hand-edited aggregate, two runs on a copy: `make test-slow`, as below
def test_a_date_the_aggregate_disagrees_with_is_rebuilt_from_all_its_events(histories, tmp_path):
    """A hand edit removed one group of a day from the daily aggregate; a late event for that
    day then lands. The day cannot be merged (its count no longer adds up with the new
    batch's), so it is rebuilt from all its events, and the marts are those of one run."""
    nightly = histories.nightly
    home = Built(nightly, {}).copy(tmp_path).home
    day = START + dt.timedelta(days=1)
    with duckdb.connect(str(home.incremental_store)) as con:
        con.execute(
            "delete from intermediate.int_usage_daily where usage_date = ? and customer_id = ?",
            [day, "cus_0002"],
        )
    late = home.landing_usage / "late" / "late.csv"
    late.parent.mkdir(parents=True)
    late.write_text(
        "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
        f"evt_late_heal,{day}T08:00:00Z,cus_0001,api_calls,1,200,\n"
        f"evt_late_merge,{day + dt.timedelta(days=1)}T08:00:00Z,cus_0001,api_calls,1,200,\n"
    )
    last = str(LAST)
    main(["run", "--home", str(home.root), "--from", last, "--to", last])
    build = _rebuilt_dates(home)
    assert build == DailyBuild(rebuilt=[str(day)], merged=[str(day + dt.timedelta(days=1))])
    after = _marts(home)
    main(["run", "--home", str(home.root), "--from", last, "--to", last, "--full-refresh"])
    assert _marts(home) == after


def _md5_id_hash(event_id: str) -> int:
    """The id index's hash of an id on DuckDB, computed here from its definition: the first 8
    bytes of the id's MD5 read little-endian, the high bit cleared."""
    return int.from_bytes(hashlib.md5(event_id.encode()).digest()[:8], "little") & (2**63 - 1)


def test_the_id_index_holds_each_ids_md5_so_it_survives_an_engine_upgrade(histories):
    """The index keeps hashes from night to night: they are each id's MD5, not the engine's
    internal hash (DuckDB's changed between releases), so an upgrade cannot split it."""
    nightly = histories.nightly
    with duckdb.connect(str(nightly.incremental_store), read_only=True) as con:
        index = con.sql("select usage_date, id_hash from intermediate.int_event_ids").fetchall()
    events = pl.read_parquet(nightly.lake_events / "event_date=*" / "batch-*.parquet")
    expected = [
        (day, _md5_id_hash(event_id))
        for event_id, day in events.select("event_id", pl.col("occurred_at").dt.date()).iter_rows()
    ]
    assert len(index) == events.height > 1000
    assert sorted(index) == sorted(expected)


# An upgrade path, two runs on a copy of the nightly history: `make test-slow` (CI runs it),
# keeping `make test` within its ten minutes.
@pytest.mark.slow
def test_an_id_index_built_by_an_earlier_version_asks_for_a_full_refresh(histories, tmp_path):
    """An index an earlier tally built (unsigned hashes) is not mixed with new hashes: the run
    stops and says how to rebuild, and the full refresh it names rebuilds the index."""
    nightly = histories.nightly
    home = Built(nightly, {}).copy(tmp_path).home
    with duckdb.connect(str(home.incremental_store)) as con:
        con.execute("alter table intermediate.int_event_ids alter id_hash type ubigint")
    last = START + dt.timedelta(days=DAYS - 1)
    late = home.landing_usage / f"{last:%Y/%m/%d}" / "late.csv"
    late.write_text(
        "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
        f"evt_late_1,{last}T08:00:00Z,cus_0001,api_calls,1,200,\n"
    )
    run = ["run", "--home", str(home.root), "--from", str(last), "--to", str(last)]
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        status = main(run)
    assert status == 2
    shown = printed.getvalue() + errors.getvalue()
    assert (
        "run failed at: tally_dbt_models: int_event_ids: the table an earlier version of tally "
        "built has other columns; rebuild with `tally run --full-refresh`"
    ) in shown
    # dbt's advice (a config the user does not own) and the stack trace stay in the run's log.
    assert "on_schema_change" not in shown and "Stack Trace" not in shown
    [log] = [line.rsplit("; log ", 1)[1] for line in shown.splitlines() if "; log " in line]
    assert "out of sync" in Path(log).read_text() and "Stack Trace" in Path(log).read_text()
    assert main([*run, "--full-refresh"]) in {0, 1, 3}
    with duckdb.connect(str(home.incremental_store), read_only=True) as con:
        hashes = dict(
            con.sql("select id_hash, usage_date from intermediate.int_event_ids").fetchall()
        )
        [(kind,)] = con.sql(
            "select data_type from information_schema.columns "
            "where table_name = 'int_event_ids' and column_name = 'id_hash'"
        ).fetchall()
    assert kind == "BIGINT"
    assert hashes[_md5_id_hash("evt_late_1")] == last
