"""Ingestion of raw usage exports into the lake.

Each new landing file (by content hash) is read (`lake.landing`) and validated
(`transforms.validation`), and every row ends up in exactly one place: accepted into
`lake/events/event_date=D/`, quarantined with a reason in `lake/quarantine/`, or counted as a
duplicate of an event already accepted. A batch is committed by writing its manifest
(`lake/ingested_files/batch-<id>.parquet`) last; files of a batch without a manifest are the
remains of a crash and are removed before the next batch starts, so a re-run is always safe.
A manifest that cannot be read (cut short, edited by hand) commits nothing either: its batch is
set aside whole under `lake/unreadable/` and its landing files are ingested again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lake import events as lake_events
from lake.events import EventWriter, SeenIds, batch_of
from lake.home import Home
from lake.io import ensure_lake, sink_table, write_table
from lake.issued import remove_uncommitted_closes
from lake.landing import file_sha256
from lake.prepare import QUARANTINE_COLUMNS, Prepared, prepare, unreadable
from lake.price_book import signed_metrics
from lake.records import read_parquet_record
from lake.schemas import BATCH_DAYS_SCHEMA, FILES_SCHEMA, QUARANTINE_SCHEMA


@dataclass
class IngestResult:
    batch_id: str | None
    files: pl.DataFrame
    event_dates: list[dt.date]

    @property
    def totals(self) -> dict[str, int]:
        cols = ["rows_read", "rows_accepted", "rows_quarantined", "duplicates_dropped"]
        return {c: int(self.files[c].sum() or 0) for c in cols}


def _manifest_files(home: Home) -> list[Path]:
    return sorted(home.lake_ingested_files.glob("batch-*.parquet"))


def read_manifests(home: Home) -> pl.DataFrame:
    """Every committed batch's per-file records (lake/ingested_files); a manifest that cannot be
    read commits nothing (see `set_aside_unreadable`)."""
    records = [read_parquet_record(f) for f in _manifest_files(home)]
    read = [r for r in records if r is not None and "batch_id" in r.columns]
    if not read:
        return pl.DataFrame(schema=FILES_SCHEMA)
    # Manifests written before a column existed have it null (diagonal).
    frames = pl.concat(read, how="diagonal_relaxed")
    return frames.select(
        pl.col(c).cast(t) if c in frames.columns else pl.lit(None, t).alias(c)
        for c, t in FILES_SCHEMA.items()
    )


def latest_batch_id(home: Home) -> str | None:
    """The most recently committed batch that accepted anything, or None."""
    manifests = read_manifests(home).filter(pl.col("status") == "ingested")
    if manifests.height == 0:
        return None
    return manifests.sort("ingested_at", "batch_id")["batch_id"][-1]


def _stage_path(home: Home) -> Path:
    """Where the parts of the batch's large files wait between reading and deduplication (one
    batch at a time runs in a home)."""
    return home.lake / "staging"


def _remove_uncommitted(home: Home, committed: set[str]) -> None:
    """Files left by a batch that crashed before writing its manifest are removed."""
    shutil.rmtree(_stage_path(home), ignore_errors=True)
    for folder in (home.lake_events, home.lake_quarantine, home.lake_batch_days):
        if not folder.exists():
            continue
        for f in folder.rglob("batch-*.parquet"):
            if batch_of(f) not in committed:
                f.unlink()
        for f in folder.rglob("*.parquet.tmp"):
            f.unlink()


def set_aside_unreadable(home: Home) -> list[str]:
    """Batches whose manifest cannot be read, moved whole (manifest, events, quarantine, day
    record) under `lake/unreadable/batch-<id>/`, where nothing reads them; their ids. Their
    landing files are then no batch's, and the run ingests them again (landing files are never
    modified, so the lake gets the same events back)."""
    moved = []
    for manifest in _manifest_files(home):
        record = read_parquet_record(manifest)
        if record is not None and "batch_id" in record.columns:
            continue
        batch_id = batch_of(manifest)
        aside = home.lake / "unreadable" / f"batch-{batch_id}"
        for folder in (home.lake_events, home.lake_quarantine, home.lake_batch_days):
            for f in folder.rglob(f"batch-{batch_id}*.parquet") if folder.exists() else ():
                if batch_of(f) == batch_id:
                    _move(f, aside / f.relative_to(home.lake))
        _move(manifest, aside / manifest.relative_to(home.lake))
        moved.append(batch_id)
    return moved


def _move(path: Path, to: Path) -> None:
    to.parent.mkdir(parents=True, exist_ok=True)
    path.replace(to)


def _batch_days_path(home: Home, batch_id: str) -> Path:
    return home.lake_batch_days / f"batch-{batch_id}.parquet"


def _record_missing_batch_days(home: Home, manifests: pl.DataFrame) -> None:
    """A committed batch's day record that is missing (lakes written before batch_days existed)
    or cannot be read is recorded again from the batch's events in the lake."""
    batches = set(manifests.filter(pl.col("rows_accepted") > 0)["batch_id"].to_list())
    recorded = {batch_of(f) for f in home.lake_batch_days.glob("batch-*.parquet")}
    committed = set(manifests["batch_id"].to_list())
    missing = sorted(
        b
        for b in batches | (recorded & committed)
        if read_parquet_record(_batch_days_path(home, b)) is None
    )
    if not missing:
        return
    events = pl.scan_parquet(
        home.lake_events / "**" / "batch-*.parquet", hive_partitioning=False
    ).filter(pl.col("batch_id").is_in(missing))
    days = (
        events.group_by("batch_id", pl.col("occurred_at").dt.date().alias("event_date"))
        .agg(
            pl.len().cast(pl.Int64).alias("events"),
            pl.col("occurred_at").max().alias("last_occurred_at"),
        )
        .collect()
    )
    for batch_id in missing:
        part = days.filter(pl.col("batch_id") == batch_id).sort("event_date")
        write_table(
            part.select(BATCH_DAYS_SCHEMA.keys()).cast(BATCH_DAYS_SCHEMA),
            _batch_days_path(home, batch_id),
        )


QUARANTINE_WAITING = 200_000


class _QuarantineWriter:
    """Collects a batch's quarantined rows, their records included. Past `max_waiting` rows
    they wait on disk (in the stage), and the batch's quarantine file is streamed from there:
    a 100M-event batch quarantines millions of rows, a gigabyte of records."""

    def __init__(self, stage: Path, max_waiting: int | None = None):
        self._stage, self._max_waiting = stage, max_waiting or QUARANTINE_WAITING
        self._waiting: list[pl.DataFrame] = []
        self._rows = 0
        self._spilled: list[Path] = []

    def add(self, rows: pl.DataFrame) -> None:
        if rows.height == 0:
            return
        self._waiting.append(rows.select(QUARANTINE_COLUMNS.keys()).cast(QUARANTINE_COLUMNS))
        self._rows += rows.height
        if self._rows > self._max_waiting:
            self._stage.mkdir(parents=True, exist_ok=True)
            path = self._stage / f"quarantine-{len(self._spilled):05d}.parquet"
            write_table(pl.concat(self._waiting), path)
            self._spilled.append(path)
            self._waiting, self._rows = [], 0

    def write(self, path: Path, batch_id: str) -> None:
        """The batch's quarantine file, in the order the rows came."""
        waiting = (
            pl.concat(self._waiting) if self._waiting else pl.DataFrame(schema=QUARANTINE_COLUMNS)
        )
        rows = pl.concat([*(pl.scan_parquet(p) for p in self._spilled), waiting.lazy()])
        sink_table(
            rows.with_columns(pl.lit(batch_id).alias("batch_id")).cast(QUARANTINE_SCHEMA), path
        )


def _in_order(
    pool: ThreadPoolExecutor, work: Callable[[tuple], Prepared], items: list[tuple], ahead: int
) -> Iterator[tuple[tuple, Prepared]]:
    """Results of `work` over `items`, in order, with at most `ahead` items in flight: the next
    files are read while the current one is deduplicated and written, and memory holds a
    bounded number of files."""
    pending: deque = deque()
    queue = iter(items)
    for item in queue:
        pending.append((item, pool.submit(work, item)))
        if len(pending) >= ahead:
            break
    while pending:
        item, future = pending.popleft()
        following = next(queue, None)
        if following is not None:
            pending.append((following, pool.submit(work, following)))
        yield item, future.result()


class _Accepting:
    """A batch's accepted parts, file after file: ids seen before dropped (`SeenIds`), the
    rest handed to the lake's writer, and the events accepted per day counted."""

    def __init__(self, seen: SeenIds, lake: EventWriter):
        self._seen, self._lake = seen, lake
        self.days: dict[dt.date, tuple[int, dt.datetime]] = {}  # events, latest occurred_at

    def accept_file(self, n: int, prepared: Prepared) -> int:
        """Accept one file's parts; the number of its events written. Its late events for
        dates not held wait until the file is read, so each such date is looked up once a
        file rather than once a piece (the file's ids are distinct already, so the order of
        its dates does not change what is kept)."""
        written = 0
        late: dict[dt.date, list[pl.DataFrame]] = {}
        for accepted in prepared.accepted():
            for (day,), part in accepted.partition_by("event_date", as_dict=True).items():
                if part.height < lake_events.SMALL_PART and not self._seen.holds(day):
                    late.setdefault(day, []).append(part)
                else:
                    written += self._accept(n, day, part)
        for day, parts in late.items():
            written += self._accept(n, day, pl.concat(parts))
        return written

    def _accept(self, n: int, day: dt.date, part: pl.DataFrame) -> int:
        part = self._seen.drop_seen(day, part)
        if part.height:
            count, latest = self.days.get(day, (0, part["occurred_at"].max()))
            self.days[day] = (count + part.height, max(latest, part["occurred_at"].max()))
            self._lake.add(day, part, n)
        return part.height


@dataclass(frozen=True)
class Candidate:
    """A landing file no committed batch recorded: its name under the home, where to read it,
    its content hash, why it is refused (or None), and its size and modification time."""

    rel: str
    path: Path
    sha: str
    refused: str | None = None
    size_bytes: int | None = None
    modified_ns: int | None = None


def new_landing_files(
    home: Home,
    manifests: pl.DataFrame | None = None,
    *,
    settle_seconds: float = 0,
    waiting: Callable[[str], None] | None = None,
) -> list[Candidate]:
    """Landing files whose (name, content) no committed batch recorded. A file with the name,
    size and modification time a manifest recorded is known without being read: a nightly run
    hashes only what is new or changed. A refused entry is recorded as failed and never read;
    its hash is unique per name and reason, so each is recorded once.

    A file that may still be being written waits for a later look (`waiting` hears of it): one
    modified less than `settle_seconds` ago, or one whose size or modification time changed
    while it was hashed."""
    if manifests is None:
        manifests = read_manifests(home)
    clock = time.time()  # the file system's clock, whatever time a run bills as
    known = set(
        zip(manifests["file_path"].to_list(), manifests["content_sha256"].to_list(), strict=True)
    )
    unchanged = set(
        manifests.filter(pl.col("size_bytes").is_not_null())
        .select("file_path", "size_bytes", "modified_ns")
        .iter_rows()
    )
    out = []
    for entry in home.usage_entries():
        refused, size, modified = entry.refused, None, None
        if refused is None:
            try:
                st = entry.path.stat()
                size, modified = st.st_size, st.st_mtime_ns
                if (entry.rel, size, modified) in unchanged:
                    continue
                age = clock - modified / 1e9
                if settle_seconds > 0 and age < settle_seconds:
                    if waiting is not None:
                        waiting(f"{entry.rel}: modified {max(age, 0):.1f} s ago; waits")
                    continue
                sha = file_sha256(entry.path)
                if _stat_key(entry.path) != (size, modified):
                    if waiting is not None:
                        waiting(f"{entry.rel}: changed while it was read; waits")
                    continue
            except OSError as exc:
                refused, size, modified = f"cannot read: {exc.strerror or exc}", None, None
        if refused is not None:
            sha = hashlib.sha256(f"refused\t{entry.rel}\t{refused}".encode()).hexdigest()
        if (entry.rel, sha) not in known:
            out.append(Candidate(entry.rel, entry.path, sha, refused, size, modified))
    return out


def _stat_key(path: Path) -> tuple[int, int] | None:
    """A file's size and modification time, or None if it is gone."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def ingest(
    home: Home,
    *,
    customers: Iterable[str],
    metrics: Iterable[str],
    signed_metrics: Iterable[str] = (),
    now: dt.datetime | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    warn: Callable[[str], None] | None = None,
    workers: int = 2,
    seen_ids_in_memory: int = 8_000_000,
    settle_seconds: float = 0,
) -> IngestResult:
    """Ingest every landing file whose content has not been ingested yet; return per-file counts.

    Files are read and validated `workers` at a time, then deduplicated and written in order,
    so memory holds a few files plus at most `seen_ids_in_memory` ids already accepted (about
    40 bytes each; dates beyond it are read back from the lake when touched again).
    `progress` hears of each file; `warn` (default: `progress`) of what was healed. A file
    still being written (see `new_landing_files`; `settle_seconds`), or changed while it was
    read, is left for the next run.
    """
    now = now or dt.datetime.now(dt.UTC)
    customers, metrics = sorted(set(customers)), sorted(set(metrics))
    signed = sorted(set(signed_metrics))
    for batch_id in set_aside_unreadable(home):
        (warn or progress)(
            f"batch {batch_id}: its manifest cannot be read; set aside under lake/unreadable/ "
            "and its landing files ingested again"
        )
    manifests = read_manifests(home)
    _remove_uncommitted(home, set(manifests["batch_id"].unique().to_list()))
    _record_missing_batch_days(home, manifests)
    known_shas = set(manifests["content_sha256"].to_list())

    candidates = new_landing_files(home, manifests, settle_seconds=settle_seconds, waiting=progress)
    if not candidates:
        progress("no new landing files")
        return IngestResult(None, pl.DataFrame(schema=FILES_SCHEMA), [])

    batch_id = hashlib.sha256(
        "\n".join(f"{c.rel}\t{c.sha}" for c in candidates).encode()
    ).hexdigest()[:16]
    ingested_at = now.astimezone(dt.UTC)
    lake = EventWriter(home, batch_id)
    batch = _Accepting(SeenIds(home, lake, max_rows=seen_ids_in_memory), lake)
    file_rows: list[dict] = []
    stage = _stage_path(home)
    quarantine = _QuarantineWriter(stage)

    # Content already ingested (under another name, or twice in this batch) is not read again.
    to_read, shas = [], set(known_shas)
    for n, c in enumerate(candidates, start=1):
        rel, path, sha, refused = c.rel, c.path, c.sha, c.refused
        base = {
            "file_path": rel,
            "content_sha256": sha,
            "ingested_at": ingested_at,
            "size_bytes": c.size_bytes,
            "modified_ns": c.modified_ns,
        }
        if refused is not None:
            file_rows.append({**base, **_ZERO, "status": "failed", "error": refused, "n": n})
            quarantine.add(unreadable(rel, refused).rejected)
            progress(f"[{n}/{len(candidates)}] {rel}: refused ({refused})")
        elif sha in shas:
            file_rows.append({**base, **_ZERO, "status": "already_ingested", "error": None, "n": n})
            progress(f"[{n}/{len(candidates)}] {rel}: not read, its content is already ingested")
        else:
            shas.add(sha)
            to_read.append((n, rel, path, base))

    def work(item: tuple) -> Prepared:
        _, rel, path, _ = item
        return prepare(
            rel,
            path,
            customers=customers,
            metrics=metrics,
            signed_metrics=signed,
            now=now,
            stage=stage,
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for (n, rel, path, base), prepared in _in_order(pool, work, to_read, ahead=max(1, workers)):
            if _stat_key(path) != (base["size_bytes"], base["modified_ns"]):
                # Appended to (or rewritten) while it was read: what was read may end in a
                # cut row. Nothing of it is kept; the next run reads it whole, as a new file.
                progress(
                    f"[{n}/{len(candidates)}] {rel}: changed while it was read; left for the next run"
                )
                continue
            quarantine.add(prepared.rejected)
            if prepared.error is not None:
                file_rows.append(
                    {**base, **_ZERO, "status": "failed", "error": prepared.error, "n": n}
                )
                progress(f"[{n}/{len(candidates)}] {rel}: unreadable ({prepared.error})")
                continue
            written = batch.accept_file(n, prepared)
            file_rows.append(
                {
                    **base,
                    "rows_read": prepared.rows_read,
                    "rows_accepted": written,
                    "rows_quarantined": prepared.rejected.height,
                    "duplicates_dropped": prepared.valid_rows - written,
                    "status": "ingested",
                    "error": None,
                    "n": n,
                }
            )
            progress(
                f"[{n}/{len(candidates)}] {rel}: {prepared.rows_read} rows, {written} accepted"
            )

    if not file_rows:  # every file was left for the next run: no batch to commit
        shutil.rmtree(stage, ignore_errors=True)
        return IngestResult(None, pl.DataFrame(schema=FILES_SCHEMA), [])
    lake.flush()
    quarantine.write(home.lake_quarantine / f"batch-{batch_id}.parquet", batch_id)
    shutil.rmtree(stage, ignore_errors=True)
    file_rows.sort(key=lambda row: row.pop("n"))  # candidate order, skipped files included
    files = pl.DataFrame([{**row, "batch_id": batch_id} for row in file_rows], schema=FILES_SCHEMA)
    batch_days = pl.DataFrame(
        [
            {"batch_id": batch_id, "event_date": d, "events": n, "last_occurred_at": t}
            for d, (n, t) in sorted(batch.days.items())
        ],
        schema=BATCH_DAYS_SCHEMA,
    )
    write_table(batch_days, _batch_days_path(home, batch_id))
    write_table(files, home.lake_ingested_files / f"batch-{batch_id}.parquet")  # the commit
    return IngestResult(batch_id, files, sorted(batch.days))


_ZERO = {"rows_read": 0, "rows_accepted": 0, "rows_quarantined": 0, "duplicates_dropped": 0}


def ingest_landing(home: Home, **kwargs) -> IngestResult:
    """What a run (or a live micro-batch) ingests: the new landing files, against the customers
    and metrics the lake's reference data and price book hold (written first by the run), with
    what a close that did not commit left removed first. `kwargs` go to `ingest`; `warn`
    also hears of each removal."""
    ensure_lake(home)
    warn = kwargs.get("warn") or kwargs.get("progress") or (lambda _msg: None)
    for removed in remove_uncommitted_closes(home):
        warn(f"removed {removed}: left by a month close that did not commit")
    customers = pl.read_parquet(home.lake_reference / "customers.parquet")["customer_id"]
    charges = pl.read_parquet(home.lake_pricing / "charges.parquet")
    return ingest(
        home,
        customers=customers,
        metrics=charges["metric"].unique().to_list(),
        signed_metrics=signed_metrics(charges),
        **kwargs,
    )
