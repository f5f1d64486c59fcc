"""What reading the warehouse means on either engine (`orchestration.warehouse.reading`)."""

from __future__ import annotations

from typing import Protocol

import polars as pl


class MissingTable(LookupError):
    """The SQL names a table the warehouse does not have (yet): nothing was built."""


class Reader(Protocol):
    """Read-only SQL against the warehouse, whatever the engine. Parameters are named in the
    SQL as `:name` and given as keywords; the SQL is the part both engines share."""

    def frame(self, sql: str, **params) -> pl.DataFrame: ...

    def rows(self, sql: str, **params) -> list[tuple]: ...
