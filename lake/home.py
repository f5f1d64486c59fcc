"""The tally home directory layout, as one value passed around explicitly."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

USAGE_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")
REFERENCE_FILES = (
    "customers.csv",
    "subscriptions.csv",
    "credit_grants.csv",
    "billed_invoices.csv",
    "budgets.csv",
)


class UnsafeFileName(ValueError):
    """A name built from data that would leave its folder even once escaped."""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 200  # leaves room for a suffix such as `.json.tmp`


def safe_file_name(name: str) -> str:
    """A file name built from data (an invoice id, a customer id) that stays in its folder:
    every character outside `[A-Za-z0-9._-]` is escaped as `%XX` (UTF-8 bytes), so
    distinct names stay distinct; a name that is still `.`, `..` or empty is refused."""
    escaped = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode("utf-8")), name)
    if escaped in ("", ".", ".."):
        raise UnsafeFileName(f"{name!r} cannot be used as a file name")
    if len(escaped) > _MAX_NAME:  # file systems stop at 255 bytes; keep names distinct
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        escaped = f"{escaped[: _MAX_NAME - 17]}~{digest}"
    return escaped


# The engines that build and read the warehouse: DuckDB in-process, or Apache Spark.
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Home:
    """Paths under one tally home. Files under `landing/` are only ever read. `engine` is the
    warehouse this home's commands build and read; the lake is the same for both."""

    root: Path
    engine: str = "duckdb"

    @classmethod
    def at(cls, root: str | Path, engine: str = "duckdb") -> Home:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
        return cls(Path(root).expanduser().resolve(), engine)

    @property
    def landing_usage(self) -> Path:
        return self.root / "landing" / "usage"

    @property
    def landing_reference(self) -> Path:
        return self.root / "landing" / "reference"

    @property
    def pricing(self) -> Path:
        return self.root / "pricing"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def lake_events(self) -> Path:
        return self.lake / "events"

    @property
    def lake_quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def lake_ingested_files(self) -> Path:
        return self.lake / "ingested_files"

    @property
    def lake_batch_days(self) -> Path:
        return self.lake / "batch_days"

    @property
    def lake_reference(self) -> Path:
        return self.lake / "reference"

    @property
    def lake_pricing(self) -> Path:
        return self.lake / "pricing"

    @property
    def lake_issued(self) -> Path:
        return self.lake / "issued"

    @property
    def lake_notifications(self) -> Path:
        """Every spend notification ever raised, with its webhook delivery."""
        return self.lake / "notifications"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "tally.duckdb"

    @property
    def warehouse_folder(self) -> Path:
        """The engine's warehouse and its records (what the marts were built from, the last
        run's outcome): `warehouse/` for DuckDB, `warehouse/spark/` for Spark's tables and
        catalog, so one engine's records never speak for the other's marts."""
        folder = self.root / "warehouse"
        return folder if self.engine == "duckdb" else folder / self.engine

    def has_warehouse(self) -> bool:
        """Whether the engine's warehouse has been built (its DuckDB file, Spark's catalog)."""
        if self.engine == "duckdb":
            return self.warehouse.exists()
        return (self.warehouse_folder / "metastore_db").exists()

    def held(self) -> list[Path]:
        """The folders of this home that tally writes and that hold anything: what makes a
        folder a home with data (`generate` and `demo` refuse it without --force)."""
        folders = ("landing", "pricing", "lake", "warehouse", "alerts", "exports", "reports")
        candidates = [self.root / name for name in folders] + [self.dagster_home]
        return [p for p in candidates if p.is_dir() and any(p.iterdir())]

    @property
    def incremental_store(self) -> Path:
        """The tables of dbt's incremental models that grow with history (daily aggregate, id
        index, rating per period): attached to the build as `incremental`, updated in place,
        so each build's copy of the warehouse holds the marts only."""
        return self.root / "warehouse" / "incremental.duckdb"

    @property
    def alerts(self) -> Path:
        return self.root / "alerts" / "alerts.jsonl"

    @property
    def notifications(self) -> Path:
        return self.root / "alerts" / "notifications.jsonl"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster"

    def usage_files(self) -> list[Path]:
        """The raw usage exports tally reads, in a stable order (see `usage_entries`)."""
        return [e.path for e in self.usage_entries() if e.refused is None]

    def usage_entries(self) -> list[LandingEntry]:
        """Every raw usage export under landing/usage, any depth, in a stable order.

        Symbolic links are never followed out of the home: a link to a file inside the home is
        read, a link to anything outside it, a link to a folder, a broken link and anything
        that is not a regular file (a FIFO would block the reader) are listed as refused.
        Dot-files and dot-folders are never read, nor is a `*.tmp` file: writers write there
        first and rename when done.
        """
        if not self.landing_usage.is_dir():
            return []
        entries = []
        for folder, dirs, names in os.walk(self.landing_usage, followlinks=False):
            here = Path(folder)
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in dirs:  # os.walk does not descend into linked folders; say so
                if (here / name).is_symlink():
                    entries.append(self._entry(here / name))
            for name in names:
                if name.startswith("."):
                    continue
                if name.lower().endswith(USAGE_SUFFIXES):
                    entries.append(self._entry(here / name))
        return sorted(entries, key=lambda e: e.rel)

    def _entry(self, path: Path) -> LandingEntry:
        rel = path.relative_to(self.root).as_posix()
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(self.root):
                return LandingEntry(path, rel, "symbolic link to outside the home: not followed")
            if target.is_dir():
                return LandingEntry(path, rel, "symbolic link to a folder: not followed")
            path = target
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            return LandingEntry(path, rel, f"cannot read: {exc.strerror or exc}")
        if not stat.S_ISREG(mode):
            return LandingEntry(path, rel, "not a regular file")
        return LandingEntry(path, rel)

    def relative(self, path: Path) -> str:
        """A path under the home as recorded in the marts: relative to the home, POSIX
        separators, symbolic links not resolved."""
        return path.relative_to(self.root).as_posix()


@dataclass(frozen=True)
class LandingEntry:
    """One landing file: where to read it, its name as recorded (`rel`, under the home), and
    why it is refused, if it is."""

    path: Path
    rel: str
    refused: str | None = None
