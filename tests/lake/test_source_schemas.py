"""The dbt sources declare the lake's tables column for column, with the SQL types of the
Python schemas that write them: Spark reads the lake through tables made from those
declarations, so a drift would read a column wrong or not at all."""

from pathlib import Path

import polars as pl
import yaml

from lake.schemas import SOURCE_SCHEMAS

SOURCES = Path(__file__).resolve().parents[2] / "dbt_project/models/staging/_sources.yml"

SQL_NAMES = {
    pl.String: "string",
    pl.Date: "date",
    pl.Int64: "bigint",
    pl.Int32: "int",
    pl.Boolean: "boolean",
}


def sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision}, {dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        assert dtype.time_zone == "UTC", "the lake's instants are UTC"
        return "timestamp"
    return SQL_NAMES[dtype]


def declared() -> dict[str, dict[str, str]]:
    sources = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))["sources"]
    return {
        f"{source['name']}.{table['name']}": {c["name"]: c["data_type"] for c in table["columns"]}
        for source in sources
        for table in source["tables"]
    }


def test_every_source_declares_the_lake_schema_column_for_column():
    tables = declared()
    assert sorted(tables) == sorted(SOURCE_SCHEMAS)
    for name, schema in SOURCE_SCHEMAS.items():
        expected = {column: sql_type(dtype) for column, dtype in schema.items()}
        assert tables[name] == expected, name


def test_the_events_table_is_read_by_its_date_folders():
    sources = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))["sources"]
    [events] = [
        t
        for s in sources
        if s["name"] == "lake"
        for t in s["tables"]
        if t["name"] == "usage_events"
    ]
    assert events["meta"]["partition_by"] == "event_date"
    assert events["meta"]["files"].startswith("events/*/")
