"""Reading the warehouse, on either engine: every read outside dbt (checks, month close, the
summary, the reports, `tally query`) goes through `reading` (DuckDB here, Spark in
warehouse.spark).

Read-only means read-only for files too. `tally query`'s connection opens the warehouse
read-only, may read files under the home only (the staging views read the lake's Parquet),
never spills to disk, and its configuration is locked so SQL cannot lift either limit; only
SELECT statements run, because DuckDB lets `COPY ... TO` and `EXPORT DATABASE` write into any
directory it may read.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from lake.home import Home
from lake.records import Unreadable
from warehouse.reader import MissingTable, QueryLimits, QueryRefused, Reader


class WarehouseUnreadable(Unreadable):
    """The warehouse file cannot be read (cut short, not a DuckDB file); the message says so in
    one line, and that `tally run` builds it again."""


def first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def lock_detail(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    start = text.find("Conflicting lock")
    return text[start:] if start >= 0 else text


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to one of the home's DuckDB files: the one place tally opens
    them outside dbt (DuckDB's own errors pass through)."""
    return duckdb.connect(str(path), read_only=True)


def reader(home: Home) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the DuckDB warehouse in UTC; use it as a context manager. A
    warehouse that cannot be opened (not a lock) is WarehouseUnreadable."""
    try:
        con = open_read_only(home.warehouse)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise
        raise WarehouseUnreadable(
            f"the warehouse {home.warehouse} cannot be read ({first_line(exc)}); "
            "`tally run` builds it again"
        ) from None
    con.execute("set TimeZone = 'UTC'")  # billing periods are UTC, so is the output
    return con


class DuckDBReader:
    """`Reader` on a DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con

    def frame(self, sql: str, **params) -> pl.DataFrame:
        return pl.from_arrow(self._relation(sql, params).to_arrow_table())

    def rows(self, sql: str, **params) -> list[tuple]:
        return self._relation(sql, params).fetchall()

    def _relation(self, sql: str, params: dict) -> duckdb.DuckDBPyRelation:
        try:  # DuckDB names parameters $name
            return self._con.sql(_NAMED.sub(r"$\1", sql), params=params or None)
        except duckdb.CatalogException as exc:
            raise MissingTable(str(exc).splitlines()[0]) from None
        except duckdb.IOException as exc:  # a file cut short shows when its blocks are read
            raise WarehouseUnreadable(
                f"the warehouse cannot be read ({first_line(exc)}); `tally run` builds it again"
            ) from None


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@contextlib.contextmanager
def reading(home: Home) -> Iterator[Reader]:
    """The warehouse of the home's engine, read-only. Every read of the warehouse outside dbt
    (checks, month close, the summary, `tally query`) goes through here."""
    if home.engine == "spark":
        from warehouse.spark import spark_reader

        with spark_reader(home) as spark:
            yield spark
    else:
        with reader(home) as con:
            yield DuckDBReader(con)


def check_read_only(sql: str) -> None:
    """Refuse anything but one SELECT (WITH, FROM-first, VALUES, DESCRIBE, SHOW, SUMMARIZE)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"query failed: {_with_hints(exc)}") from None
    if len(statements) != 1:
        raise QueryRefused(f"one statement at a time, please (got {len(statements)})")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(f"tally query is read-only: it runs SELECT statements, not {kind.name}")


def query(home: Home, sql: str, limits: QueryLimits | None = None) -> pl.DataFrame:
    """`tally query`: one SELECT against the home's warehouse, read-only on either engine, within
    `limits`; a refusal, a failed query or one past a limit is QueryRefused with one line."""
    limits = limits or QueryLimits()
    check_read_only(sql)
    if home.engine == "spark":
        from warehouse.spark import spark_query

        return spark_query(home, sql, limits)
    stopped = threading.Event()
    try:
        with read_only_connection(home, limits) as con:
            timer = threading.Timer(limits.seconds, lambda: (stopped.set(), con.interrupt()))
            timer.start()
            try:
                return _collect(con.sql(sql), limits)
            finally:
                timer.cancel()
    except (duckdb.Error, OSError) as exc:  # an interrupt inside the Arrow reader is an OSError
        if stopped.is_set():
            raise limits.past_time() from None
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise limits.past_memory() from None
        raise QueryRefused(f"query failed: {_with_hints(exc)}") from None


# What DuckDB says on the lines after an error: the names it would have taken.
_HINTS = ("Did you mean", "Candidate bindings")


def _with_hints(exc: Exception) -> str:
    """An error's first line, with DuckDB's suggestions (a table's schema, a column's close
    names) when it gives any."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    hints = [line for line in lines[1:] if line.startswith(_HINTS)]
    return " ".join(lines[:1] + hints)


def _collect(relation: duckdb.DuckDBPyRelation | None, limits: QueryLimits) -> pl.DataFrame:
    """A result as a frame, refused once it grows past the memory limit (DuckDB's own limit
    covers the query, not the rows it hands over)."""
    import pyarrow as pa

    if relation is None:  # a statement with no result
        return pl.DataFrame()
    reader = relation.to_arrow_reader(batch_size=100_000)
    batches, size = [], 0
    for batch in reader:
        size += batch.nbytes
        if size > limits.memory_bytes:
            raise limits.past_memory()
        batches.append(batch)
    return pl.from_arrow(pa.Table.from_batches(batches, schema=reader.schema))


@contextlib.contextmanager
def read_only_connection(
    home: Home, limits: QueryLimits | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, read-only, able to read files under the home and nothing else, in the
    memory of `limits` (and no more: it never spills to disk, which would write under the
    home). A table named without its schema is looked for among the marts."""
    with reader(home) as con:
        con.execute("set search_path = 'marts'")
        con.execute("set memory_limit = ?", [(limits or QueryLimits()).memory])
        con.execute("set temp_directory = ''")
        con.execute("set allowed_directories = [?]", [f"{home.root.as_posix()}/"])
        con.execute("set enable_external_access = false")
        con.execute("set autoinstall_known_extensions = false")
        con.execute("set lock_configuration = true")
        yield con
