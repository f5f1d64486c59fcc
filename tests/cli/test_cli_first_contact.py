"""What a newcomer meets on the command line: help that says what each command does
with an example, the version, exit codes, clear refusals before any work, query formats."""

import csv
import io
import json

import duckdb
import pytest

from cli.main import main
from cli.parser import build_parser
from lake.home import Home
from orchestration.runner import _one_command_per_home

COMMANDS = ("generate", "run", "close", "simulate", "query", "report", "demo")
SMALL = ["--customers", "2", "--days", "3", "--events-per-day", "20"]


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_version(capsys):
    assert _help(["--version"], capsys) == "tally 0.1.0\n"


def test_tally_help_lists_the_commands_and_the_exit_codes(capsys):
    out = _help(["--help"], capsys)
    for command in COMMANDS:
        assert f"\n    {command} " in out, command
    for line in (
        "0  success: every check passed",
        "1  the run finished and wrote everything, but a blocking (error) check failed",
        "2  bad input, or a run that could not complete (the reason in one line)",
        "3  the run finished; only warning checks failed",
    ):
        assert line in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example_and_every_option_says_what_it_is(command, capsys):
    out = _help([command, "--help"], capsys)
    assert f"example:\n  tally {command} " in out
    assert "exit status:" in out
    assert max(len(line) for line in out.splitlines()) <= 90, out
    [subparsers] = [a for a in build_parser()._actions if a.dest == "command"]
    for action in subparsers.choices[command]._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"


# The exit statuses each command can return, as its help lists them.
STATUSES = {
    "generate": {"0", "2"},
    "run": {"0", "1", "2", "3"},
    "close": {"0", "1", "2", "3"},
    "simulate": {"0", "2"},
    "query": {"0", "2"},
    "report": {"0", "2"},
    "demo": {"0", "1", "2"},
}


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_lists_the_exit_statuses_it_can_return(command, capsys):
    out = _help([command, "--help"], capsys)
    statuses = out[out.index("exit status:") :].splitlines()[1:]
    assert {line.split()[0] for line in statuses if line.startswith("  ") and line[2] != " "} == (
        STATUSES[command]
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["close", "--month", "2026-9"], "argument --month: '2026-9' is not a month YYYY-MM"),
        (["close", "--month", "26-09"], "argument --month: '26-09' is not a month YYYY-MM"),
        (
            ["run", "--from", "2026-9-1", "--to", "2026-09-02"],
            "argument --from: '2026-9-1' is not a date YYYY-MM-DD",
        ),
        (
            ["simulate", "--price-book", "p", "--month", "2026-13"],
            "argument --month: '2026-13' is not a month YYYY-MM",
        ),
    ],
)
def test_dates_and_months_take_one_format_each(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(message)


def test_a_home_that_does_not_exist_is_named_and_not_created(tmp_path, capsys):
    missing = tmp_path / "missinghome"
    for argv in (
        ["run", "--from", "2026-09-01", "--to", "2026-09-02"],
        ["close", "--month", "2026-09"],
        ["query", "select 1"],
        ["report"],
    ):
        assert main([argv[0], "--home", str(missing), *argv[1:]]) == 2
        assert capsys.readouterr().err.startswith(f"tally: no such home: {missing} ")
    assert not missing.exists()


def test_report_before_any_run_says_what_to_do_and_writes_nothing(tmp_path, capsys):
    assert main(["generate", "--home", str(tmp_path), *SMALL]) == 0
    capsys.readouterr()
    assert main(["report", "--home", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err == f"tally: no warehouse under {tmp_path}: run `tally run` first\n"
    )
    assert not (tmp_path / "reports").exists()


def test_payment_terms_are_whole_days(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["close", "--month", "2026-09", "--payment-terms", "thirty"])
    assert exit_.value.code == 2
    assert "'thirty' is not a number of days from 0 to 3650" in capsys.readouterr().err


def test_generate_refuses_a_home_with_data_unless_forced(tmp_path, capsys):
    assert main(["generate", "--home", str(tmp_path), *SMALL]) == 0
    first = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "left-over").write_text("x")
    capsys.readouterr()

    assert main(["generate", "--home", str(tmp_path), *SMALL, "--seed", "8"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tally: {tmp_path} already holds data (landing, pricing, lake): "
        "give another --home, or --force to replace it\n"
    )
    assert all(p.read_bytes() == data for p, data in first.items())

    # Forced: the home holds the new world only, and the same world is the same bytes (a
    # regenerated gzip file is not a new export).
    assert main(["generate", "--home", str(tmp_path), *SMALL, "--force"]) == 0
    again = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert again == {p: d for p, d in first.items()}
    assert any(p.name.endswith(".gz") for p in again)


def test_a_command_refused_for_a_busy_home_prints_nothing_first(tmp_path, capsys):
    assert main(["generate", "--home", str(tmp_path), *SMALL]) == 0
    capsys.readouterr()
    (tmp_path / ".dagster").mkdir()
    with _one_command_per_home(tmp_path / ".dagster"):
        assert (
            main(["run", "--home", str(tmp_path), "--from", "2026-09-01", "--to", "2026-09-03"])
            == 2
        )
        assert main(["close", "--home", str(tmp_path), "--month", "2026-09"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("tally: another tally command is running in this home (pid ") == 2


@pytest.fixture
def warehouse(tmp_path) -> Home:
    home = Home.at(tmp_path)
    home.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.t as select * from (values "
            "('inv_1', 'A customer whose name is longer than forty characters, surely', "
            "12.5000::decimal(38, 4), date '2026-09-30'), "
            "('inv_2', 'B', 0.0001::decimal(38, 4), date '2026-10-31')) v(id, name, total, day)"
        )
        con.execute("create table marts.many as select range as n from range(250)")
    return home


def test_query_as_csv_prints_every_row_and_every_character(warehouse, capsys):
    assert main(["query", "--home", str(warehouse.root), "--format", "csv", "from marts.t"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        {
            "id": "inv_1",
            "name": "A customer whose name is longer than forty characters, surely",
            "total": "12.5000",
            "day": "2026-09-30",
        },
        {"id": "inv_2", "name": "B", "total": "0.0001", "day": "2026-10-31"},
    ]
    assert main(["query", "--home", str(warehouse.root), "--format", "csv", "from marts.many"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 251


def test_query_as_json_keeps_money_exact(warehouse, capsys):
    assert main(["query", "--home", str(warehouse.root), "--format", "json", "from marts.t"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1] == {"id": "inv_2", "name": "B", "total": "0.0001", "day": "2026-10-31"}
    assert rows[0]["name"].endswith("surely")


def test_query_as_a_table_has_no_shape_or_type_lines_and_cuts_long_results(warehouse, capsys):
    assert main(["query", "--home", str(warehouse.root), "from marts.t"]) == 0
    out = capsys.readouterr().out
    assert "shape:" not in out and "decimal" not in out and "str" not in out
    assert "A customer whose name is longer than forty characters, surely" in out
    assert main(["query", "--home", str(warehouse.root), "from marts.many"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("(250 rows; --format csv or json prints every one)\n")


@pytest.mark.parametrize(
    "sql",
    [
        "copy (select 1) to 'x.csv'",
        "attach 'other.duckdb'",
        "install httpfs",
        "set threads = 1",
        "create table marts.x as select 1",
    ],
)
def test_query_refuses_anything_but_a_select(warehouse, sql, capsys):
    assert main(["query", "--home", str(warehouse.root), sql]) == 2
    assert capsys.readouterr().err.startswith("tally: tally query is read-only")
    assert sorted(p.name for p in warehouse.root.rglob("*")) == ["tally.duckdb", "warehouse"]
