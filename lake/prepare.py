"""One landing file read and validated, off the main thread: piece by piece
(`lake.pieces`), each piece by the rules of a whole file (`transforms.validation`), the first
copy of each id within the file kept. What it accepted waits, in memory or staged on disk,
until ingestion deduplicates it against the lake and writes it (`lake.ingest`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lake.events import compacted
from lake.landing import UnreadableFile, one_line
from lake.pieces import read_raw_pieces
from lake.schemas import QUARANTINE_SCHEMA
from transforms.validation import (
    UNREADABLE_FILE,
    accepted_events,
    first_of_each_id,
    quarantined_rows,
    validate,
)


@dataclass
class Prepared:
    """One landing file read and validated: its accepted events in parts (each distinct within
    itself, in the lake's schema, with `event_date`; in memory, or staged on disk past
    FILE_ROWS_HELD rows) and its rejected rows. Produced off the main thread."""

    rows_read: int
    valid_rows: int  # before duplicates within each part are dropped
    parts: list[pl.DataFrame | Path]
    rejected: pl.DataFrame
    error: str | None = None

    def accepted(self) -> Iterator[pl.DataFrame]:
        """The accepted parts in file order, each read back (and its staged file removed) only
        when its turn comes, so one part at a time is in memory."""
        for part in self.parts:
            if isinstance(part, Path):
                frame = pl.read_ipc(part)
                part.unlink()
                yield frame
            else:
                yield part


def prepare(
    rel: str,
    path: Path,
    *,
    customers: list[str],
    metrics: list[str],
    now: dt.datetime,
    stage: Path,
    signed_metrics: list[str] = (),
) -> Prepared:
    """Read and validate one file. Whatever goes wrong with it stays with it: the file is
    recorded as unreadable with a one-line reason, nothing of it is kept (parts it staged
    are removed), and the batch goes on. `stage` is where its parts wait when it is large."""
    staged: list[Path] = []
    try:
        return _prepare_file(
            rel,
            path,
            customers=customers,
            metrics=metrics,
            signed_metrics=signed_metrics,
            now=now,
            stage=stage,
            staged=staged,
        )
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the others
        for part in staged:
            part.unlink(missing_ok=True)
        if isinstance(exc, UnreadableFile):
            return unreadable(rel, str(exc))
        return unreadable(rel, f"cannot read: {type(exc).__name__}: {one_line(exc)}")


def unreadable(rel: str, error: str) -> Prepared:
    rejected = pl.DataFrame(
        [{"file_path": rel, "row_number": None, "reason": UNREADABLE_FILE, "raw_record": error}],
        schema=QUARANTINE_COLUMNS,
    )
    return Prepared(0, 0, [], rejected, error=error)


def _prepare_file(
    rel: str,
    path: Path,
    *,
    customers: list[str],
    metrics: list[str],
    signed_metrics: list[str],
    now: dt.datetime,
    stage: Path,
    staged: list[Path],
) -> Prepared:
    """Read and validate a file piece by piece (`read_raw_pieces`). Its accepted parts stay in
    memory up to FILE_ROWS_HELD rows; past that they are staged on disk (Arrow IPC,
    uncompressed) as they are made, so memory holds about one piece however large the file.
    `staged` lists what was written, for the caller to remove if a later piece fails. (The
    same arguments as `prepare`, which only adds the handling of a file that fails.)"""
    parts: list[pl.DataFrame | Path] = []
    rejected: list[pl.DataFrame] = []
    rows_read = valid_rows = 0
    earlier = pl.DataFrame(schema=_PIECE_KEY)  # the ids accepted from the file's earlier pieces
    for piece in read_raw_pieces(path):
        validated = validate(
            piece.rows,
            customers=customers,
            metrics=metrics,
            signed_metrics=signed_metrics,
            now=now,
        )
        accepted = accepted_events(validated, rel)
        offset = pl.col("row_number") + piece.first_row
        # Compacted: a rejected JSON line is cut from the piece's lines, and would keep all
        # of them alive until the batch ends.
        rejected.append(
            compacted(
                pl.concat(
                    [
                        quarantined_rows(validated, piece.rows, rel, piece.lines),
                        piece.malformed.select(
                            pl.lit(rel).alias("file_path"),
                            "row_number",
                            pl.lit("malformed_row").alias("reason"),
                            "raw_record",
                        ),
                    ]
                ).with_columns(offset)
            )
        )
        rows_read += piece.rows.height + piece.malformed.height
        valid_rows += accepted.height
        # Within a file the first copy of an id wins, whatever its date, as when the file is
        # read whole: copies of ids from earlier pieces are dropped here.
        distinct = first_of_each_id(accepted).with_columns(
            pl.col("source_row") + piece.first_row, _SECOND_HASH
        )
        # The piece's hashes are the smaller side: the earlier ones are screened against them,
        # and only ids sharing a hash with an earlier piece are compared by both hashes.
        suspects = earlier.filter(pl.col("_hash").is_in(distinct["_hash"].implode()))
        if suspects.height:
            distinct = distinct.join(
                suspects, on=list(_PIECE_KEY), how="anti", maintain_order="left"
            )
        earlier = pl.concat([earlier, distinct.select(_PIECE_KEY.keys())])
        parts.append(distinct.drop("_hash2"))
        held = sum(p.height for p in parts if isinstance(p, pl.DataFrame))
        if held > FILE_ROWS_HELD:  # a large file: its parts wait on disk
            parts = [_staged(p, stage, staged) if isinstance(p, pl.DataFrame) else p for p in parts]
    return Prepared(rows_read, valid_rows, parts, pl.concat(rejected))


# A file's accepted rows held in memory until it is done; past this they wait on disk. Up to
# this size (about 225 MB; two files are read while a third is written, so about 700 MB at
# most) staging costs more than it saves (docs/DECISIONS.md, "What else waits on disk").
# Larger files (the 100M world's 3.9M rows) still wait on disk.
FILE_ROWS_HELD = 1_500_000

# Ids of a file's earlier pieces are compared by two independent 64-bit hashes, 16 bytes an
# id (a 100M-row file holds 1.6 GB of them; a 1-in-10^23 chance that two ids of one file share
# both); its other ids are not held.
_SECOND_HASH = pl.col("event_id").hash(seed=1).alias("_hash2")
_PIECE_KEY = {"_hash": pl.UInt64, "_hash2": pl.UInt64}


def _staged(part: pl.DataFrame, stage: Path, staged: list[Path]) -> Path:
    stage.mkdir(parents=True, exist_ok=True)
    path = stage / f"part-{uuid.uuid4().hex}.arrow"
    staged.append(path)
    part.write_ipc(path, compression="uncompressed")
    return path


QUARANTINE_COLUMNS = {k: v for k, v in QUARANTINE_SCHEMA.items() if k != "batch_id"}
