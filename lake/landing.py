"""Reading landing files: every format becomes a frame of text columns.

CSV, gzipped CSV, JSON lines (flat or CloudEvents, gzipped or not) and Parquet are read into
the file's columns as text, under `SRC` (see `transforms.validation`), plus `row_number`, the
1-based record number. A file that cannot be read raises `UnreadableFile`; rows that cannot be
parsed are kept as `malformed` with their text.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from transforms.validation import SRC

RAW_FIELDS = ("event_id", "occurred_at", "customer_id", "metric", "quantity", "status")


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
    # For JSON lines: line n of the piece is lines[n - 1], so a rejected row is kept exactly as
    # it was written.
    lines: pl.Series | None = None
    # Records of the file before this piece (see read_raw_pieces): row n of the piece is record
    # first_row + n of the file.
    first_row: int = 0


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
    return csv_rows(_stored_bytes(path), lambda: _read_bytes(path))


def csv_rows(packed: bytes, plain: Callable[[], bytes]) -> RawFile:
    """A CSV file's rows from its bytes as stored (`packed`, gzipped or not); `plain` gives
    the decompressed bytes for the exact path."""
    try:
        df = pl.read_csv(io.BytesIO(packed), infer_schema=False, truncate_ragged_lines=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        return _read_csv_refused(plain(), exc)
    if _has_short_rows(packed, df):  # Polars pads rows with too few fields with nulls
        return _read_csv_ragged(plain())
    return RawFile(_with_row_number(_sourced(df)))


def _read_csv_refused(data: bytes, exc: Exception) -> RawFile:
    if not data or data.isspace():
        return _empty_file()
    if isinstance(exc, pl.exceptions.ComputeError):  # a row with too many fields, or not UTF-8
        return _read_csv_ragged(data)
    raise UnreadableFile(f"not a readable CSV file: {one_line(exc)}") from None


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
# What a float comes out as: a number with a fraction or an exponent. An id such as
# `evt_0001` holds an `e` but is no number, so it cannot have passed through a float.
_FLOAT_TEXT = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
_EXACT_FIELDS = ("quantity", "event_id", "id", "data:quantity")


def _read_jsonl(path: Path) -> RawFile:
    return jsonl_rows(_stored_bytes(path), lambda: _read_bytes(path))


def jsonl_rows(packed: bytes, plain: Callable[[], bytes]) -> RawFile:
    """A JSON-lines file's rows from its bytes as stored (`packed`, gzipped or not); `plain`
    gives the decompressed bytes for the exact path."""
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
    return _read_jsonl_lines(plain())


def _may_have_lost_digits(rows: pl.DataFrame, lines: pl.Series) -> bool:
    """Whether a value that must be exact (a quantity, an id) may have passed through a float:
    it came out with a fraction or an exponent, and its line holds a run of 16 or more digits.
    Only those rows' lines are searched (a full scan cost 40% of reading the file)."""
    names = [n if n.startswith("data:") else SRC + n for n in _EXACT_FIELDS]
    present = [
        (pl.col(n).str.contains("[.eE]") & pl.col(n).str.contains(_FLOAT_TEXT)).fill_null(False)
        for n in names
        if n in rows.columns
    ]
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


def read_parquet(path: Path) -> RawFile:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UnreadableFile(f"not a readable Parquet file: {one_line(exc)}") from None
    return parquet_rows(df)


def parquet_rows(df: pl.DataFrame) -> RawFile:
    """A Parquet file's rows (or a slice of them) as text."""
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
        return read_parquet(path)
    raise UnreadableFile(f"unsupported file type: {path.name}")


def one_line(exc: BaseException) -> str:
    """An exception as one line of text (Polars' messages run over several, with hints)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
