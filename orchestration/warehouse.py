"""The warehouse: how a run builds the DuckDB file without blocking readers, and how either
engine's warehouse is read (`reading`: DuckDB here, Spark in `orchestration.spark`).

Building on DuckDB: dbt works on a copy (`tally.duckdb.build`) that replaces the live file in
one rename when dbt is done. An analyst's read-only connection holds the old file open and
keeps reading it; the next connection sees the new one. Nobody waits on DuckDB's file lock.
(Spark builds its tables in place, under `warehouse/spark/`.)

Reading from outside a run: `tally query` and anything an analyst is handed.

Read-only means read-only for files too. The connection opens the warehouse read-only, may
read files under the home only (the staging views read the lake's Parquet), and its
configuration is locked so SQL cannot lift either limit; only SELECT statements run, because
DuckDB lets `COPY ... TO` and `EXPORT DATABASE` write into any directory it may read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from lake.home import Home
from orchestration.reader import MissingTable, Reader


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse open for writing; the message says so in one line."""


def build_path(home: Home) -> Path:
    """Where dbt builds the next warehouse (the copy that replaces the live file)."""
    return home.warehouse.with_name(home.warehouse.name + ".build")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def start_build(home: Home) -> Path:
    """A fresh copy of the live warehouse (with its write-ahead log, if a writer was killed)
    for dbt to build into; its path. Refused in one line if a writer holds the live file."""
    live, build = home.warehouse, build_path(home)
    live.parent.mkdir(parents=True, exist_ok=True)
    for stale in (build, _wal(build)):
        stale.unlink(missing_ok=True)
    if not live.exists():
        return build
    try:  # a consistent copy needs no writer; readers are fine
        reader(home).close()
    except duckdb.IOException as exc:
        raise WarehouseBusy(
            f"the warehouse {live} is open for writing by another process; close it and run "
            f"again ({_lock_detail(exc)})"
        ) from None
    shutil.copyfile(live, build)
    if _wal(live).exists():
        shutil.copyfile(_wal(live), _wal(build))
    return build


def finish_build(home: Home, build: Path) -> None:
    """Make the build the live warehouse, in one rename (dbt has closed it)."""
    if not build.exists():
        return
    # The live file's log (left by a killed writer) was copied with it and replayed into the
    # build; it must not be replayed into the new file. Everything here is rebuilt from the
    # lake, so a crash between these two steps loses nothing the next run does not rebuild.
    _wal(home.warehouse).unlink(missing_ok=True)
    os.replace(build, home.warehouse)
    if _wal(build).exists():
        os.replace(_wal(build), _wal(home.warehouse))


def _lock_detail(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    start = text.find("Conflicting lock")
    return text[start:] if start >= 0 else text


def reader(home: Home) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the DuckDB warehouse in UTC; use it as a context manager."""
    con = duckdb.connect(str(home.warehouse), read_only=True)
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


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@contextlib.contextmanager
def reading(home: Home) -> Iterator[Reader]:
    """The warehouse of the home's engine, read-only. Every read of the warehouse outside dbt
    (checks, month close, the summary, `tally query`) goes through here."""
    if home.engine == "spark":
        from orchestration.spark import spark_reader

        with spark_reader(home) as spark:
            yield spark
    else:
        with reader(home) as con:
            yield DuckDBReader(con)


def current_subtotals(home: Home, month: dt.date) -> dict[str, tuple[str, Decimal]]:
    """The month's rated subtotal per customer (currency, amount), without adjustments carried
    in from earlier months; empty before the first run."""
    if not home.has_warehouse():
        return {}
    with reading(home) as warehouse:
        rows = warehouse.rows(
            "select customer_id, currency, sum(amount) from marts.fct_invoice_lines "
            "where period_start = :month and line_type <> 'adjustment' group by 1, 2",
            month=month,
        )
    return {c: (ccy, Decimal(s)) for c, ccy, s in rows}


@dataclass(frozen=True)
class Figures:
    """What the run summary shows, read from the marts."""

    files: int
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    duplicates_dropped: int
    unreadable: int
    newest_unreadable: list[tuple[str, str]]  # (file_path, error), newest first, at most 5
    invoices: list[tuple[str, str, int, Decimal]]  # (status, currency, count, total)
    revenue: list[tuple[str, Decimal]]  # (currency, recognized revenue)
    mismatches: int


def summary_figures(home: Home) -> Figures | None:
    """The marts' headline figures; None before the first run."""
    if not home.has_warehouse():
        return None
    with reading(home) as warehouse:
        files = warehouse.rows(
            "select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_accepted), 0), "
            "coalesce(sum(rows_quarantined), 0), coalesce(sum(duplicates_dropped), 0), "
            "coalesce(sum(case when status = 'failed' then 1 else 0 end), 0) "
            "from marts.fct_ingested_files"
        )[0]
        unreadable = warehouse.rows(
            "select file_path, error from marts.fct_ingested_files where status = 'failed' "
            "order by ingested_at desc, file_path limit 5"
        )
        invoices = warehouse.rows(
            "select status, currency, count(*), sum(total) from marts.fct_invoices "
            "group by status, currency order by status, currency"
        )
        revenue = warehouse.rows(
            "select c.currency, sum(r.recognized_revenue) from marts.fct_revenue_monthly r "
            "join (select distinct customer_id, currency from marts.fct_invoices) c "
            "on r.customer_id = c.customer_id group by c.currency order by c.currency"
        )
        [(mismatches,)] = warehouse.rows("select count(*) from marts.fct_billing_mismatches")
    return Figures(*files, unreadable, invoices, revenue, mismatches)


class QueryRefused(ValueError):
    """SQL that `tally query` will not run; the message says why in one line."""


def check_read_only(sql: str) -> None:
    """Refuse anything but one SELECT (WITH, FROM-first, VALUES, DESCRIBE, SHOW, SUMMARIZE)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"query failed: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryRefused(f"one statement at a time, please (got {len(statements)})")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(f"tally query is read-only: it runs SELECT statements, not {kind.name}")


def query(home: Home, sql: str) -> pl.DataFrame:
    """`tally query`: one SELECT against the home's warehouse, read-only on either engine; a
    refusal or a failed query is QueryRefused with one line."""
    check_read_only(sql)
    if home.engine == "spark":
        from pyspark.errors import PySparkException

        from orchestration.spark import spark_reader

        try:
            with spark_reader(home) as spark:
                return spark.frame(sql)
        except (PySparkException, MissingTable) as exc:
            raise QueryRefused(f"query failed: {str(exc).strip().splitlines()[0]}") from None
    try:
        with read_only_connection(home) as con:
            return pl.from_arrow(con.sql(sql).to_arrow_table())
    except duckdb.Error as exc:
        raise QueryRefused(f"query failed: {str(exc).splitlines()[0]}") from None


@contextlib.contextmanager
def read_only_connection(home: Home) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, read-only, able to read files under the home and nothing else."""
    with reader(home) as con:
        con.execute("set allowed_directories = [?]", [f"{home.root.as_posix()}/"])
        con.execute("set enable_external_access = false")
        con.execute("set autoinstall_known_extensions = false")
        con.execute("set lock_configuration = true")
        yield con
