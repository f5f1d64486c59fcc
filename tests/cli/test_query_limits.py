"""`tally query` ends: a time limit and a memory limit, each hit said in one line (exit 2), and a
result a format cannot hold refused the same way."""

import json
import time

import duckdb
import pytest

from cli.main import main
from lake.home import Home


@pytest.fixture
def home(tmp_path):
    home = Home.at(tmp_path)
    home.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.t as select range as x from range(1000)")
    return home


def _query(home: Home, capsys, *args: str) -> tuple[int, str, str]:
    status = main(["query", "--home", str(home.root), *args])
    out, err = capsys.readouterr()
    return status, out, err


ENDLESS = {
    "recursive": "with recursive r(n) as (select 1 union all select n + 1 from r) "
    "select count(*) from r",
    "cross join": "select count(*) from range(1000000) a, range(1000000) b, marts.t c",
}


@pytest.mark.parametrize("sql", ENDLESS.values(), ids=ENDLESS.keys())
def test_a_query_past_its_time_limit_ends_in_one_line(home, capsys, sql):
    started = time.monotonic()
    status, out, err = _query(home, capsys, "--timeout", "1", sql)
    assert time.monotonic() - started < 15
    assert status == 2 and out == ""
    assert err == "tally: query stopped: it ran past the time limit of 1 s (--timeout)\n"


HUNGRY = {
    "a result larger than the limit": "select range, repeat('x', 100) from range(10000000)",
    "work larger than the limit": "select max(len(l)) from (select list(range) as l from "
    "range(50000000) group by range % 3)",
}


@pytest.mark.parametrize("sql", HUNGRY.values(), ids=HUNGRY.keys())
def test_a_query_past_its_memory_limit_ends_in_one_line(home, capsys, sql):
    status, out, err = _query(home, capsys, "--memory-limit", "100MiB", sql)
    assert status == 2 and out == ""
    assert err == (
        "tally: query stopped: it needs more than the memory limit of 100MiB (--memory-limit); "
        "narrow it, or aggregate in SQL\n"
    )


def test_a_query_within_its_limits_answers(home, capsys):
    status, out, _ = _query(home, capsys, "--format", "json", "select sum(x) as s from marts.t")
    assert status == 0 and json.loads(out) == [{"s": "499500"}]


def test_nested_values_are_refused_as_csv_and_given_as_json(home, capsys):
    sql = "select 1 as id, [1, 2] as parts"
    status, out, err = _query(home, capsys, "--format", "csv", sql)
    assert status == 2 and out == ""
    assert err == (
        "tally: --format csv cannot hold column 'parts' (List(Int32): values inside values); "
        "use --format json, or flatten it in SQL\n"
    )
    status, out, _ = _query(home, capsys, "--format", "json", sql)
    assert status == 0 and json.loads(out) == [{"id": 1, "parts": [1, 2]}]


@pytest.mark.parametrize(
    ("flag", "value"), [("--timeout", "0"), ("--timeout", "soon"), ("--memory-limit", "lots")]
)
def test_a_limit_that_is_not_one_is_refused(home, capsys, flag, value):
    with pytest.raises(SystemExit) as exited:
        main(["query", "--home", str(home.root), flag, value, "select 1"])
    assert exited.value.code == 2
    assert f"{flag}: " in capsys.readouterr().err


def test_a_mart_named_without_its_schema_is_found(home, capsys):
    status, out, _ = _query(home, capsys, "--format", "json", "select count(*) as n from t")
    assert status == 0 and json.loads(out) == [{"n": 1000}]


@pytest.mark.parametrize(
    ("sql", "hint"),
    [
        ("select count(*) from tt", 'Did you mean "t"?'),
        ("select xx from marts.t", 'Candidate bindings: "x"'),
    ],
    ids=["table", "column"],
)
def test_a_name_that_does_not_exist_is_refused_with_the_close_ones(home, capsys, sql, hint):
    status, out, err = _query(home, capsys, sql)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("tally: query failed: ") and err.rstrip().endswith(hint)
