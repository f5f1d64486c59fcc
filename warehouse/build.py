"""Building the DuckDB warehouse without blocking its readers, and telling a warehouse file that
cannot be used.

dbt works on a copy (`tally.duckdb.build`) that replaces the live file in one rename when dbt
is done. An analyst's read-only connection holds the old file open and keeps reading it; the
next connection sees the new one. Nobody waits on DuckDB's file lock. (Spark builds its tables
in place, under `warehouse/spark/`.)
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb

from lake.home import Home
from warehouse.reading import first_line, lock_detail, open_read_only, reader


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse open for writing; the message says so in one line."""


# A DuckDB file starts with three header blocks of 4 KiB, then its data blocks.
_DUCKDB_HEADER_BYTES = 3 * 4096


def why_unusable(path: Path) -> str | None:
    """Why a DuckDB file of the home's cannot be used (it does not open, or it ends before the
    last block its tables use: cut short), in a few words; None when it can. Reads the catalog
    and the tables' block lists, not their data. A file a writer holds is WarehouseBusy."""
    try:
        with open_read_only(path) as con:
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
                f"({lock_detail(exc)})"
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
    return first_line(exc)


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
            f"again ({lock_detail(exc)})"
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
