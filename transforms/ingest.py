"""Ingestion of raw usage exports into the lake (SPEC 2.1).

Each new landing file (by content hash) is read into a frame of raw string columns, validated
in one vectorized pass, and every row ends up in exactly one place: accepted into
`lake/events/event_date=D/`, quarantined with a reason in `lake/quarantine/`, or counted as a
duplicate of an event already accepted. A batch is committed by writing its manifest
(`lake/ingested_files/batch-<id>.parquet`) last; files of a batch without a manifest are the
remains of a crash and are removed before the next batch starts, so a re-run is always safe.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from transforms.home import Home
from transforms.lake import write_table
from transforms.pricebook import QUANTITY_TYPE

# Quarantine reason codes, in the order they are checked: a row gets the first that applies.
REASONS = (
    "malformed_row",
    "missing_event_id",
    "bad_timestamp",
    "future_timestamp",
    "unknown_customer",
    "unknown_metric",
    "bad_quantity",
    "negative_quantity",
)
UNREADABLE_FILE = "unreadable_file"
FUTURE_TOLERANCE = dt.timedelta(hours=1)

RAW_FIELDS = ("event_id", "occurred_at", "customer_id", "metric", "quantity", "status")
EVENT_SCHEMA = {
    "event_id": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "customer_id": pl.String,
    "metric": pl.String,
    "quantity": QUANTITY_TYPE,
    "status": pl.Int32,
    "properties": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "batch_id": pl.String,
}
QUARANTINE_SCHEMA = {
    "file_path": pl.String,
    "row_number": pl.Int64,
    "reason": pl.String,
    "raw_record": pl.String,
    "batch_id": pl.String,
}
FILES_SCHEMA = {
    "file_path": pl.String,
    "content_sha256": pl.String,
    "rows_read": pl.Int64,
    "rows_accepted": pl.Int64,
    "rows_quarantined": pl.Int64,
    "duplicates_dropped": pl.Int64,
    "status": pl.String,
    "error": pl.String,
    "ingested_at": pl.Datetime("us", "UTC"),
    "batch_id": pl.String,
}


class UnreadableFile(Exception):
    """The file cannot be read at all; it is quarantined whole and the batch goes on."""


@dataclass
class RawFile:
    """One landing file read as raw strings: `rows` are parsed records, `malformed` lines are not."""

    rows: pl.DataFrame
    malformed: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"row_number": pl.Int64, "raw_record": pl.String}
        )
    )
    # For JSON lines: the file's text, so a rejected row is kept exactly as it was written.
    source_lines: bytes | None = None

    def raw_records(self, row_numbers: list[int]) -> list[str] | None:
        if self.source_lines is None:
            return None
        lines = self.source_lines.decode("utf-8", errors="replace").split("\n")
        return [lines[n - 1] for n in row_numbers]


@dataclass
class IngestResult:
    batch_id: str | None
    files: pl.DataFrame
    event_dates: list[dt.date]

    @property
    def totals(self) -> dict[str, int]:
        cols = ["rows_read", "rows_accepted", "rows_quarantined", "duplicates_dropped"]
        return {c: int(self.files[c].sum() or 0) for c in cols}


# --------------------------------------------------------------------------------------------
# Reading: every format becomes a frame of string columns plus `row_number` (1-based record).
# --------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise UnreadableFile(f"cannot decompress gzip: {exc}") from None
    return data


def _with_row_number(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_row_index("row_number", offset=1).with_columns(
        pl.col("row_number").cast(pl.Int64)
    )


def _stringify(df: pl.DataFrame) -> pl.DataFrame:
    """Scalars to strings; nested values (properties, data) to JSON text."""
    exprs = []
    for name, dtype in df.schema.items():
        if name == "row_number":
            continue
        if isinstance(dtype, pl.Struct):
            if name == "data":
                exprs.extend(_cloudevent_data(df, name))
            else:
                exprs.append(pl.col(name).struct.json_encode().alias(name))
        elif isinstance(dtype, pl.Datetime):
            ts = pl.col(name)
            if dtype.time_zone is None:
                ts = ts.dt.replace_time_zone("UTC")
            exprs.append(ts.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.f%z"))
        elif isinstance(dtype, pl.List | pl.Array):
            exprs.append(pl.lit(None, pl.String).alias(name))
        elif dtype != pl.String:
            exprs.append(pl.col(name).cast(pl.String).alias(name))
    return df.with_columns(exprs) if exprs else df


def _cloudevent_data(df: pl.DataFrame, name: str) -> list[pl.Expr]:
    """CloudEvents `data`: quantity and status are fields; every other key is a property."""
    fields = [f.name for f in df.schema[name].fields]
    data = pl.col(name)
    out = []
    for special in ("quantity", "status"):
        if special in fields:
            out.append(data.struct.field(special).cast(pl.String).alias(f"data_{special}"))
    others = [f for f in fields if f not in ("quantity", "status")]
    if others:
        out.append(
            pl.struct([data.struct.field(f) for f in others])
            .struct.json_encode()
            .alias("data_properties")
        )
    return out


def _read_csv(path: Path) -> RawFile:
    data = _read_bytes(path)
    if not data.strip():
        return RawFile(pl.DataFrame({"row_number": pl.Series([], dtype=pl.Int64)}))
    try:
        df = pl.read_csv(io.BytesIO(data), infer_schema=False, truncate_ragged_lines=False)
    except pl.exceptions.ComputeError:  # a row with too many fields
        return _read_csv_ragged(data)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"not a readable CSV file: {exc}") from None
    if _has_short_rows(data, df.width):  # Polars pads rows with too few fields with nulls
        return _read_csv_ragged(data)
    return RawFile(_with_row_number(df))


def _has_short_rows(data: bytes, fields: int) -> bool:
    """Whether any line has fewer fields than the header, counting separators outside quotes.

    Each line is one string here (no quoting); removing every "..." span leaves the separators
    between fields, since a quoted field's own quotes, escaped ones included, pair up inside
    it. A quoted field spanning lines also looks short: the slow path then decides exactly.
    """
    try:
        lines = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator="\x1f",
            quote_char=None,
            new_columns=["line"],
            infer_schema=False,
        )["line"]
    except pl.exceptions.PolarsError:
        return True
    separators = lines.str.replace_all(r'"[^"]*"', "").str.count_matches(",")
    return bool((separators < fields - 1).any())


def _read_csv_ragged(data: bytes) -> RawFile:
    """Slow path for a CSV with ragged rows: rows with the wrong field count are malformed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise UnreadableFile("CSV file has no header row")
    good: list[list[str]] = []
    good_rows: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, record in enumerate(reader, start=1):
        if len(record) == len(header):
            good.append(record)
            good_rows.append(number)
        else:
            bad.append((number, json.dumps(record)))
    rows = pl.DataFrame(
        {name: [r[i] for r in good] for i, name in enumerate(header)},
        schema=dict.fromkeys(header, pl.String),
    ).with_columns(pl.Series("row_number", good_rows, dtype=pl.Int64))
    malformed = pl.DataFrame(
        bad, schema={"row_number": pl.Int64, "raw_record": pl.String}, orient="row"
    )
    return RawFile(rows, malformed)


# Every top-level key the flat and CloudEvents formats use. Read as String, nested objects come
# back as their JSON text and numbers as their digits, with no schema inference pass.
JSON_KEYS = (
    *RAW_FIELDS,
    "properties",
    "id",
    "time",
    "subject",
    "type",
    "data",
    "specversion",
    "source",
)


def _read_jsonl(path: Path) -> RawFile:
    data = _read_bytes(path)
    if not data.strip():
        return RawFile(pl.DataFrame({"row_number": pl.Series([], dtype=pl.Int64)}))
    try:
        df = pl.read_ndjson(io.BytesIO(data), schema=dict.fromkeys(JSON_KEYS, pl.String))
        if df.height == data.count(b"\n") + (0 if data.endswith(b"\n") else 1):
            df = df.select([c for c in df.columns if df[c].null_count() < df.height])
            return RawFile(_with_row_number(_decode_cloudevent_data(df)), source_lines=data)
    except (pl.exceptions.PolarsError, ValueError):
        pass
    return _read_jsonl_lines(data)


def _decode_cloudevent_data(df: pl.DataFrame) -> pl.DataFrame:
    """CloudEvents `data` (JSON text) to data_quantity, data_status and data_properties."""
    if "data" not in df.columns:
        return df
    # Infer over every row: a key seen only late in the file must not be dropped.
    decoded = df.with_columns(df["data"].str.json_decode(infer_schema_length=None))
    if not isinstance(decoded.schema["data"], pl.Struct):
        return df.drop("data")
    return decoded.with_columns(_cloudevent_data(decoded, "data")).drop("data")


def _read_jsonl_lines(data: bytes) -> RawFile:
    """Slow path for a JSON-lines file with broken lines: each line is judged on its own."""
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text: {exc}") from None
    good: list[dict] = []
    good_rows: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            good.append(_flatten_json_record(obj))
            good_rows.append(number)
        else:
            bad.append((number, line))
    names = sorted({k for r in good for k in r})
    rows = pl.DataFrame(
        {n: [r.get(n) for r in good] for n in names}, schema=dict.fromkeys(names, pl.String)
    ).with_columns(pl.Series("row_number", good_rows, dtype=pl.Int64))
    malformed = pl.DataFrame(
        bad, schema={"row_number": pl.Int64, "raw_record": pl.String}, orient="row"
    )
    return RawFile(rows, malformed)


def _flatten_json_record(obj: dict) -> dict[str, str | None]:
    """One JSON object to the same string columns the fast path produces."""

    def text(v):
        if v is None:
            return None
        if isinstance(v, dict | list):
            return json.dumps(v, separators=(",", ":"))
        if isinstance(v, bool):
            return str(v).lower()
        return str(v)

    out = {k: text(v) for k, v in obj.items() if k != "data"}
    data = obj.get("data")
    if isinstance(data, dict):
        for special in ("quantity", "status"):
            if special in data:
                out[f"data_{special}"] = text(data[special])
        others = {k: v for k, v in data.items() if k not in ("quantity", "status")}
        if others:
            out["data_properties"] = json.dumps(others, separators=(",", ":"))
    return out


def _read_parquet(path: Path) -> RawFile:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UnreadableFile(f"not a readable Parquet file: {exc}") from None
    return RawFile(_stringify(_with_row_number(df)))


def read_raw(path: Path) -> RawFile:
    """Read one landing file of any supported format; raise UnreadableFile if impossible."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return _read_csv(path)
    if name.endswith((".jsonl", ".jsonl.gz")):
        return _read_jsonl(path)
    if name.endswith(".parquet"):
        return _read_parquet(path)
    raise UnreadableFile(f"unsupported file type: {path.name}")


# --------------------------------------------------------------------------------------------
# Validation: one vectorized pass that normalizes columns and assigns a quarantine reason.
# --------------------------------------------------------------------------------------------


def _first_present(df: pl.DataFrame, *names: str) -> pl.Expr:
    present = [pl.col(n).cast(pl.String).str.strip_chars() for n in names if n in df.columns]
    if not present:
        return pl.lit(None, pl.String)
    expr = pl.coalesce(present) if len(present) > 1 else present[0]
    return pl.when(expr == "").then(None).otherwise(expr)


def parse_timestamp(raw: pl.Expr) -> pl.Expr:
    """ISO-8601 with an offset or `Z`, or epoch milliseconds, to a UTC timestamp; else null.

    One parse covers `Z`, `+02:00` and `+0200` (`%#z`); a space may stand for the `T`.
    A timestamp without an offset stays null: its zone would be a guess.
    """
    epoch = pl.from_epoch(raw.cast(pl.Int64, strict=False), time_unit="ms").dt.replace_time_zone(
        "UTC"
    )
    iso = raw.str.replace(" ", "T", literal=True).str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone="UTC"
    )
    return pl.coalesce(epoch.cast(pl.Datetime("us", "UTC")), iso)


def validate(
    raw: pl.DataFrame,
    *,
    customers: Iterable[str],
    metrics: Iterable[str],
    now: dt.datetime,
) -> pl.DataFrame:
    """Normalize raw string columns to the event schema and attach `reason` (null = accepted)."""
    customers = pl.Series("c", sorted(set(customers)), dtype=pl.String)
    metrics = pl.Series("m", sorted(set(metrics)), dtype=pl.String)
    props_raw = _first_present(raw, "properties", "data_properties")
    df = raw.with_columns(
        _first_present(raw, "event_id", "id").alias("_event_id"),
        _first_present(raw, "occurred_at", "time").alias("_occurred_raw"),
        _first_present(raw, "customer_id", "subject").alias("_customer_id"),
        _first_present(raw, "metric", "type").alias("_metric"),
        _first_present(raw, "quantity", "data_quantity").alias("_quantity_raw"),
        _first_present(raw, "status", "data_status").alias("_status_raw"),
        props_raw.alias("_properties"),
    )
    df = df.with_columns(
        parse_timestamp(pl.col("_occurred_raw")).alias("_occurred_at"),
        pl.col("_quantity_raw").cast(QUANTITY_TYPE, strict=False).alias("_quantity"),
        pl.col("_status_raw").cast(pl.Int32, strict=False).alias("_status"),
    )
    limit = now.astimezone(dt.UTC) + FUTURE_TOLERANCE
    reason = (
        pl.when(
            (pl.col("_status_raw").is_not_null() & pl.col("_status").is_null())
            | (pl.col("_properties").is_not_null() & ~pl.col("_properties").str.starts_with("{"))
        )
        .then(pl.lit("malformed_row"))
        .when(pl.col("_event_id").is_null())
        .then(pl.lit("missing_event_id"))
        .when(pl.col("_occurred_at").is_null())
        .then(pl.lit("bad_timestamp"))
        .when(pl.col("_occurred_at") > pl.lit(limit).cast(pl.Datetime("us", "UTC")))
        .then(pl.lit("future_timestamp"))
        .when(pl.col("_customer_id").is_null() | ~pl.col("_customer_id").is_in(customers))
        .then(pl.lit("unknown_customer"))
        .when(pl.col("_metric").is_null() | ~pl.col("_metric").is_in(metrics))
        .then(pl.lit("unknown_metric"))
        .when(
            pl.col("_quantity_raw").is_not_null()
            & (pl.col("_quantity").is_null() | pl.col("_quantity_raw").str.contains(r"\.\d{10,}"))
        )
        .then(pl.lit("bad_quantity"))
        .when(pl.col("_quantity") < 0)
        .then(pl.lit("negative_quantity"))
        .otherwise(None)
    )
    return df.with_columns(reason.alias("reason"))


def accepted_events(validated: pl.DataFrame, file_path: str) -> pl.DataFrame:
    return validated.filter(pl.col("reason").is_null()).select(
        pl.col("_event_id").alias("event_id"),
        pl.col("_occurred_at").alias("occurred_at"),
        pl.col("_customer_id").alias("customer_id"),
        pl.col("_metric").alias("metric"),
        pl.col("_quantity").fill_null(pl.lit(1).cast(QUANTITY_TYPE)).alias("quantity"),
        pl.col("_status").alias("status"),
        pl.col("_properties").alias("properties"),
        pl.lit(file_path).alias("source_file"),
        pl.col("row_number").alias("source_row"),
    )


def quarantined_rows(
    validated: pl.DataFrame, raw_columns: list[str], file_path: str, raw: RawFile | None = None
) -> pl.DataFrame:
    rejected = validated.filter(pl.col("reason").is_not_null())
    lines = raw.raw_records(rejected["row_number"].to_list()) if raw and rejected.height else None
    if lines is not None:
        return rejected.select(
            pl.lit(file_path).alias("file_path"),
            pl.col("row_number"),
            pl.col("reason"),
            pl.Series("raw_record", lines, dtype=pl.String),
        )
    return rejected.select(
        pl.lit(file_path).alias("file_path"),
        pl.col("row_number"),
        pl.col("reason"),
        pl.struct(raw_columns).struct.json_encode().alias("raw_record")
        if raw_columns
        else pl.lit(None, pl.String).alias("raw_record"),
    )


# --------------------------------------------------------------------------------------------
# The batch: new files -> validated rows -> deduplicated events, committed atomically.
# --------------------------------------------------------------------------------------------


def _read_manifests(home: Home) -> pl.DataFrame:
    files = sorted(home.lake_ingested_files.glob("batch-*.parquet"))
    if not files:
        return pl.DataFrame(schema=FILES_SCHEMA)
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")


def latest_batch_id(home: Home) -> str | None:
    """The most recently committed batch that accepted anything, or None."""
    manifests = _read_manifests(home).filter(pl.col("status") == "ingested")
    if manifests.height == 0:
        return None
    return manifests.sort("ingested_at", "batch_id")["batch_id"][-1]


def _remove_uncommitted(home: Home, committed: set[str]) -> None:
    """Files left by a batch that crashed before writing its manifest are removed."""
    for folder in (home.lake_events, home.lake_quarantine):
        if not folder.exists():
            continue
        for f in folder.rglob("batch-*.parquet"):
            if _batch_of(f) not in committed:
                f.unlink()
        for f in folder.rglob("*.parquet.tmp"):
            f.unlink()


class _SeenIds:
    """Event ids already accepted, per event date: loaded from the lake the first time a date
    is touched, then grown as the batch accepts events. Memory follows the dates a batch
    touches, not the length of history."""

    def __init__(self, home: Home, batch_id: str):
        self._home, self._batch_id = home, batch_id
        self._by_date: dict[dt.date, pl.Series] = {}

    def _load(self, day: dt.date) -> pl.Series:
        folder = self._home.lake_events / f"event_date={day.isoformat()}"
        paths = [f for f in folder.glob("batch-*.parquet") if _batch_of(f) != self._batch_id]
        if not paths:
            return pl.Series("event_id", [], dtype=pl.String)
        return pl.read_parquet(paths, columns=["event_id"])["event_id"]

    def drop_seen(self, events: pl.DataFrame) -> pl.DataFrame:
        """Keep the first row of each id not seen before; remember the ids kept."""
        events = events.filter(pl.col("event_id").is_first_distinct())
        kept = []
        for (day,), part in events.partition_by("event_date", as_dict=True).items():
            if day not in self._by_date:
                self._by_date[day] = self._load(day)
            seen = self._by_date[day]
            if seen.len():
                part = part.filter(~pl.col("event_id").is_in(seen.implode()))
            self._by_date[day] = pl.concat([seen, part["event_id"]])
            kept.append(part)
        return pl.concat(kept) if kept else events.clear()


def _batch_of(path: Path) -> str:
    """The batch id in `batch-<id>.parquet` or `batch-<id>-<part>.parquet`."""
    return path.stem.split("-")[1]


def ingest(
    home: Home,
    *,
    customers: Iterable[str],
    metrics: Iterable[str],
    now: dt.datetime | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> IngestResult:
    """Ingest every landing file whose content has not been ingested yet; return per-file counts.

    Files are processed one at a time and their accepted events written at once, so memory
    holds one file plus the ids of the dates the batch touches.
    """
    now = now or dt.datetime.now(dt.UTC)
    customers, metrics = list(customers), list(metrics)
    manifests = _read_manifests(home)
    _remove_uncommitted(home, set(manifests["batch_id"].unique().to_list()))
    known_shas = set(manifests["content_sha256"].to_list())
    known_pairs = set(
        zip(manifests["file_path"].to_list(), manifests["content_sha256"].to_list(), strict=True)
    )

    candidates = []
    for path in home.usage_files():
        sha = file_sha256(path)
        rel = home.relative(path)
        if (rel, sha) not in known_pairs:
            candidates.append((rel, path, sha))
    if not candidates:
        progress("no new landing files")
        return IngestResult(None, pl.DataFrame(schema=FILES_SCHEMA), [])

    batch_id = hashlib.sha256(
        "\n".join(f"{rel}\t{sha}" for rel, _, sha in candidates).encode()
    ).hexdigest()[:16]
    ingested_at = now.astimezone(dt.UTC)
    seen = _SeenIds(home, batch_id)
    file_rows: list[dict] = []
    quarantine_parts: list[pl.DataFrame] = []
    seen_shas: set[str] = set()
    dates: set[dt.date] = set()
    quarantine_columns = {k: v for k, v in QUARANTINE_SCHEMA.items() if k != "batch_id"}

    for n, (rel, path, sha) in enumerate(candidates, start=1):
        base = {
            "file_path": rel,
            "content_sha256": sha,
            "ingested_at": ingested_at,
            "batch_id": batch_id,
        }
        zero = {"rows_read": 0, "rows_accepted": 0, "rows_quarantined": 0, "duplicates_dropped": 0}
        if sha in known_shas or sha in seen_shas:
            file_rows.append({**base, **zero, "status": "already_ingested", "error": None})
            continue
        seen_shas.add(sha)
        try:
            raw = read_raw(path)
        except UnreadableFile as exc:
            file_rows.append({**base, **zero, "status": "failed", "error": str(exc)})
            quarantine_parts.append(
                pl.DataFrame(
                    [
                        {
                            "file_path": rel,
                            "row_number": None,
                            "reason": UNREADABLE_FILE,
                            "raw_record": str(exc),
                        }
                    ],
                    schema=quarantine_columns,
                )
            )
            progress(f"[{n}/{len(candidates)}] {rel}: unreadable ({exc})")
            continue
        raw_columns = [c for c in raw.rows.columns if c != "row_number"]
        validated = validate(raw.rows, customers=customers, metrics=metrics, now=now)
        accepted = accepted_events(validated, rel).with_columns(
            pl.col("occurred_at").dt.date().alias("event_date")
        )
        rejected = pl.concat(
            [
                quarantined_rows(validated, raw_columns, rel, raw),
                raw.malformed.select(
                    pl.lit(rel).alias("file_path"),
                    "row_number",
                    pl.lit("malformed_row").alias("reason"),
                    "raw_record",
                ),
            ]
        )
        new = seen.drop_seen(accepted)
        for (day,), part in new.partition_by("event_date", as_dict=True).items():
            dates.add(day)
            write_table(
                part.with_columns(pl.lit(batch_id).alias("batch_id")).select(
                    [pl.col(c).cast(EVENT_SCHEMA[c]) for c in EVENT_SCHEMA]
                ),
                home.lake_events
                / f"event_date={day.isoformat()}"
                / f"batch-{batch_id}-{n:05d}.parquet",
            )
        quarantine_parts.append(rejected)
        rows_read = raw.rows.height + raw.malformed.height
        file_rows.append(
            {
                **base,
                "rows_read": rows_read,
                "rows_accepted": new.height,
                "rows_quarantined": rejected.height,
                "duplicates_dropped": accepted.height - new.height,
                "status": "ingested",
                "error": None,
            }
        )
        progress(f"[{n}/{len(candidates)}] {rel}: {rows_read} rows, {new.height} accepted")
        del raw, validated, accepted, new

    files = pl.DataFrame(file_rows, schema=FILES_SCHEMA)
    quarantine = (
        pl.concat(quarantine_parts, how="vertical_relaxed")
        if quarantine_parts
        else pl.DataFrame(schema=quarantine_columns)
    ).with_columns(pl.lit(batch_id).alias("batch_id"))
    write_table(
        quarantine.cast(QUARANTINE_SCHEMA), home.lake_quarantine / f"batch-{batch_id}.parquet"
    )
    write_table(files, home.lake_ingested_files / f"batch-{batch_id}.parquet")  # the commit
    return IngestResult(batch_id, files, sorted(dates))
