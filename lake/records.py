"""The records tally keeps between runs, written and read one way.

What the marts were built from (`warehouse/built.json`), the last run's outcome
(`warehouse/last_run.json`), the batches' manifests and day records (`lake/ingested_files`,
`lake/batch_days`): each is written atomically (a reader sees the old record or the new one,
and a kill leaves one of them) and read by `read_record`, which takes a missing, truncated or
unparsable record for unknown (None). Whoever reads it then does what it would do without
it: a run rebuilds what the record vouched for, and close refuses until a run has.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import polars as pl

T = TypeVar("T")


class Unreadable(Exception):
    """A file under the home that cannot be read and cannot be taken as unknown (the warehouse
    an analyst queries); the message says so in one line, and what rebuilds it."""


def write_text_atomically(path: Path, text: str) -> None:
    """Write a text file so readers see the old file or the new one, never half of one; on
    disk before it replaces the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_record(path: Path, parse: Callable[[bytes], T]) -> T | None:
    """A record parsed from its bytes, or None when it is unknown: missing, unreadable, or not
    what `parse` accepts (cut short by a full disk, edited by hand)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return parse(data)
    except Exception:  # noqa: BLE001 - any way a record is broken makes it unknown
        return None


def _json_object(data: bytes) -> dict:
    body = json.loads(data)
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body


def read_json_record(path: Path) -> dict | None:
    """A JSON object record (`read_record`)."""
    return read_record(path, _json_object)


def write_json_record(path: Path, body: dict) -> None:
    write_text_atomically(path, json.dumps(body, indent=2) + "\n")


def read_parquet_record(path: Path) -> pl.DataFrame | None:
    """A Parquet record (`read_record`): a manifest, a batch's day record."""
    import polars as pl

    return read_record(path, lambda data: pl.read_parquet(io.BytesIO(data)))
