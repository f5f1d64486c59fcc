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
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from transforms.home import Home
from transforms.lake import event_id_hash, write_table
from transforms.numbers import QUANTITY, plain_decimals
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
# No API usage tally bills is older than this. It also catches epoch *seconds* written where
# epoch milliseconds belong: read as milliseconds they fall in January 1970.
EARLIEST_TIMESTAMP = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

# Columns of a landing file keep their names behind this prefix, so no column a file brings
# (`row_number`, `reason`, `_event_id`, ...) can collide with one tally adds while reading it.
# CloudEvents `data` fields become `data:quantity`, `data:status` and `data:properties`.
SRC = "src:"

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
_ID_HASH = event_id_hash().alias("_hash")
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
    # For JSON lines: line n of the file is lines[n - 1], so a rejected row is kept exactly as
    # it was written.
    lines: pl.Series | None = None

    def raw_records(self, row_numbers: list[int]) -> list[str] | None:
        if self.lines is None:
            return None
        return self.lines.gather([n - 1 for n in row_numbers]).to_list()


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
# The file's own columns are named `src:<name>`; see SRC.
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
        except (OSError, EOFError, zlib.error) as exc:
            raise UnreadableFile(f"cannot decompress gzip: {exc}") from None
    return data


def _with_row_number(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_row_index("row_number", offset=1).with_columns(
        pl.col("row_number").cast(pl.Int64)
    )


def _sourced(df: pl.DataFrame) -> pl.DataFrame:
    """The file's columns under SRC, so none collides with a column tally adds."""
    return df.rename({c: SRC + c for c in df.columns})


def _stringify(df: pl.DataFrame) -> pl.DataFrame:
    """Scalars to strings; nested values (properties, data) to JSON text. Binary columns must
    hold UTF-8 text; a value that does not is left null here (see `_undecodable_rows`)."""
    exprs = []
    for name, dtype in df.schema.items():
        if name == "row_number":
            continue
        if isinstance(dtype, pl.Struct):
            if name == SRC + "data":
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
        elif dtype == pl.Binary:
            exprs.append(pl.lit(_utf8_or_null(df[name])).alias(name))
        elif dtype != pl.String:
            exprs.append(pl.col(name).cast(pl.String).alias(name))
    return df.with_columns(exprs) if exprs else df


def _utf8_or_null(values: pl.Series) -> pl.Series:
    """Binary values as text; null where they are not UTF-8. Polars refuses the whole column
    for one bad value, so this goes value by value (binary text columns are rare)."""

    def decode(b: bytes | None) -> str | None:
        try:
            return None if b is None else b.decode("utf-8")
        except UnicodeDecodeError:
            return None

    return pl.Series(values.name, [decode(b) for b in values.to_list()], dtype=pl.String)


def _cloudevent_data(df: pl.DataFrame, name: str) -> list[pl.Expr]:
    """CloudEvents `data`: quantity and status are fields; every other key is a property."""
    fields = [f.name for f in df.schema[name].fields]
    data = pl.col(name)
    out = []
    for special in ("quantity", "status"):
        if special in fields:
            out.append(data.struct.field(special).cast(pl.String).alias(f"data:{special}"))
    others = [f for f in fields if f not in ("quantity", "status")]
    if others:
        out.append(
            pl.struct([data.struct.field(f) for f in others])
            .struct.json_encode()
            .alias("data:properties")
        )
    return out


def _empty_file() -> RawFile:
    return RawFile(pl.DataFrame({"row_number": pl.Series([], dtype=pl.Int64)}))


# Landing files are handed to Polars as stored: it decompresses gzip natively, in a fraction of
# the time Python's gzip takes. What it refuses (an empty file, ragged rows, broken gzip, text
# that is not UTF-8) is read again from the decompressed bytes and judged exactly.


def _stored_bytes(path: Path) -> bytes:
    """The file as stored, for Polars to decompress; a `.gz` file must hold gzip."""
    packed = path.read_bytes()
    if path.name.lower().endswith(".gz") and not packed.startswith(b"\x1f\x8b"):
        raise UnreadableFile("cannot decompress gzip: not a gzip file")
    return packed


def _read_csv(path: Path) -> RawFile:
    packed = _stored_bytes(path)
    try:
        df = pl.read_csv(io.BytesIO(packed), infer_schema=False, truncate_ragged_lines=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        return _read_csv_refused(_read_bytes(path), exc)
    if _has_short_rows(packed, df):  # Polars pads rows with too few fields with nulls
        return _read_csv_ragged(_read_bytes(path))
    return RawFile(_with_row_number(_sourced(df)))


def _read_csv_refused(data: bytes, exc: Exception) -> RawFile:
    if not data or data.isspace():
        return _empty_file()
    if isinstance(exc, pl.exceptions.ComputeError):  # a row with too many fields, or not UTF-8
        return _read_csv_ragged(data)
    raise UnreadableFile(f"not a readable CSV file: {_one_line(exc)}") from None


def _text_lines(packed: bytes) -> pl.Series | None:
    """The lines of a text file (gzipped or not), one string each, blank lines included, read
    natively; None if Polars cannot (a unit separator in the text, bytes that are not UTF-8).
    A line's `\\r\\n` ending is dropped."""
    try:
        return pl.read_csv(
            io.BytesIO(packed),
            has_header=False,
            separator="\x1f",
            quote_char=None,
            new_columns=["line"],
            infer_schema=False,
            empty_string_is_null=False,
        )["line"]
    except (pl.exceptions.PolarsError, OSError):
        return None


def _has_short_rows(packed: bytes, df: pl.DataFrame) -> bool:
    """Whether any line has fewer fields than the header, counting separators outside quotes.

    Only rows whose last field came back null can be short (Polars pads them), so only their
    lines are counted. Removing every "..." span from a line leaves the separators between
    fields, since a quoted field's own quotes, escaped ones included, pair up inside it. When
    lines and rows do not pair up (a quoted field spanning lines, blank lines) every line is
    counted; such a field also looks short, and the slow path then decides exactly.
    """
    padded = df[df.columns[-1]].is_null()
    if not padded.any():
        return False
    lines = _text_lines(packed)
    if lines is None:
        return True
    if lines.len() == df.height + 1:  # the header, then one line per row
        lines = lines.slice(1).filter(padded)
    separators = lines.str.replace_all(r'"[^"]*"', "").str.count_matches(",")
    return bool((separators < df.width - 1).any())


def _unique_header(header: list[str]) -> list[str]:
    """Header names made unique the way Polars' CSV reader does (`a`, `a_duplicated_0`), so a
    repeated column means the same on both CSV paths: the first one counts."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        if name in seen:
            out.append(f"{name}_duplicated_{seen[name]}")
            seen[name] += 1
        else:
            seen[name] = 0
            out.append(name)
    return out


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
    names = [SRC + name for name in _unique_header(header)]
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
        {name: [r[i] for r in good] for i, name in enumerate(names)},
        schema=dict.fromkeys(names, pl.String),
    ).with_columns(pl.Series("row_number", good_rows, dtype=pl.Int64))
    malformed = pl.DataFrame(
        bad, schema={"row_number": pl.Int64, "raw_record": pl.String}, orient="row"
    )
    return RawFile(rows, malformed)


# Every top-level key the flat and CloudEvents formats use; other keys are ignored on every
# path (a rejected line is kept as written, so nothing is lost). Read as String, nested objects
# come back as their JSON text and numbers as their digits, with no schema inference pass.
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
# Polars reads a JSON number with a fraction or an exponent through a 64-bit float, exact only
# up to 15 significant digits. A file where such a value may come from a longer run of digits
# takes the exact path (see _may_have_lost_digits).
_LONG_NUMBER = r"[0-9.]{16}"
_EXACT_FIELDS = ("quantity", "event_id", "id", "data:quantity")


def _read_jsonl(path: Path) -> RawFile:
    packed = _stored_bytes(path)
    lines = _text_lines(packed)
    if lines is not None:
        try:
            df = pl.read_ndjson(io.BytesIO(packed), schema=dict.fromkeys(JSON_KEYS, pl.String))
            # The JSON reader skips blank lines and stops at a broken one: its rows are the
            # file's lines, in order, only when there are as many of each.
            if df.height == lines.len():
                df = df.select([c for c in df.columns if df[c].null_count() < df.height])
                rows = _with_row_number(_decode_cloudevent_data(_sourced(df)))
                if not _may_have_lost_digits(rows, lines):
                    return RawFile(rows, lines=lines)
        except (pl.exceptions.PolarsError, OSError, ValueError):
            pass  # e.g. `data.x` an object on one line and a string on another
    return _read_jsonl_lines(_read_bytes(path))


def _may_have_lost_digits(rows: pl.DataFrame, lines: pl.Series) -> bool:
    """Whether a value that must be exact (a quantity, an id) may have passed through a float:
    it came out with a fraction or an exponent, and its line holds a run of 16 or more digits.
    Only those rows' lines are searched (a full scan cost 40% of reading the file)."""
    names = [n if n.startswith("data:") else SRC + n for n in _EXACT_FIELDS]
    present = [pl.col(n).str.contains("[.eE]").fill_null(False) for n in names if n in rows.columns]
    if not present:
        return False
    fractional = rows.select(pl.any_horizontal(present)).to_series()
    if not fractional.any():
        return False
    return bool(lines.filter(fractional).str.contains(_LONG_NUMBER).any())


def _decode_cloudevent_data(df: pl.DataFrame) -> pl.DataFrame:
    """CloudEvents `data` (JSON text) to data:quantity, data:status and data:properties."""
    name = SRC + "data"
    if name not in df.columns:
        return df
    # Each distinct `data` text is decoded once (usage repeats the same few payloads), with
    # the schema inferred over all of them: a key seen only late in the file must not be dropped.
    distinct = df.select(pl.col(name).unique().drop_nulls())
    decoded = distinct.with_columns(
        distinct[name].str.json_decode(infer_schema_length=None).alias("_decoded")
    )
    if not isinstance(decoded.schema["_decoded"], pl.Struct):
        return df.drop(name)
    fields = decoded.select(name, *_cloudevent_data(decoded, "_decoded"))
    return df.join(fields, on=name, how="left", maintain_order="left").drop(name)


def _read_jsonl_lines(data: bytes) -> RawFile:
    """Slow path for a JSON-lines file with broken or blank lines: each line is judged on its
    own. Lines end at `\\n` only (JSON text may hold a raw U+2028, which `splitlines` would cut)."""
    if not data or data.isspace():
        return _empty_file()
    try:
        lines = data.decode("utf-8").removesuffix("\n").split("\n")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text: {exc}") from None
    good: list[dict] = []
    good_rows: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        try:
            # Numbers keep their exact digits; see _flatten_json_record for nested values.
            obj = json.loads(line, parse_float=_JsonNumber, parse_int=_JsonNumber)
        except (ValueError, RecursionError):
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
    return RawFile(rows, malformed, lines=pl.Series("line", lines, dtype=pl.String))


class _JsonNumber(str):
    """A JSON number kept as the digits it was written with."""


def _compact_json(value) -> str:
    """Nested JSON (properties, CloudEvents data) as compact text. Property values are strings
    by contract; a number there is read as a 64-bit float, as on the fast path."""

    def plain(v):
        if isinstance(v, _JsonNumber):
            number = float(v)
            return (
                int(v) if number.is_integer() and "." not in v and "e" not in v.lower() else number
            )
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), separators=(",", ":"))


def _flatten_json_record(obj: dict) -> dict[str, str | None]:
    """One JSON object to the same string columns the fast path produces."""

    def text(v):
        if v is None:
            return None
        if isinstance(v, dict | list):
            return _compact_json(v)
        if isinstance(v, bool):
            return str(v).lower()
        return str(v)

    out = {SRC + k: text(v) for k, v in obj.items() if k in JSON_KEYS and k != "data"}
    data = obj.get("data")
    if isinstance(data, dict):
        for special in ("quantity", "status"):
            if special in data:
                out[f"data:{special}"] = text(data[special])
        others = {k: v for k, v in data.items() if k not in ("quantity", "status")}
        if others:
            out["data:properties"] = _compact_json(others)
    return out


def _read_parquet(path: Path) -> RawFile:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UnreadableFile(f"not a readable Parquet file: {_one_line(exc)}") from None
    df = _with_row_number(_sourced(df))
    text = _stringify(df)
    undecodable = _undecodable_rows(df, text)
    if undecodable is None:
        return RawFile(text)
    malformed = df.filter(undecodable).select(
        "row_number",
        pl.struct(
            pl.col(c).bin.encode("hex") if df.schema[c] == pl.Binary else pl.col(c)
            for c in df.columns
            if c != "row_number"
        )
        .struct.json_encode()
        .alias("raw_record"),
    )
    return RawFile(text.filter(~undecodable), malformed)


def _undecodable_rows(df: pl.DataFrame, text: pl.DataFrame) -> pl.Series | None:
    """Rows with a binary value that is not UTF-8 text: malformed rows, not a broken file."""
    lost = pl.repeat(False, df.height, eager=True)
    for name, dtype in df.schema.items():
        if dtype == pl.Binary:
            lost = lost | (df[name].is_not_null() & text[name].is_null())
    return lost if lost.any() else None


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


def _one_line(exc: BaseException) -> str:
    """An exception as one line of text (Polars' messages run over several, with hints)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Validation: one vectorized pass that normalizes columns and assigns a quarantine reason.
# --------------------------------------------------------------------------------------------


def _first_present(df: pl.DataFrame, *names: str) -> pl.Expr:
    present = [pl.col(n).cast(pl.String).str.strip_chars() for n in names if n in df.columns]
    if not present:
        return pl.lit(None, pl.String)
    expr = pl.coalesce(present) if len(present) > 1 else present[0]
    return pl.when(expr == "").then(None).otherwise(expr)


# The general ISO-8601 shape: any fraction, and `Z`, `+02:00` or `+0200` (`%#z`).
ISO_TIMESTAMP = "%Y-%m-%dT%H:%M:%S%.f%#z"
# What most exporters write (JavaScript's toISOString): fixed width, which Polars parses with its
# fast fixed-format parser, about 3x cheaper than the general one.
ISO_MILLIS_Z = "%Y-%m-%dT%H:%M:%S.%3fZ"
_EARLIEST = pl.lit(EARLIEST_TIMESTAMP).cast(pl.Datetime("us", "UTC"))


def parse_timestamp(raw: pl.Expr) -> pl.Expr:
    """ISO-8601 with an offset or `Z`, or epoch milliseconds, to a UTC timestamp; else null.

    A space may stand for the `T`. A timestamp without an offset stays null: its zone would be
    a guess, and so does one before 2000 (EARLIEST_TIMESTAMP): epoch seconds read as
    milliseconds land in 1970, and a year that lost a digit or gained a sign (`-026-09-03`)
    still parses. The millisecond `Z` shape is parsed first;
    only what it leaves null meets the general parse, which gives the same result for every
    string both accept.
    """
    epoch = (
        pl.from_epoch(raw.cast(pl.Int64, strict=False), time_unit="ms")
        .dt.replace_time_zone("UTC")
        .cast(pl.Datetime("us", "UTC"))
    )
    text = raw.str.replace(" ", "T", literal=True)
    millis_z = text.str.strptime(pl.Datetime("us"), ISO_MILLIS_Z, strict=False)
    general = parse_iso_timestamp(pl.when(epoch.is_null() & millis_z.is_null()).then(text))
    parsed = pl.coalesce(epoch, millis_z.dt.replace_time_zone("UTC"), general)
    return pl.when(parsed >= _EARLIEST).then(parsed)


def parse_iso_timestamp(text: pl.Expr) -> pl.Expr:
    """The general ISO-8601 parse, to a UTC timestamp; null if the text is not one."""
    return text.str.to_datetime(ISO_TIMESTAMP, strict=False, time_unit="us", time_zone="UTC")


def validate(
    raw: pl.DataFrame,
    *,
    customers: Iterable[str],
    metrics: Iterable[str],
    now: dt.datetime,
) -> pl.DataFrame:
    """Normalize raw string columns to the event schema and attach `reason` (null = accepted).

    `raw` holds the file's columns under SRC (and CloudEvents `data:*` fields) beside
    `row_number`; the result holds `row_number`, the normalized `_*` columns and `reason`.
    """
    customers = pl.Series("c", sorted(set(customers)), dtype=pl.String)
    metrics = pl.Series("m", sorted(set(metrics)), dtype=pl.String)

    def first_present(*names: str) -> pl.Expr:
        return _first_present(raw, *(n if n.startswith("data:") else SRC + n for n in names))

    # Only tally's own columns go on: nothing a file brings can shadow them.
    df = raw.select(
        "row_number",
        first_present("event_id", "id").alias("_event_id"),
        first_present("occurred_at", "time").alias("_occurred_raw"),
        first_present("customer_id", "subject").alias("_customer_id"),
        first_present("metric", "type").alias("_metric"),
        first_present("quantity", "data:quantity").alias("_quantity_raw"),
        first_present("status", "data:status").alias("_status_raw"),
        first_present("properties", "data:properties").alias("_properties"),
    )
    # One rule for every reader: a quantity is kept exactly or refused (transforms.numbers).
    df = df.with_columns(plain_decimals(df["_quantity_raw"]).alias("_quantity_plain"))
    # Lazy: Polars evaluates the columns in parallel and shares the common subexpressions.
    df = df.lazy().with_columns(
        parse_timestamp(pl.col("_occurred_raw")).alias("_occurred_at"),
        QUANTITY.parse_text(pl.col("_quantity_plain")).alias("_quantity"),
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
        .when(pl.col("_quantity_raw").is_not_null() & pl.col("_quantity").is_null())
        .then(pl.lit("bad_quantity"))
        .when(pl.col("_quantity") < 0)
        .then(pl.lit("negative_quantity"))
        .otherwise(None)
    )
    return df.with_columns(reason.alias("reason")).collect()


def accepted_events(validated: pl.DataFrame, file_path: str) -> pl.DataFrame:
    """The valid rows in the lake's schema (without `batch_id`), plus their `event_date` and a
    64-bit `_hash` of the event id for deduplication."""
    return (
        validated.lazy()
        .filter(pl.col("reason").is_null())
        .select(
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
        .cast({c: t for c, t in EVENT_SCHEMA.items() if c != "batch_id"})
        .with_columns(pl.col("occurred_at").dt.date().alias("event_date"), _ID_HASH)
        .collect()
    )


def quarantined_rows(validated: pl.DataFrame, raw: RawFile, file_path: str) -> pl.DataFrame:
    """The rejected rows with their reason and the record as the file holds it: the line as
    written for JSON lines, else the row's columns as a JSON object."""
    rejected = validated.filter(pl.col("reason").is_not_null())
    lines = raw.raw_records(rejected["row_number"].to_list()) if rejected.height else None
    if lines is not None:
        return rejected.select(
            pl.lit(file_path).alias("file_path"),
            pl.col("row_number"),
            pl.col("reason"),
            pl.Series("raw_record", lines, dtype=pl.String),
        )
    source = [c for c in raw.rows.columns if c.startswith(SRC)]
    record = (
        pl.struct(pl.col(c).alias(c.removeprefix(SRC)) for c in source).struct.json_encode()
        if source
        else pl.lit(None, pl.String)
    )
    return (
        raw.rows.join(rejected.select("row_number", "reason"), on="row_number", how="inner")
        .select(
            pl.lit(file_path).alias("file_path"), "row_number", "reason", record.alias("raw_record")
        )
        .sort("row_number")
    )


# --------------------------------------------------------------------------------------------
# The batch: new files -> validated rows -> deduplicated events, committed atomically.
# --------------------------------------------------------------------------------------------


def read_manifests(home: Home) -> pl.DataFrame:
    """Every committed batch's per-file records (lake/ingested_files)."""
    files = sorted(home.lake_ingested_files.glob("batch-*.parquet"))
    if not files:
        return pl.DataFrame(schema=FILES_SCHEMA)
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")


def latest_batch_id(home: Home) -> str | None:
    """The most recently committed batch that accepted anything, or None."""
    manifests = read_manifests(home).filter(pl.col("status") == "ingested")
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
    touches, not the length of history.

    Ids are kept with a 64-bit hash: a new part is screened against the hashes (cheap even for
    a day of millions of ids), and only the rows whose hash matches are compared by id. The
    screen builds its hash table on the smaller side: a daily export carries a few hundred late
    events for each earlier day, and those must not rebuild a table of that day's ids each time.
    """

    def __init__(self, home: Home, batch_id: str):
        self._home, self._batch_id = home, batch_id
        self._by_date: dict[dt.date, pl.DataFrame] = {}

    def _load(self, day: dt.date) -> pl.DataFrame:
        folder = self._home.lake_events / f"event_date={day.isoformat()}"
        paths = [f for f in folder.glob("batch-*.parquet") if _batch_of(f) != self._batch_id]
        if not paths:
            return pl.DataFrame(schema={"event_id": pl.String, "_hash": pl.UInt64})
        return _hashed(pl.read_parquet(paths, columns=["event_id"]))

    def drop_seen(self, day: dt.date, events: pl.DataFrame) -> pl.DataFrame:
        """The events of one date whose ids were not seen before (ids already distinct);
        the ids kept are remembered."""
        if day not in self._by_date:
            self._by_date[day] = self._load(day)
        seen = self._by_date[day]
        ids = events.select("event_id", "_hash")
        matches = _sharing_a_hash(seen, ids) if seen.height else seen
        if matches.height:
            repeated = ids.join(matches, on=["_hash", "event_id"], how="semi")["event_id"]
            keep = ~pl.col("event_id").is_in(repeated.implode())
            events, ids = events.filter(keep), ids.filter(keep)
        self._by_date[day] = pl.concat([seen, ids], rechunk=False)
        return events


def _sharing_a_hash(seen: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """The rows of `seen` whose hash is also among `new`'s, hashing the smaller of the two."""
    if new.height <= seen.height:
        return seen.filter(pl.col("_hash").is_in(new["_hash"].implode()))
    suspects = new["_hash"].filter(new["_hash"].is_in(seen["_hash"].implode()))
    return seen.filter(pl.col("_hash").is_in(suspects.implode()))


class _LakeWriter:
    """Writes a batch's new events under lake/events/event_date=D/. A file's part for one date
    is written at once when large; small parts (the late events a daily export carries for
    earlier days) wait and are written together per date, so a batch does not scatter hundreds
    of tiny files. At most `max_waiting` rows wait in memory."""

    def __init__(self, home: Home, batch_id: str, small: int = 50_000, max_waiting: int = 500_000):
        self._home, self._batch_id = home, batch_id
        self._small, self._max_waiting = small, max_waiting
        self._waiting: dict[dt.date, list[pl.DataFrame]] = {}
        self._waiting_rows = 0
        self._flushes = 0

    def add(self, day: dt.date, part: pl.DataFrame, file_number: int) -> None:
        if part.height >= self._small:
            self._write(day, [part], f"{file_number:05d}")
            return
        self._waiting.setdefault(day, []).append(part)
        self._waiting_rows += part.height
        if self._waiting_rows > self._max_waiting:
            self.flush()

    def flush(self) -> None:
        self._flushes += 1
        for day, parts in self._waiting.items():
            self._write(day, parts, f"late{self._flushes:03d}")
        self._waiting, self._waiting_rows = {}, 0

    def _write(self, day: dt.date, parts: list[pl.DataFrame], suffix: str) -> None:
        folder = self._home.lake_events / f"event_date={day.isoformat()}"
        events = pl.concat(parts).drop("event_date", "_hash")
        write_table(
            events.with_columns(pl.lit(self._batch_id).alias("batch_id")),
            folder / f"batch-{self._batch_id}-{suffix}.parquet",
        )


def _hashed(ids: pl.DataFrame) -> pl.DataFrame:
    return ids.with_columns(_ID_HASH)


def _first_of_each_id(events: pl.DataFrame) -> pl.DataFrame:
    """The first row of each event_id, in file order. Screened by the `_hash` column: only rows
    whose hash repeats are compared by id (every earlier copy of an id shares its hash, so the
    first copy among them is the first in the file)."""
    repeated = events["_hash"].is_duplicated()
    if not repeated.any():
        return events
    numbered = events.with_row_index("_row")
    later_copies = numbered.filter(repeated).filter(~pl.col("event_id").is_first_distinct())
    return numbered.filter(~pl.col("_row").is_in(later_copies["_row"].implode())).drop("_row")


def _batch_of(path: Path) -> str:
    """The batch id in `batch-<id>.parquet` or `batch-<id>-<part>.parquet`."""
    return path.stem.split("-")[1]


@dataclass
class _Prepared:
    """One landing file read and validated: its new events (distinct within the file, in the
    lake's schema, with `event_date`) and its rejected rows. Produced off the main thread."""

    rows_read: int
    valid_rows: int  # before duplicates within the file are dropped
    accepted: pl.DataFrame
    rejected: pl.DataFrame
    error: str | None = None


def _prepare(
    rel: str, path: Path, *, customers: list[str], metrics: list[str], now: dt.datetime
) -> _Prepared:
    """Read and validate one file. Whatever goes wrong with it stays with it: the file is
    recorded as unreadable with a one-line reason, and the batch goes on."""
    try:
        return _prepare_file(rel, path, customers=customers, metrics=metrics, now=now)
    except UnreadableFile as exc:
        return _unreadable(rel, str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the others
        return _unreadable(rel, f"cannot read: {type(exc).__name__}: {_one_line(exc)}")


def _unreadable(rel: str, error: str) -> _Prepared:
    rejected = pl.DataFrame(
        [{"file_path": rel, "row_number": None, "reason": UNREADABLE_FILE, "raw_record": error}],
        schema=_QUARANTINE_COLUMNS,
    )
    return _Prepared(0, 0, pl.DataFrame(), rejected, error=error)


def _prepare_file(
    rel: str, path: Path, *, customers: list[str], metrics: list[str], now: dt.datetime
) -> _Prepared:
    raw = read_raw(path)
    validated = validate(raw.rows, customers=customers, metrics=metrics, now=now)
    accepted = accepted_events(validated, rel)
    distinct = _first_of_each_id(accepted)
    rejected = pl.concat(
        [
            quarantined_rows(validated, raw, rel),
            raw.malformed.select(
                pl.lit(rel).alias("file_path"),
                "row_number",
                pl.lit("malformed_row").alias("reason"),
                "raw_record",
            ),
        ]
    )
    return _Prepared(raw.rows.height + raw.malformed.height, accepted.height, distinct, rejected)


_QUARANTINE_COLUMNS = {k: v for k, v in QUARANTINE_SCHEMA.items() if k != "batch_id"}


def _in_order(
    pool: ThreadPoolExecutor, work: Callable[[tuple], _Prepared], items: list[tuple], ahead: int
) -> Iterator[tuple[tuple, _Prepared]]:
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


def new_landing_files(
    home: Home, manifests: pl.DataFrame | None = None
) -> list[tuple[str, Path, str, str | None]]:
    """Landing files whose (name, content) no committed batch recorded, as
    (name under the home, path, content sha256, why refused or None). A refused entry is
    recorded as failed and never read; its hash is unique per name and reason, so each is
    recorded once."""
    if manifests is None:
        manifests = read_manifests(home)
    known = set(
        zip(manifests["file_path"].to_list(), manifests["content_sha256"].to_list(), strict=True)
    )
    out = []
    for entry in home.usage_entries():
        refused = entry.refused
        if refused is None:
            try:
                sha = file_sha256(entry.path)
            except OSError as exc:
                refused = f"cannot read: {exc.strerror or exc}"
        if refused is not None:
            sha = hashlib.sha256(f"refused\t{entry.rel}\t{refused}".encode()).hexdigest()
        if (entry.rel, sha) not in known:
            out.append((entry.rel, entry.path, sha, refused))
    return out


def ingest(
    home: Home,
    *,
    customers: Iterable[str],
    metrics: Iterable[str],
    now: dt.datetime | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    workers: int = 2,
) -> IngestResult:
    """Ingest every landing file whose content has not been ingested yet; return per-file counts.

    Files are read and validated `workers` at a time, then deduplicated and written in order,
    so memory holds a few files plus the ids of the dates the batch touches.
    """
    now = now or dt.datetime.now(dt.UTC)
    customers, metrics = sorted(set(customers)), sorted(set(metrics))
    manifests = read_manifests(home)
    _remove_uncommitted(home, set(manifests["batch_id"].unique().to_list()))
    known_shas = set(manifests["content_sha256"].to_list())

    candidates = new_landing_files(home, manifests)
    if not candidates:
        progress("no new landing files")
        return IngestResult(None, pl.DataFrame(schema=FILES_SCHEMA), [])

    batch_id = hashlib.sha256(
        "\n".join(f"{rel}\t{sha}" for rel, _, sha, _ in candidates).encode()
    ).hexdigest()[:16]
    ingested_at = now.astimezone(dt.UTC)
    seen = _SeenIds(home, batch_id)
    lake = _LakeWriter(home, batch_id)
    file_rows: list[dict] = []
    quarantine_parts: list[pl.DataFrame] = []
    dates: set[dt.date] = set()

    # Content already ingested (under another name, or twice in this batch) is not read again.
    to_read, shas = [], set(known_shas)
    for n, (rel, path, sha, refused) in enumerate(candidates, start=1):
        base = {"file_path": rel, "content_sha256": sha, "ingested_at": ingested_at}
        if refused is not None:
            file_rows.append({**base, **_ZERO, "status": "failed", "error": refused, "n": n})
            quarantine_parts.append(_unreadable(rel, refused).rejected)
            progress(f"[{n}/{len(candidates)}] {rel}: refused ({refused})")
        elif sha in shas:
            file_rows.append({**base, **_ZERO, "status": "already_ingested", "error": None, "n": n})
        else:
            shas.add(sha)
            to_read.append((n, rel, path, base))

    def work(item: tuple) -> _Prepared:
        _, rel, path, _ = item
        return _prepare(rel, path, customers=customers, metrics=metrics, now=now)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for (n, rel, _, base), prepared in _in_order(pool, work, to_read, ahead=max(1, workers)):
            quarantine_parts.append(prepared.rejected)
            if prepared.error is not None:
                file_rows.append(
                    {**base, **_ZERO, "status": "failed", "error": prepared.error, "n": n}
                )
                progress(f"[{n}/{len(candidates)}] {rel}: unreadable ({prepared.error})")
                continue
            accepted = prepared.accepted
            written = 0
            for (day,), part in accepted.partition_by("event_date", as_dict=True).items():
                part = seen.drop_seen(day, part)
                if part.height == 0:
                    continue
                dates.add(day)
                written += part.height
                lake.add(day, part, n)
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

    lake.flush()
    file_rows.sort(key=lambda row: row.pop("n"))  # candidate order, skipped files included
    files = pl.DataFrame([{**row, "batch_id": batch_id} for row in file_rows], schema=FILES_SCHEMA)
    quarantine = (
        pl.concat(quarantine_parts, how="vertical_relaxed")
        if quarantine_parts
        else pl.DataFrame(schema=_QUARANTINE_COLUMNS)
    ).with_columns(pl.lit(batch_id).alias("batch_id"))
    write_table(
        quarantine.cast(QUARANTINE_SCHEMA), home.lake_quarantine / f"batch-{batch_id}.parquet"
    )
    write_table(files, home.lake_ingested_files / f"batch-{batch_id}.parquet")  # the commit
    return IngestResult(batch_id, files, sorted(dates))


_ZERO = {"rows_read": 0, "rows_accepted": 0, "rows_quarantined": 0, "duplicates_dropped": 0}
