"""What reading the warehouse means on either engine (`warehouse.reading.reading`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl


class MissingTable(LookupError):
    """The SQL names a table the warehouse does not have (yet): nothing was built."""


class Reader(Protocol):
    """Read-only SQL against the warehouse, whatever the engine. Parameters are named in the
    SQL as `:name` and given as keywords; the SQL is the part both engines share."""

    def frame(self, sql: str, **params) -> pl.DataFrame: ...

    def rows(self, sql: str, **params) -> list[tuple]: ...


class QueryRefused(ValueError):
    """SQL that `tally query` will not run, or that it stopped; the message says why in one
    line."""


@dataclass(frozen=True)
class QueryLimits:
    """How long a query may run, and how much memory it and its result may take."""

    seconds: float = 60
    memory_bytes: int = 3 * 1024**3

    @property
    def memory(self) -> str:
        """The memory limit as people and DuckDB write it."""
        mib = self.memory_bytes // 1024**2
        return f"{mib // 1024}GiB" if mib % 1024 == 0 else f"{mib}MiB"

    def past_time(self) -> QueryRefused:
        return QueryRefused(
            f"query stopped: it ran past the time limit of {self.seconds:g} s (--timeout)"
        )

    def past_memory(self) -> QueryRefused:
        return QueryRefused(
            f"query stopped: it needs more than the memory limit of {self.memory} "
            "(--memory-limit); narrow it, or aggregate in SQL"
        )
