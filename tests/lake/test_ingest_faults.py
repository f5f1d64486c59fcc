"""Hostile and careless landing files: none stops the batch, none changes a number.

Every file either is ingested (each row accepted, quarantined with a reason, or a counted
duplicate) or is recorded as unreadable with a one-line reason; the other files go on.
A quantity is kept exactly or refused as `bad_quantity`, whichever reader it went through.
"""

import datetime as dt
import gzip
import io
import json
import os
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lake.home import Home
from lake.ingest import ingest

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HEADER = "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
GOOD_ROW = "ok1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n"


@pytest.fixture
def home(tmp_path):
    h = Home.at(tmp_path / "home")
    h.landing_usage.mkdir(parents=True)
    return h


def run(home: Home):
    return ingest(home, customers=["c1"], metrics=["api_calls"], now=NOW)


def events(home: Home) -> pl.DataFrame:
    files = list(home.lake_events.rglob("batch-*.parquet"))
    return pl.read_parquet(files).sort("event_id") if files else pl.DataFrame()


def quarantine(home: Home) -> pl.DataFrame:
    return pl.read_parquet(home.lake_quarantine / "batch-*.parquet").sort("file_path", "row_number")


def write(home: Home, name: str, data: bytes) -> None:
    path = home.landing_usage / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def corrupt_deflate(data: bytes) -> bytes:
    """A gzip file whose header is valid and whose compressed data is not."""
    packed = bytearray(gzip.compress(data * 50))
    for i in range(12, min(len(packed) - 8, 60)):
        packed[i] ^= 0x5A
    return bytes(packed)


CSV = (HEADER + "m1,2026-10-02T10:00:00Z,c1,api_calls,2,200,\n").encode()
JSONL = (
    json.dumps(
        {
            "event_id": "m1",
            "occurred_at": "2026-10-02T10:00:00Z",
            "customer_id": "c1",
            "metric": "api_calls",
        }
    )
    + "\n"
).encode()

# name -> bytes: every kind of file a careless exporter or an attacker can drop.
FAULTY_FILES = {
    "corrupt-deflate.csv.gz": corrupt_deflate(CSV),
    "corrupt-deflate.jsonl.gz": corrupt_deflate(JSONL),
    "truncated.csv.gz": gzip.compress(CSV)[:-6],
    "truncated.jsonl.gz": gzip.compress(JSONL)[:-6],
    "not-gzip.csv.gz": b"event_id\n1\n",
    "empty.csv.gz": b"",
    "gzip-of-nothing.jsonl.gz": gzip.compress(b""),
    "random.parquet": os.urandom(300),
    "magic-only.parquet": b"PAR1" + os.urandom(50) + b"PAR1",
    "latin1.csv": HEADER.encode()
    + "m2,2026-10-02T10:00:00Z,c1,api_calls,1,200,caf\xe9\n".encode("latin-1"),
    "binary.csv": os.urandom(2000),
    "binary.jsonl": b"\x00\xff\xfe" + os.urandom(500),
    "nul-in-json.jsonl": b'{"event_id": "n\x00ul"}\n',
    "deep.jsonl": b"[" * 100_000 + b"\n",
    "only-header.csv": HEADER.encode(),
    "quotes.csv": HEADER.encode() + b'"unterminated,2026-10-02T10:00:00Z,c1\n',
    "array.jsonl": b"[1, 2, 3]\n",
    "mixed-data.jsonl": (
        b'{"id":"ce1","time":"2026-10-02T10:00:00Z","subject":"c1","type":"api_calls","data":{"model":{"a":1}}}\n'
        b'{"id":"ce2","time":"2026-10-02T10:00:00Z","subject":"c1","type":"api_calls","data":{"model":"large"}}\n'
        b'{"id":"ce3","time":"2026-10-02T10:00:00Z","subject":"c1","type":"api_calls","data":"text"}\n'
    ),
}


def test_no_faulty_file_stops_the_batch_and_every_row_is_accounted_for(home):
    for name, data in FAULTY_FILES.items():
        write(home, f"faults/{name}", data)
    write(home, "zz-good.csv", (HEADER + GOOD_ROW).encode())

    result = run(home)

    files = result.files
    assert files.height == len(FAULTY_FILES) + 1
    assert "ok1" in events(home)["event_id"].to_list()
    for row in files.iter_rows(named=True):
        assert row["status"] in ("ingested", "failed"), row
        assert row["rows_read"] == (
            row["rows_accepted"] + row["rows_quarantined"] + row["duplicates_dropped"]
        ), row
        if row["status"] == "failed":
            assert row["error"] and "\n" not in row["error"], row
    failed = set(files.filter(pl.col("status") == "failed")["file_path"].to_list())
    for name in ("corrupt-deflate.csv.gz", "corrupt-deflate.jsonl.gz", "random.parquet"):
        assert f"landing/usage/faults/{name}" in failed
    # An unreadable file is quarantined whole, under its own name, with the reason.
    unreadable = quarantine(home).filter(pl.col("reason") == "unreadable_file")
    assert set(unreadable["file_path"].to_list()) == failed


def test_a_gzip_file_with_corrupt_deflate_data_is_unreadable_with_a_one_line_reason(home):
    write(home, "bad.csv.gz", corrupt_deflate(CSV))
    write(home, "good.csv", (HEADER + GOOD_ROW).encode())
    result = run(home)
    bad = result.files.filter(pl.col("file_path") == "landing/usage/bad.csv.gz").row(0, named=True)
    assert bad["status"] == "failed"
    assert bad["error"].startswith("cannot decompress gzip:")
    assert events(home)["event_id"].to_list() == ["ok1"]


def test_a_parquet_event_id_that_is_not_utf8_quarantines_that_row_only(home):
    table = pl.DataFrame(
        {
            "event_id": [b"p1", b"\xff\xfe\xfa", b"p3"],
            "occurred_at": ["2026-10-01T10:00:00Z"] * 3,
            "customer_id": ["c1"] * 3,
            "metric": ["api_calls"] * 3,
        }
    )
    buffer = io.BytesIO()
    table.write_parquet(buffer)
    write(home, "ids.parquet", buffer.getvalue())

    result = run(home)

    assert events(home)["event_id"].to_list() == ["p1", "p3"]
    q = quarantine(home)
    assert q.select("row_number", "reason").rows() == [(2, "malformed_row")]
    assert "fffefa" in q["raw_record"][0]
    assert result.totals == {
        "rows_read": 3,
        "rows_accepted": 2,
        "rows_quarantined": 1,
        "duplicates_dropped": 0,
    }


def test_cloudevents_data_keys_of_changing_type_are_read_line_by_line(home):
    write(home, "ce.jsonl", FAULTY_FILES["mixed-data.jsonl"])
    run(home)
    got = events(home).select("event_id", "properties").rows()
    assert got[:2] == [("ce1", '{"model":{"a":1}}'), ("ce2", '{"model":"large"}')]
    assert got[2][0] == "ce3"  # `data` that is not an object carries no fields


@pytest.mark.parametrize(
    "extra", ["row_number", "reason", "_event_id", "_quantity", "data:quantity", "src:event_id"]
)
def test_a_column_named_like_one_tally_adds_changes_nothing(home, extra):
    header = HEADER.strip() + f",{extra}\n"
    write(
        home,
        "extra.csv",
        (
            header
            + "x1,2026-10-01T10:00:00Z,c1,api_calls,3,200,,99\n"
            + "x2,2026-10-01T10:00:00Z,nobody,api_calls,4,200,,-5\n"
        ).encode(),
    )
    result = run(home)
    assert result.files["status"].to_list() == ["ingested"]
    assert events(home).select("event_id", "quantity", "source_row").rows() == [
        ("x1", Decimal("3.000000000"), 1)
    ]
    q = quarantine(home).row(0, named=True)
    assert (q["row_number"], q["reason"]) == (2, "unknown_customer")
    assert json.loads(q["raw_record"])[extra] == "-5"  # the record as the file holds it


def test_a_repeated_csv_column_means_the_same_on_both_csv_paths(home):
    body = "event_id,occurred_at,customer_id,metric,quantity,quantity\n"
    write(home, "fast.csv", (body + "r1,2026-10-01T10:00:00Z,c1,api_calls,2,7\n").encode())
    # A ragged row sends the second file down the exact slow path.
    write(
        home,
        "slow.csv",
        (body + "r2,2026-10-01T10:00:00Z,c1,api_calls,2,7\nragged,row\n").encode(),
    )
    run(home)
    assert [str(q) for q in events(home)["quantity"]] == ["2.000000000", "2.000000000"]


def test_a_symlink_leaving_the_home_is_refused_and_never_followed(home, tmp_path):
    secret = tmp_path / "outside.csv"
    secret.write_text(HEADER + "s1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    (home.landing_usage / "leak.csv").symlink_to(secret)
    (home.landing_usage / "folder-link").symlink_to(tmp_path, target_is_directory=True)
    (home.landing_usage / "dangling.csv").symlink_to(tmp_path / "missing.csv")
    inside = home.root / "kept.csv"
    inside.write_text(HEADER + "i1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    (home.landing_usage / "inside.csv").symlink_to(inside)
    write(home, "good.csv", (HEADER + GOOD_ROW).encode())

    result = run(home)

    status = {r["file_path"]: (r["status"], r["error"]) for r in result.files.iter_rows(named=True)}
    assert status["landing/usage/leak.csv"] == (
        "failed",
        "symbolic link to outside the home: not followed",
    )
    assert status["landing/usage/folder-link"][0] == "failed"
    assert status["landing/usage/dangling.csv"][0] == "failed"
    assert status["landing/usage/inside.csv"] == ("ingested", None)
    assert events(home)["event_id"].to_list() == ["i1", "ok1"]
    # Recorded once: the next run has nothing new.
    assert run(home).batch_id is None


def test_a_fifo_in_landing_does_not_block_the_run(home):
    os.mkfifo(home.landing_usage / "pipe.csv")
    write(home, "good.csv", (HEADER + GOOD_ROW).encode())
    result = run(home)
    status = dict(result.files.select("file_path", "status").iter_rows())
    assert status == {"landing/usage/good.csv": "ingested", "landing/usage/pipe.csv": "failed"}


# --- numbers: kept exactly or refused, one rule for every reader -----------------------------


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("1.2345678e-5", None),  # 12 decimals: more than a quantity holds
        ("1e-10", None),
        ("0.0000000001", None),
        ("1.5000000000000", "1.500000000"),  # trailing zeros lose nothing
        ("2.5E3", "2500.000000000"),
        ("1e20", None),  # beyond the warehouse's quantity type
        ("999999999999999.999999999", "999999999999999.999999999"),
        ("1000000000000000", None),
        ("+7", "7.000000000"),
        (".5", "0.500000000"),
        ("00012", "12.000000000"),
        ("1e99999999", None),
        ("0e99999999", "0E-9"),
        ("１２", None),  # full-width digits are not digits here
        ("0x10", None),
        ("1_000", None),
        ("inf", None),
    ],
)
def test_quantity_spellings_are_kept_exactly_or_refused(home, spelling, expected):
    write(
        home,
        "q.csv",
        (HEADER + f"q1,2026-10-01T10:00:00Z,c1,api_calls,{spelling},200,\n").encode(),
    )
    run(home)
    if expected is None:
        assert quarantine(home)["reason"].to_list() == ["bad_quantity"]
    else:
        assert [str(q) for q in events(home)["quantity"]] == [expected]


def test_a_json_number_keeps_every_digit(home):
    write(
        home,
        "n.jsonl",
        b'{"event_id":"n1","occurred_at":"2026-10-01T10:00:00Z","customer_id":"c1",'
        b'"metric":"api_calls","quantity":123456789.123456789}\n'
        # a float would read this as 0.1 and accept it; it has 22 decimals
        b'{"event_id":"n2","occurred_at":"2026-10-01T10:00:00Z","customer_id":"c1",'
        b'"metric":"api_calls","quantity":0.1000000000000000000001}\n',
    )
    run(home)
    assert [str(q) for q in events(home)["quantity"]] == ["123456789.123456789"]
    assert quarantine(home).select("row_number", "reason").rows() == [(2, "bad_quantity")]


def test_epoch_seconds_are_refused_not_read_as_milliseconds(home):
    seconds = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp())
    write(home, "s.csv", (HEADER + f"s1,{seconds},c1,api_calls,1,200,\n" + GOOD_ROW).encode())
    run(home)
    assert quarantine(home).select("row_number", "reason").rows() == [(1, "bad_timestamp")]
    assert events(home)["event_id"].to_list() == ["ok1"]


def _spellings(value: Decimal) -> list[str]:
    """Ways an exporter writes the same number."""
    sign, digits, exponent = value.as_tuple()
    text = f"{value:f}"
    out = [text, f"{value:e}", f"{value:E}", text + "000" if "." in text else text + ".000"]
    if not sign:
        out.append("+" + text)
        out.append("00" + text)
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.one_of(
        *(
            st.decimals(
                min_value=Decimal("-1e17"),
                max_value=Decimal("1e17"),
                allow_nan=False,
                allow_infinity=False,
                places=places,
            )
            for places in (0, 3, 9, 11)
        )
    )
)
def test_every_reader_agrees_on_every_spelling_of_a_quantity(tmp_path_factory, value):
    """The same number, spelled every way, in CSV, JSON (string and number) and Parquet: all
    accepted with exactly its value, or all refused; refused exactly when it does not fit
    9 decimals below 10^15, or is negative."""
    home = Home.at(tmp_path_factory.mktemp("q"))
    home.landing_usage.mkdir(parents=True)
    spellings = _spellings(value)
    rows = [(f"e{i}", s) for i, s in enumerate(spellings)]
    csv = HEADER + "".join(f"{e}-csv,2026-10-01T10:00:00Z,c1,api_calls,{s},200,\n" for e, s in rows)
    write(home, "a.csv", csv.encode())
    json_lines = "".join(
        f'{{"event_id":"{e}-str","occurred_at":"2026-10-01T10:00:00Z","customer_id":"c1","metric":"api_calls","quantity":"{s}"}}\n'
        for e, s in rows
    )
    # A JSON number may not start with + or a leading zero: those stay strings.
    json_lines += "".join(
        f'{{"event_id":"{e}-num","occurred_at":"2026-10-01T10:00:00Z","customer_id":"c1","metric":"api_calls","quantity":{s}}}\n'
        for e, s in rows
        if not s.startswith(("+", "00", "-00"))
    )
    write(home, "b.jsonl", json_lines.encode())
    parquet = io.BytesIO()
    pl.DataFrame(
        {
            "event_id": [f"{e}-pq" for e, _ in rows],
            "occurred_at": ["2026-10-01T10:00:00Z"] * len(rows),
            "customer_id": ["c1"] * len(rows),
            "metric": ["api_calls"] * len(rows),
            "quantity": [s for _, s in rows],
        }
    ).write_parquet(parquet)
    write(home, "c.parquet", parquet.getvalue())

    result = run(home)

    fits = (
        value == value.quantize(Decimal("1e-9"), rounding="ROUND_DOWN")
        and abs(value) < Decimal(10) ** 15
    )
    accepted = events(home)
    if fits and value >= 0:
        assert result.totals["rows_quarantined"] == 0
        assert set(accepted["quantity"].to_list()) == {value}
    else:
        assert accepted.height == 0
        reasons = set(quarantine(home)["reason"].to_list())
        assert reasons == ({"bad_quantity"} if not fits else {"negative_quantity"})
