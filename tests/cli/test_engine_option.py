"""`--engine` and TALLY_ENGINE: the engine a command builds and reads, refused in one line when
unknown or not installed; each engine keeps its own records under the home."""

import importlib.util
from unittest import mock

import pytest

from cli.main import main
from lake.home import Home
from warehouse.dbt import run_profile


def test_an_unknown_engine_from_the_environment_is_refused_in_one_line(tmp_path, capsys):
    with mock.patch.dict("os.environ", {"TALLY_ENGINE": "postgres"}):
        assert main(["query", "--home", str(tmp_path), "select 1"]) == 2
    assert capsys.readouterr().err == "tally: TALLY_ENGINE=postgres: use one of duckdb, spark\n"


def test_an_unknown_engine_option_is_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["query", "--home", str(tmp_path), "--engine", "postgres", "select 1"])
    assert exit_.value.code == 2
    assert "invalid choice: 'postgres'" in capsys.readouterr().err


def test_spark_without_its_extra_says_how_to_install_it(tmp_path, capsys):
    real = importlib.util.find_spec

    def without_pyspark(name, *args):
        return None if name.startswith("pyspark") else real(name, *args)

    with mock.patch("importlib.util.find_spec", without_pyspark):
        assert main(["query", "--home", str(tmp_path), "--engine", "spark", "select 1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tally: --engine spark needs dbt-spark and PySpark: run `make spark`")


def test_each_engine_keeps_its_own_warehouse_and_records(tmp_path):
    duckdb, spark = Home.at(tmp_path), Home.at(tmp_path, "spark")
    assert duckdb.warehouse_folder == tmp_path / "warehouse"
    assert spark.warehouse_folder == tmp_path / "warehouse" / "spark"
    assert not spark.has_warehouse()
    (tmp_path / "warehouse" / "spark" / "metastore_db").mkdir(parents=True)
    assert spark.has_warehouse() and not duckdb.has_warehouse()


def test_the_spark_profile_names_the_home_its_catalog_and_its_lake(tmp_path):
    home = Home.at(tmp_path, "spark")
    profile = run_profile(home, home.warehouse_folder, "3GB")["tally"]
    assert profile["target"] == "spark"
    output = profile["outputs"]["spark"]
    assert output["type"] == "spark" and output["method"] == "session"
    session = output["server_side_parameters"]
    assert session["spark.sql.warehouse.dir"] == str(tmp_path / "warehouse" / "spark")
    assert session["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        f"jdbc:derby:;databaseName={tmp_path}/warehouse/spark/metastore_db;create=true"
    )
    assert session["spark.tally.lake"] == str(tmp_path / "lake")
    # The settings the marts' equality depends on.
    assert session["spark.sql.session.timeZone"] == "UTC"
    assert session["spark.sql.decimalOperations.allowPrecisionLoss"] == "false"
    assert "{{" not in repr(output)  # nothing left for dbt to look up
