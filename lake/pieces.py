"""Reading a large landing file in pieces, so memory follows the piece and not the file.

A text file over PIECE_BYTES of text (a quarter of it gzipped) is streamed and cut into pieces
of whole records; a Parquet file over PIECE_ROWS rows is read in slices. Each piece is read by
`lake.landing`'s rules for a whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
from isal import isal_zlib

from lake.landing import (
    RawFile,
    UnreadableFile,
    csv_rows,
    jsonl_rows,
    one_line,
    parquet_rows,
    read_parquet,
    read_raw,
)

# A landing file larger than this (in text, or a quarter of it gzipped) is read in pieces of
# about this much text, and a Parquet file in slices of PIECE_ROWS: memory follows the piece,
# whatever the size of the file.
PIECE_BYTES = 64 << 20
PIECE_ROWS = 500_000


def read_raw_pieces(
    path: Path, piece_bytes: int | None = None, piece_rows: int | None = None
) -> Iterator[RawFile]:
    """A landing file as pieces of whole records, in order; a small file is one piece, read
    exactly as `read_raw` reads it. Each piece of a large text file is read by the same rules
    as a whole file (a CSV piece under the file's header line); `first_row` numbers its
    records within the file. Raises UnreadableFile as soon as any part cannot be read: the
    caller keeps nothing of a file that fails in its last piece."""
    piece_bytes, piece_rows = piece_bytes or PIECE_BYTES, piece_rows or PIECE_ROWS
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _parquet_pieces(path, piece_rows)
        return
    is_csv = name.endswith((".csv", ".csv.gz"))
    gzipped = name.endswith(".gz")
    try:
        stored = path.stat().st_size
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None
    if not (is_csv or name.endswith((".jsonl", ".jsonl.gz"))) or stored <= (
        piece_bytes // 4 if gzipped else piece_bytes
    ):
        yield read_raw(path)
        return
    first_row, header = 0, b""
    for number, data in enumerate(_text_pieces(path, piece_bytes, quoted=is_csv)):
        if is_csv:
            if number == 0:
                header = data[: data.find(b"\n") + 1] if b"\n" in data else data
            else:
                data = header + data
            piece = csv_rows(data, lambda data=data: data)
            records = piece.rows.height + piece.malformed.height
        else:
            piece = jsonl_rows(data, lambda data=data: data)
            records = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        piece.first_row = first_row
        yield piece
        first_row += records


def _parquet_pieces(path: Path, piece_rows: int) -> Iterator[RawFile]:
    try:
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UnreadableFile(f"not a readable Parquet file: {one_line(exc)}") from None
    if rows <= piece_rows:
        yield read_parquet(path)
        return
    for first_row in range(0, rows, piece_rows):
        try:
            df = pl.scan_parquet(path).slice(first_row, piece_rows).collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise UnreadableFile(f"not a readable Parquet file: {one_line(exc)}") from None
        piece = parquet_rows(df)
        piece.first_row = first_row
        yield piece


def _text_pieces(path: Path, piece_bytes: int, *, quoted: bool) -> Iterator[bytes]:
    """The decompressed text of a file in pieces of at least `piece_bytes` (the last one
    shorter), each ending at a record boundary: after a newline, and for CSV (`quoted`) a
    newline outside quotes (an even number of `"` since the piece began)."""
    buffer = bytearray()
    for block in _decompressed_blocks(path):
        buffer += block
        while len(buffer) >= piece_bytes:
            # The last record boundary within a piece's size; for a record longer than that,
            # the last one in what was read so far (none yet: read on).
            cut = _record_boundary(buffer, piece_bytes, quoted) or _record_boundary(
                buffer, len(buffer), quoted
            )
            if not cut:
                break
            with memoryview(buffer) as view:
                piece = bytes(view[:cut])
            del buffer[:cut]
            yield piece
    if buffer:
        yield bytes(buffer)


def _record_boundary(buffer: bytearray, limit: int, quoted: bool) -> int:
    """The end of the last whole record within the first `limit` bytes of `buffer` (0 if none)."""
    cut = buffer.rfind(b"\n", 0, limit) + 1
    if not quoted:
        return cut
    odd = buffer.count(b'"', 0, cut) % 2
    while cut and odd:  # inside a quoted field: step back a line at a time
        previous = buffer.rfind(b"\n", 0, cut - 1) + 1
        odd ^= buffer.count(b'"', previous, cut) % 2
        cut = previous
    return cut


def _decompressed_blocks(path: Path, block: int = 1 << 20) -> Iterator[bytes]:
    """A file's bytes, gunzipped when its name ends in .gz (every gzip member), block by block."""
    gzipped = path.name.lower().endswith(".gz")
    with path.open("rb") as fh:
        if not gzipped:
            while data := fh.read(block):
                yield data
            return
        stream, inside = isal_zlib.decompressobj(wbits=31), False
        while data := fh.read(block):
            while data:
                try:
                    out = stream.decompress(data)
                except isal_zlib.error as exc:
                    raise UnreadableFile(f"cannot decompress gzip: {exc}") from None
                inside, data = True, b""
                if out:
                    yield out
                if stream.eof:  # another gzip member may follow
                    inside, data = False, stream.unused_data
                    stream = isal_zlib.decompressobj(wbits=31)
        if inside:
            raise UnreadableFile("cannot decompress gzip: the file ends inside a gzip member")
