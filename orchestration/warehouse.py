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
import threading
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from lake.home import Home
from lake.records import Unreadable
from orchestration.reader import MissingTable, QueryLimits, QueryRefused, Reader


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse open for writing; the message says so in one line."""


class WarehouseUnreadable(Unreadable):
    """The warehouse file cannot be read (cut short, not a DuckDB file); the message says so in
    one line, and that `tally run` builds it again."""


# A DuckDB file starts with three header blocks of 4 KiB, then its data blocks.
_DUCKDB_HEADER_BYTES = 3 * 4096


def why_unusable(path: Path) -> str | None:
    """Why a DuckDB file of the home's cannot be used (it does not open, or it ends before the
    last block its tables use: cut short), in a few words; None when it can. Reads the catalog
    and the tables' block lists, not their data. A file a writer holds is WarehouseBusy."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            [(block_size,)] = con.execute(
                "select block_size from pragma_database_size()"
            ).fetchall()
            last = max(
                [-1]
                + [
                    con.execute(
                        "select coalesce(max(block_id), -1) from pragma_storage_info(?)",
                        [f'"{database}"."{schema}"."{table}"'],
                    ).fetchone()[0]
                    for database, schema, table in con.execute(
                        "select database_name, schema_name, table_name from duckdb_tables()"
                    ).fetchall()
                ]
            )
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(
                f"{path} is open for writing by another process; close it and run again "
                f"({_lock_detail(exc)})"
            ) from None
        return _reason(exc)
    except duckdb.Error as exc:
        return _reason(exc)
    if path.stat().st_size < _DUCKDB_HEADER_BYTES + (last + 1) * block_size:
        return _CUT_SHORT
    return None


_CUT_SHORT = "the file ends before the last block its tables use: cut short"


def _reason(exc: Exception) -> str:
    """Why DuckDB could not open a file, in a few words."""
    text = str(exc)
    if "Could not read enough bytes" in text:
        return _CUT_SHORT
    if "not a valid DuckDB database file" in text:
        return "not a DuckDB database file"
    return _first_line(exc)


def set_aside_unusable(home: Home) -> list[str]:
    """The DuckDB files of a run that cannot be used (the live warehouse, the incremental
    store), renamed to `<name>.unreadable-<time>` beside themselves with their write-ahead log:
    both are rebuilt from the lake, the incremental models' tables from every date. One line
    for each set aside."""
    said = []
    for path in (home.warehouse, home.incremental_store):
        why = why_unusable(path) if path.exists() else None
        if why is None:
            continue
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.unreadable-{stamp}")
        os.replace(path, aside)
        if _wal(path).exists():
            os.replace(_wal(path), _wal(aside))
        said.append(
            f"{home.relative(path)} cannot be read ({why}): set aside as {aside.name}; rebuilt"
        )
    return said


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


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
    """A read-only connection to the DuckDB warehouse in UTC; use it as a context manager. A
    warehouse that cannot be opened (not a lock) is WarehouseUnreadable."""
    try:
        con = duckdb.connect(str(home.warehouse), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise
        raise WarehouseUnreadable(
            f"the warehouse {home.warehouse} cannot be read ({_first_line(exc)}); "
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
                f"the warehouse cannot be read ({_first_line(exc)}); `tally run` builds it again"
            ) from None


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
class Intake:
    """Files and rows of some ingest batches (fct_ingested_files)."""

    files: int = 0
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    duplicates_dropped: int = 0
    unreadable: int = 0

    def __add__(self, other: Intake) -> Intake:
        return Intake(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def conserved(self) -> bool:
        return (
            self.rows_read == self.rows_accepted + self.rows_quarantined + self.duplicates_dropped
        )


@dataclass(frozen=True)
class Revenue:
    """Recognized revenue of one currency, and what it is made of (fct_revenue_monthly)."""

    currency: str
    recognized: Decimal
    billed: Decimal  # totals of issued invoices
    credits: Decimal  # purchased credits consumed
    breakage: Decimal  # purchased credits expired


@dataclass(frozen=True)
class Figures:
    """What the run summary shows, read from the marts: what ingestion batches and issued
    invoices since `since` added (this run), and the totals to date."""

    new: Intake
    total: Intake
    newest_unreadable: list[tuple[str, str]]  # (file_path, error), newest first, at most 5
    invoices: list[tuple[str, str, int, Decimal]]  # (status, currency, count, total)
    issued_now: list[tuple[str, int, Decimal]]  # (currency, count, total) issued since `since`
    revenue: list[Revenue]
    mismatches: int
    notified: int = 0  # spend notifications raised to date
    notified_now: int = 0  # raised by this command


def summary_figures(home: Home, since: dt.datetime | None = None) -> Figures | None:
    """The marts' headline figures; None before the first run. `since`: when the command
    began (what it ingested and issued is told apart from the totals)."""
    if not home.has_warehouse():
        return None
    with reading(home) as warehouse:
        batches = warehouse.rows(
            "select max(ingested_at), count(*), coalesce(sum(rows_read), 0), "
            "coalesce(sum(rows_accepted), 0), coalesce(sum(rows_quarantined), 0), "
            "coalesce(sum(duplicates_dropped), 0), "
            "coalesce(sum(case when status = 'failed' then 1 else 0 end), 0) "
            "from marts.fct_ingested_files group by batch_id"
        )
        unreadable = warehouse.rows(
            "select file_path, error from marts.fct_ingested_files where status = 'failed' "
            "order by ingested_at desc, file_path limit 5"
        )
        invoices = warehouse.rows(
            "select status, currency, max(issued_at), count(*), sum(total) "
            "from marts.fct_invoices group by status, currency, period_start"
        )
        revenue = warehouse.rows(
            "select currency, sum(recognized_revenue), sum(billed_revenue), "
            "sum(credit_revenue), sum(breakage_revenue) "
            "from marts.fct_revenue_monthly group by currency order by currency"
        )
        [(mismatches,)] = warehouse.rows("select count(*) from marts.fct_billing_mismatches")
        notifications = warehouse.rows(
            "select sent_at, count(*) from marts.fct_spend_notifications group by sent_at"
        )

    def recent(at) -> bool:
        return since is not None and at is not None and _instant(at) >= since

    new, total = Intake(), Intake()
    for ingested_at, *counts in batches:
        total += Intake(*counts)
        if recent(ingested_at):
            new += Intake(*counts)
    by_status: dict[tuple[str, str], tuple[int, Decimal]] = {}
    issued_now: dict[str, tuple[int, Decimal]] = {}
    for status, currency, issued_at, count, amount in invoices:
        n, sum_ = by_status.get((status, currency), (0, Decimal(0)))
        by_status[(status, currency)] = (n + count, sum_ + amount)
        if status == "issued" and recent(issued_at):
            n, sum_ = issued_now.get(currency, (0, Decimal(0)))
            issued_now[currency] = (n + count, sum_ + amount)
    return Figures(
        new=new,
        total=total,
        newest_unreadable=unreadable,
        invoices=[(s, c, n, t) for (s, c), (n, t) in sorted(by_status.items())],
        issued_now=[(c, n, t) for c, (n, t) in sorted(issued_now.items())],
        revenue=[Revenue(*row) for row in revenue],
        mismatches=mismatches,
        notified=sum(n for _, n in notifications),
        notified_now=sum(n for at, n in notifications if recent(at)),
    )


def _instant(value) -> dt.datetime:
    """A mart's timestamp as a UTC instant (a reader may hand it back naive, meaning UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


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


def query(home: Home, sql: str, limits: QueryLimits | None = None) -> pl.DataFrame:
    """`tally query`: one SELECT against the home's warehouse, read-only on either engine, within
    `limits`; a refusal, a failed query or one past a limit is QueryRefused with one line."""
    limits = limits or QueryLimits()
    check_read_only(sql)
    if home.engine == "spark":
        from orchestration.spark import spark_query

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
        raise QueryRefused(f"query failed: {str(exc).splitlines()[0]}") from None


def _collect(relation: duckdb.DuckDBPyRelation | None, limits: QueryLimits) -> pl.DataFrame:
    """A result as a frame, refused once it grows past the memory limit (DuckDB's own limit
    covers the query, not the rows it hands over)."""
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
    home)."""
    with reader(home) as con:
        con.execute("set memory_limit = ?", [(limits or QueryLimits()).memory])
        con.execute("set temp_directory = ''")
        con.execute("set allowed_directories = [?]", [f"{home.root.as_posix()}/"])
        con.execute("set enable_external_access = false")
        con.execute("set autoinstall_known_extensions = false")
        con.execute("set lock_configuration = true")
        yield con
