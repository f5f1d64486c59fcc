"""The lake's accepted events (lake/events/event_date=D/batch-<id>-<part>.parquet): reading a
month for rating, and, for ingestion, the ids already accepted per date and the writer of a
batch's new events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from lake.home import Home
from lake.io import write_table
from lake.schemas import EVENT_SCHEMA
from transforms.validation import ID_HASH

RATED_COLUMNS = (
    "event_id",
    "occurred_at",
    "customer_id",
    "metric",
    "quantity",
    "status",
    "properties",
)


def month_events(home: Home, month_start: dt.date, month_end: dt.date) -> pl.LazyFrame:
    """The accepted events of days [month_start, month_end), the columns rating needs."""
    return _events_of_days(home, lambda day: month_start.isoformat() <= day < month_end.isoformat())


def events_before(home: Home, day: dt.date, metrics: set[str]) -> pl.LazyFrame:
    """The accepted events of `metrics` on the days before `day`: the earlier periods a
    recurring charge counts."""
    wanted = (lambda d: d < day.isoformat()) if metrics else (lambda d: False)
    return _events_of_days(home, wanted).filter(pl.col("metric").is_in(sorted(metrics)))


def _events_of_days(home: Home, wanted) -> pl.LazyFrame:
    files = [
        p
        for p in sorted(home.lake_events.glob("event_date=*/*.parquet"))
        if wanted(p.parent.name.removeprefix("event_date="))
    ]
    if not files:
        return pl.LazyFrame(schema={c: EVENT_SCHEMA[c] for c in RATED_COLUMNS})
    return pl.scan_parquet(files).select(RATED_COLUMNS)


class SeenIds:
    """Event ids already accepted, per event date, to drop the ones seen before.

    A date a large part touches is held: its ids are loaded from the lake the first time, then
    grown as the batch accepts events. Memory follows the dates a batch touches, not the length
    of history, and is bounded: past `max_rows` ids held, the dates used least recently are
    dropped (their waiting events written to the lake first) and read back if a large part
    touches them again.

    A small part (under SMALL_PART rows: the late events a daily export carries for the days
    before it) on a date not held is looked up instead: the lake's ids of that date are
    scanned for the part's ids, and only the ids this batch accepted that way are remembered
    (they may still be waiting to be written). Holding a whole day of millions of ids for a few
    hundred late events evicted the day being written, and the next part read it back: on
    100M events a file read back one to four million ids six times a piece.

    Ids are kept with a 64-bit hash: a new part is screened against the hashes (cheap even for
    a day of millions of ids), and only the rows whose hash matches are compared by id. The
    screen builds its hash table on the smaller side.
    """

    def __init__(
        self,
        home: Home,
        writer: EventWriter | None = None,
        max_rows: int = 8_000_000,
        max_recent: int = 1_000_000,
    ):
        self._home, self._writer, self._max_rows = home, writer, max_rows
        self._max_recent = max_recent
        self._by_date: dict[dt.date, pl.DataFrame] = {}  # least recently used first
        self._rows = 0
        self._dropped: set[dt.date] = set()
        # Ids accepted by lookup on dates not held, per date: some may not be in the lake yet.
        self._recent: dict[dt.date, pl.DataFrame] = {}
        self._recent_rows = 0
        self.reloads = 0  # dates read back from the lake after being dropped
        self.lookups = 0  # small parts checked against the lake without holding their date

    def holds(self, day: dt.date) -> bool:
        return day in self._by_date

    def _paths(self, day: dt.date) -> list[Path]:
        return list(
            (self._home.lake_events / f"event_date={day.isoformat()}").glob("batch-*.parquet")
        )

    def _load(self, day: dt.date) -> pl.DataFrame:
        """The ids of `day` in the lake: earlier batches', and this batch's once written."""
        paths = self._paths(day)
        if not paths:
            return pl.DataFrame(schema={"event_id": pl.String, "_hash": pl.UInt64})
        return hashed(pl.read_parquet(paths, columns=["event_id"]))

    def drop_seen(self, day: dt.date, events: pl.DataFrame) -> pl.DataFrame:
        """The events of one date whose ids were not seen before (ids already distinct);
        the ids kept are remembered."""
        if day not in self._by_date and events.height < SMALL_PART:
            return self._looked_up(day, events)
        seen = self._by_date.pop(day, None)
        if seen is None:
            seen = self._load(day)
            self.reloads += day in self._dropped
            recent = self._recent.pop(day, None)
            if recent is not None:  # accepted by lookup, perhaps not written yet
                seen = pl.concat([seen, recent])
                self._recent_rows -= recent.height
            self._rows += seen.height
        ids = compacted(events.select("event_id", "_hash"))
        events, ids = _unseen(seen, events, ids)
        self._by_date[day] = pl.concat([seen, ids], rechunk=False)
        self._rows += ids.height
        self._shed(keep=day)
        return events

    def _looked_up(self, day: dt.date, events: pl.DataFrame) -> pl.DataFrame:
        """`drop_seen` for a small part on a date not held: the lake is scanned for its ids
        (one column, streamed, nothing of it kept) and so are the ids accepted that way."""
        self.lookups += 1
        if self._recent_rows > self._max_recent and self._writer is not None:
            # Every part accepted so far has been handed to the writer: once it has written
            # them all, the lake answers for them.
            self._writer.flush()
            self._recent, self._recent_rows = {}, 0
        ids = compacted(events.select("event_id", "_hash"))
        paths = self._paths(day)
        if paths:
            in_lake = (
                pl.scan_parquet(paths)
                .select("event_id")
                .filter(pl.col("event_id").is_in(ids["event_id"].implode()))
                .collect(engine="streaming")
            )
            if in_lake.height:
                keep = ~pl.col("event_id").is_in(in_lake["event_id"].implode())
                events, ids = events.filter(keep), ids.filter(keep)
        recent = self._recent.get(day)
        if recent is not None:
            events, ids = _unseen(recent, events, ids)
            ids = pl.concat([recent, ids], rechunk=False)
        self._recent[day] = ids
        self._recent_rows += ids.height - (recent.height if recent is not None else 0)
        return events

    def _shed(self, keep: dt.date) -> None:
        """Drop the least recently used dates (never `keep`) until at most max_rows remain."""
        for day in list(self._by_date):
            if self._rows <= self._max_rows:
                return
            if day == keep:
                continue
            if self._writer is not None:
                self._writer.flush_date(day)  # its ids must be in the lake to be read back
            self._rows -= self._by_date.pop(day).height
            self._dropped.add(day)


def compacted(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of `frame` holding only its own rows' text. A part cut from a larger frame (a
    filter, a gather, `partition_by`) shares that frame's string buffers and keeps all of them
    alive: a few hundred late events waiting for their date held on to the text of the whole
    piece they came from, and a 100M-event batch grew by gigabytes. Other types are copied by
    the cut itself."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(pl.concat_str(pl.col(c), pl.lit("")).alias(c) for c in text)


def _unseen(
    seen: pl.DataFrame, events: pl.DataFrame, ids: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`events` and their `ids` without the rows whose id is among `seen`'s."""
    matches = _sharing_a_hash(seen, ids) if seen.height else seen
    if matches.height:
        repeated = ids.join(matches, on=["_hash", "event_id"], how="semi")["event_id"]
        keep = ~pl.col("event_id").is_in(repeated.implode())
        events, ids = events.filter(keep), ids.filter(keep)
    return events, ids


def _sharing_a_hash(seen: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """The rows of `seen` whose hash is also among `new`'s, hashing the smaller of the two."""
    if new.height <= seen.height:
        return seen.filter(pl.col("_hash").is_in(new["_hash"].implode()))
    suspects = new["_hash"].filter(new["_hash"].is_in(seen["_hash"].implode()))
    return seen.filter(pl.col("_hash").is_in(suspects.implode()))


# A part of at least this many events for one date is written at once; smaller ones wait.
SMALL_PART = 50_000


class EventWriter:
    """Writes a batch's new events under lake/events/event_date=D/. A file's part for one date
    is written at once when large; small parts (the late events a daily export carries for
    earlier days) wait and are written together per date, so a batch does not scatter hundreds
    of tiny files. At most `max_waiting` rows wait in memory."""

    def __init__(
        self, home: Home, batch_id: str, small: int | None = None, max_waiting: int = 500_000
    ):
        self._home, self._batch_id = home, batch_id
        self._small, self._max_waiting = small or SMALL_PART, max_waiting
        self._waiting: dict[dt.date, list[pl.DataFrame]] = {}
        self._waiting_rows = 0
        self._flushes = 0
        self._parts: dict[tuple[dt.date, int], int] = {}  # large parts written per date and file

    def add(self, day: dt.date, part: pl.DataFrame, file_number: int) -> None:
        if part.height >= self._small:
            # A large file comes in several parts: each is its own lake file.
            n = self._parts[day, file_number] = self._parts.get((day, file_number), 0) + 1
            self._write(day, [part], f"{file_number:05d}" + (f"-{n}" if n > 1 else ""))
            return
        self._waiting.setdefault(day, []).append(compacted(part))
        self._waiting_rows += part.height
        if self._waiting_rows > self._max_waiting:
            self.flush()

    def flush(self) -> None:
        self._flushes += 1
        for day, parts in self._waiting.items():
            self._write(day, parts, f"late{self._flushes:03d}")
        self._waiting, self._waiting_rows = {}, 0

    def flush_date(self, day: dt.date) -> None:
        """Write the events waiting for one date now."""
        parts = self._waiting.pop(day, None)
        if parts:
            self._flushes += 1
            self._waiting_rows -= sum(p.height for p in parts)
            self._write(day, parts, f"late{self._flushes:03d}")

    def _write(self, day: dt.date, parts: list[pl.DataFrame], suffix: str) -> None:
        folder = self._home.lake_events / f"event_date={day.isoformat()}"
        events = pl.concat(parts).drop("event_date", "_hash")
        events = events.with_columns(pl.lit(self._batch_id).alias("batch_id"))
        write_table(
            events.cast({c: t for c, t in EVENT_SCHEMA.items() if c in events.columns}),
            folder / f"batch-{self._batch_id}-{suffix}.parquet",
        )


def hashed(ids: pl.DataFrame) -> pl.DataFrame:
    return ids.with_columns(ID_HASH)


def batch_of(path: Path) -> str:
    """The batch id in `batch-<id>.parquet` or `batch-<id>-<part>.parquet`."""
    return path.stem.split("-")[1]
