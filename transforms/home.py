"""The tally home directory layout (SPEC section 1), as one value passed around explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

USAGE_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")
REFERENCE_FILES = ("customers.csv", "subscriptions.csv", "credit_grants.csv", "billed_invoices.csv")


@dataclass(frozen=True)
class Home:
    """Paths under one tally home. Files under `landing/` are only ever read."""

    root: Path

    @classmethod
    def at(cls, root: str | Path) -> Home:
        return cls(Path(root).expanduser().resolve())

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
    def lake_reference(self) -> Path:
        return self.lake / "reference"

    @property
    def lake_pricing(self) -> Path:
        return self.lake / "pricing"

    @property
    def lake_issued(self) -> Path:
        return self.lake / "issued"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "tally.duckdb"

    @property
    def alerts(self) -> Path:
        return self.root / "alerts" / "alerts.jsonl"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster"

    def usage_files(self) -> list[Path]:
        """Every raw usage export under landing/usage, any depth, in a stable order."""
        if not self.landing_usage.exists():
            return []
        files = [
            p
            for p in self.landing_usage.rglob("*")
            if p.is_file() and p.name.lower().endswith(USAGE_SUFFIXES)
        ]
        return sorted(files)

    def relative(self, path: Path) -> str:
        """A path as recorded in the marts: relative to the home, POSIX separators."""
        return path.resolve().relative_to(self.root).as_posix()
