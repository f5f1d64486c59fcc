"""Ingestion: every raw row is accepted, quarantined with a reason, or counted as a duplicate."""

import datetime as dt
import gzip
import json
import random
import textwrap
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lake.events import ID_HASH, EventWriter, SeenIds
from lake.home import Home
from lake.ingest import ingest
from transforms.validation import (
    first_of_each_id,
    parse_iso_timestamp,
    repeated_values,
    with_timestamp,
)

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HEADER = "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"


@pytest.fixture
def home(tmp_path):
    h = Home.at(tmp_path)
    h.landing_usage.mkdir(parents=True)
    return h


def land(home: Home, name: str, text: str) -> None:
    path = home.landing_usage / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = textwrap.dedent(text).lstrip().encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


def run(home: Home):
    return ingest(home, customers=["c1", "c2"], metrics=["api_calls", "tokens"], now=NOW)


def events(home: Home) -> pl.DataFrame:
    return pl.read_parquet(home.lake_events / "**" / "batch-*.parquet").sort("event_id")


def quarantine(home: Home) -> pl.DataFrame:
    return pl.read_parquet(home.lake_quarantine / "batch-*.parquet").sort("file_path", "row_number")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",2026-10-01T10:00:00Z,c1,api_calls,1,200,", "missing_event_id"),
        ("e1,not-a-time,c1,api_calls,1,200,", "bad_timestamp"),
        ("e1,2026-10-01T10:00:00,c1,api_calls,1,200,", "bad_timestamp"),  # no offset: ambiguous
        ("e1,-026-10-01T10:00:00.000Z,c1,api_calls,1,200,", "bad_timestamp"),  # year -26
        ("e1,-5,c1,api_calls,1,200,", "bad_timestamp"),  # epoch millis before 1970
        ("e1,2026-10-01T10:00:00Z,nobody,api_calls,1,200,", "unknown_customer"),
        ("e1,2026-10-01T10:00:00Z,c1,gpu_hours,1,200,", "unknown_metric"),
        ("e1,2026-10-01T10:00:00Z,c1,api_calls,lots,200,", "bad_quantity"),
        ("e1,2026-10-01T10:00:00Z,c1,api_calls,NaN,200,", "bad_quantity"),
        ("e1,2026-10-01T10:00:00Z,c1,api_calls,0.0000000001,200,", "bad_quantity"),  # > 9 decimals
        ("e1,2026-10-01T10:00:00Z,c1,api_calls,-2,200,", "negative_quantity"),
        ("e1,2026-11-02T10:00:00Z,c1,api_calls,1,200,", "future_timestamp"),
        ("e1,2026-10-01T10:00:00Z,c1,api_calls,1,OK,", "malformed_row"),
        ("e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,x,y", "malformed_row"),  # ragged row
        ("e1,2026-10-01T10:00:00Z,c1,api_calls,1", "malformed_row"),  # too few fields
    ],
)
def test_each_rule_quarantines_with_its_reason(home, row, reason):
    land(home, "day.csv", HEADER + row + "\n" + "ok1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")

    result = run(home)

    q = quarantine(home)
    assert q["reason"].to_list() == [reason]
    assert q["row_number"].to_list() == [1]
    assert q["file_path"].to_list() == ["landing/usage/day.csv"]
    assert events(home)["event_id"].to_list() == ["ok1"]
    assert result.totals == {
        "rows_read": 2,
        "rows_accepted": 1,
        "rows_quarantined": 1,
        "duplicates_dropped": 0,
    }


def test_a_signed_metric_keeps_its_negative_quantities_and_no_other_metric_does(home):
    """storage_gb is signed (a weighted_sum charge prices it): -30 detaches 30 GB. api_calls is
    not: its -2 is quarantined as before."""
    land(
        home,
        "day.csv",
        HEADER
        + "s1,2026-10-01T10:00:00Z,c1,storage_gb,-30,,\n"
        + "a1,2026-10-01T10:00:00Z,c1,api_calls,-2,200,\n",
    )
    ingest(
        home,
        customers=["c1"],
        metrics=["api_calls", "storage_gb"],
        signed_metrics=["storage_gb"],
        now=NOW,
    )
    accepted = events(home)
    assert accepted.select("event_id", "quantity").rows() == [("s1", Decimal("-30"))]
    assert quarantine(home)["reason"].to_list() == ["negative_quantity"]


def test_timestamps_are_normalized_to_utc_from_offsets_z_and_epoch_millis(home):
    eight_utc_millis = int(dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC).timestamp() * 1000)
    land(
        home,
        "day.csv",
        HEADER
        + "a,2026-10-01T12:00:00+02:00,c1,api_calls,,,\n"
        + "b,2026-10-01T10:00:00.250Z,c1,api_calls,,,\n"
        + f"c,{eight_utc_millis},c1,api_calls,,,\n",
    )
    run(home)
    got = events(home).select("event_id", "occurred_at", "quantity")
    assert got["occurred_at"].to_list() == [
        dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 1, 10, 0, 0, 250000, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC),
    ]
    assert [str(q) for q in got["quantity"]] == ["1.000000000"] * 3  # quantity defaults to 1


def test_the_millisecond_fast_path_parses_exactly_like_the_general_parse():
    """The fixed-width `...SS.mmmZ` parse must agree with the general ISO parse on every string,
    near misses included (one or two characters of the common shape changed at random)."""
    rng = random.Random(7)
    base = "2026-09-03T03:38:26.123Z"
    texts = [
        base,
        "2026-09-03 03:38:26.123Z",
        "2024-02-29T23:59:59.999Z",
        "2023-02-29T12:00:00.000Z",
        "2026-09-03T23:59:60.000Z",
        "2026-09-03T24:00:00.000Z",
        "2026-09-03T03:38:26.12Z",
        "2026-09-03T03:38:26.1234Z",
        "2026-09-03T03:38:26.123+00:00",
        "2026-09-03T03:38:26.123z",
        "2026-09-03T03:38:26.123ZZ",
        " 2026-09-03T03:38:26.123Z",
        "+026-09-03T03:38:26.123Z",
        None,
    ]
    for _ in range(5000):
        chars = list(base)
        for _ in range(rng.randint(1, 2)):
            chars[rng.randrange(len(chars))] = rng.choice("0123456789-:.TZ+ z")
        texts.append("".join(chars))
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    general = parse_iso_timestamp(pl.col("t").str.replace(" ", "T", literal=True))
    got = (
        with_timestamp(frame.lazy(), "t", "fast")
        .with_columns(pl.when(general.dt.year() >= 1970).then(general).alias("general"))
        .collect()
    )
    assert got["fast"].to_list() == got["general"].to_list()
    assert got["fast"][0] == dt.datetime(2026, 9, 3, 3, 38, 26, 123000, tzinfo=dt.UTC)
    assert got["fast"][2] == dt.datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=dt.UTC)
    assert got["fast"][3] is None  # not a leap year
    assert got["fast"].null_count() > 1000  # the near misses include many invalid strings


def test_cloudevents_map_to_the_flat_schema(home):
    lines = [
        {
            "specversion": "1.0",
            "id": "ce1",
            "time": "2026-10-01T10:00:00Z",
            "subject": "c2",
            "type": "tokens",
            "source": "/gw",
            "data": {"quantity": 250, "status": 201, "model": "large"},
        },
    ]
    land(home, "ce.jsonl.gz", "\n".join(json.dumps(x) for x in lines) + "\n")
    run(home)
    row = events(home).row(0, named=True)
    assert (row["event_id"], row["customer_id"], row["metric"], row["status"]) == (
        "ce1",
        "c2",
        "tokens",
        201,
    )
    assert str(row["quantity"]) == "250.000000000"
    assert json.loads(row["properties"]) == {"model": "large"}


def test_broken_json_line_is_quarantined_and_the_rest_of_the_file_is_kept(home):
    good = {
        "event_id": "j1",
        "occurred_at": "2026-10-01T10:00:00Z",
        "customer_id": "c1",
        "metric": "api_calls",
    }
    land(home, "day.jsonl", json.dumps(good) + "\n{not json\n")
    result = run(home)
    assert events(home)["event_id"].to_list() == ["j1"]
    assert quarantine(home).select("row_number", "reason", "raw_record").rows() == [
        (2, "malformed_row", "{not json")
    ]
    assert result.totals["rows_read"] == 2


def test_duplicates_across_files_and_runs_are_counted_once(home):
    land(home, "a/day1.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,5,200,\n")
    land(
        home,
        "b/day2.csv",
        HEADER
        + "e1,2026-10-01T10:00:00Z,c1,api_calls,5,200,\ne2,2026-10-02T10:00:00Z,c1,api_calls,1,200,\n",
    )
    first = run(home)
    land(home, "c/day3.csv", HEADER + "e2,2026-10-02T10:00:00Z,c1,api_calls,1,200,\n")
    second = run(home)

    assert events(home)["event_id"].to_list() == ["e1", "e2"]
    per_file = dict(first.files.select("file_path", "duplicates_dropped").iter_rows())
    assert per_file == {"landing/usage/a/day1.csv": 0, "landing/usage/b/day2.csv": 1}
    assert second.totals == {
        "rows_read": 1,
        "rows_accepted": 0,
        "rows_quarantined": 0,
        "duplicates_dropped": 1,
    }


def test_rerun_ingests_nothing_and_same_content_elsewhere_is_not_ingested_twice(home):
    body = HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n"
    land(home, "day.csv", body)
    run(home)
    before = events(home)

    assert run(home).batch_id is None  # nothing new
    land(home, "copy/day.csv", body)
    again = run(home)

    assert again.files.select("status", "rows_read").rows() == [("already_ingested", 0)]
    assert events(home).equals(before)


def test_unreadable_file_is_recorded_and_other_files_go_on(home):
    (home.landing_usage / "broken.csv.gz").write_bytes(b"this is not gzip")
    land(home, "good.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    result = run(home)
    status = dict(result.files.select("file_path", "status").iter_rows())
    assert status == {"landing/usage/broken.csv.gz": "failed", "landing/usage/good.csv": "ingested"}
    assert "gzip" in result.files.filter(pl.col("status") == "failed")["error"][0]
    assert quarantine(home)["reason"].to_list() == ["unreadable_file"]
    assert events(home)["event_id"].to_list() == ["e1"]


def test_leftovers_of_a_crashed_batch_are_removed_before_the_next(home):
    land(home, "day.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    orphan = home.lake_events / "event_date=2026-10-01" / "batch-deadbeef.parquet"
    orphan.parent.mkdir(parents=True)
    pl.DataFrame({"event_id": ["e1"]}).write_parquet(orphan)  # written, never committed

    result = run(home)

    assert not orphan.exists()
    assert result.totals["rows_accepted"] == 1  # not mistaken for a duplicate of the orphan


def test_landing_files_are_never_modified(home):
    land(home, "day.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    before = {p: p.read_bytes() for p in home.landing_usage.rglob("*") if p.is_file()}
    run(home)
    after = {p: p.read_bytes() for p in home.landing_usage.rglob("*") if p.is_file()}
    assert after == before


def test_a_rejected_json_row_keeps_its_line_exactly_as_written(home):
    line = '{"event_id": "j9", "occurred_at": "2026-10-01T10:00:00Z", "customer_id": "nobody", "metric": "api_calls", "note": "kept"}'
    land(home, "day.jsonl", line + "\n")
    run(home)
    assert quarantine(home).select("reason", "raw_record").rows() == [("unknown_customer", line)]


def test_gzipped_json_with_blank_and_broken_lines_keeps_line_numbers_and_text(home):
    """Blank lines and a raw U+2028 inside a string (valid JSON) must not shift line numbers."""
    ok = '{"event_id": "g1", "occurred_at": "2026-10-01T10:00:00Z", "customer_id": "c1", "metric": "api_calls"}'
    odd = '{"event_id": "g2", "occurred_at": "2026-10-01T10:00:00Z", "customer_id": "c1", "metric": "api_calls", "properties": {"q": "a\u2028b"}}'
    stranger = '{"event_id": "g3", "occurred_at": "2026-10-01T10:00:00Z", "customer_id": "nobody", "metric": "api_calls"}'
    land(home, "day.jsonl.gz", "\n".join([ok, "", odd, "{oops", stranger]) + "\n")
    result = run(home)
    assert events(home)["event_id"].to_list() == ["g1", "g2"]
    assert quarantine(home).select("row_number", "reason", "raw_record").rows() == [
        (2, "malformed_row", ""),
        (4, "malformed_row", "{oops"),
        (5, "unknown_customer", stranger),
    ]
    assert result.totals["rows_read"] == 5


def test_a_gzipped_csv_with_a_ragged_row_quarantines_only_that_row(home):
    land(
        home,
        "day.csv.gz",
        HEADER
        + "r1,2026-10-01T10:00:00.000Z,c1,api_calls,1,200,\n"
        + "r2,2026-10-01T10:00:00.000Z,c1,api_calls\n"
        + "r3,2026-10-01T10:00:00.000Z,c1,api_calls,1,200,,extra\n",
    )
    run(home)
    assert events(home)["event_id"].to_list() == ["r1"]
    assert quarantine(home).select("row_number", "reason").rows() == [
        (2, "malformed_row"),
        (3, "malformed_row"),
    ]


def test_a_truncated_gzip_file_is_unreadable(home):
    whole = gzip.compress((HEADER + "t1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n").encode())
    (home.landing_usage / "cut.csv.gz").write_bytes(whole[:-6])
    (home.landing_usage / "cut.jsonl.gz").write_bytes(gzip.compress(b'{"event_id": "x"}\n')[:-6])
    result = run(home)
    assert result.files["status"].to_list() == ["failed", "failed"]
    assert (
        result.files["error"].to_list()
        == [
            "cannot decompress gzip: Compressed file ended before the end-of-stream marker was reached"
        ]
        * 2
    )


def test_late_events_of_a_batch_are_gathered_into_one_lake_file_per_date(home):
    """Each daily export carries a late event for the day before the batch: the small parts
    are written together, one lake file per date, instead of one per landing file and date."""
    for day in (2, 3, 4):
        land(
            home,
            f"d{day}.csv",
            HEADER
            + f"e{day},2026-10-0{day}T10:00:00Z,c1,api_calls,1,200,\n"
            + f"late{day},2026-10-01T23:00:00Z,c1,api_calls,1,200,\n",
        )
    result = run(home)
    written = sorted(p.parent.name for p in home.lake_events.glob("*/batch-*.parquet"))
    assert written == [f"event_date=2026-10-0{d}" for d in (1, 2, 3, 4)]
    late = pl.read_parquet(home.lake_events / "event_date=2026-10-01" / "*.parquet")
    assert sorted(late["event_id"]) == ["late2", "late3", "late4"]
    assert result.event_dates == [dt.date(2026, 10, d) for d in (1, 2, 3, 4)]


def test_the_lake_writer_writes_large_parts_at_once_and_bounds_what_waits(home):
    """Memory follows one file, not the batch: at most `max_waiting` rows of small parts wait."""
    lake = EventWriter(home, "b1", small=3, max_waiting=4)
    day0, day1 = dt.date(2026, 10, 1), dt.date(2026, 10, 2)

    def part(day, *ids):
        return pl.DataFrame({"event_id": list(ids)}).with_columns(
            pl.lit(day).alias("event_date"), ID_HASH
        )

    def files():
        return sorted(
            (p.parent.name, pl.read_parquet(p).height)
            for p in home.lake_events.glob("*/batch-b1-*.parquet")
        )

    lake.add(day0, part(day0, "a", "b"), 1)
    lake.add(day1, part(day1, "c", "d"), 1)
    assert files() == []  # four rows wait
    lake.add(day0, part(day0, "e"), 2)  # five: over the bound, everything waiting is written
    assert files() == [("event_date=2026-10-01", 3), ("event_date=2026-10-02", 2)]
    lake.add(day1, part(day1, "f", "g", "h"), 3)  # large enough to be written at once
    assert files() == [
        ("event_date=2026-10-01", 3),
        ("event_date=2026-10-02", 2),
        ("event_date=2026-10-02", 3),
    ]
    lake.flush()  # nothing waits: no empty files
    assert len(files()) == 3


def test_within_a_file_the_first_copy_of_an_id_wins(home):
    land(
        home,
        "day.csv",
        HEADER
        + "e1,2026-10-01T10:00:00Z,c1,api_calls,5,200,\n"
        + "e2,2026-10-01T11:00:00Z,c1,api_calls,1,200,\n"
        + "e1,2026-10-01T10:00:00Z,c1,api_calls,7,200,\n"
        + "e3,2026-10-02T09:00:00Z,c1,api_calls,1,200,\n"
        + "e2,2026-10-01T11:00:00Z,c1,api_calls,9,200,\n",
    )

    result = run(home)

    kept = events(home).select("event_id", "quantity", "source_row")
    assert kept.rows() == [("e1", 5, 1), ("e2", 1, 2), ("e3", 1, 4)]
    assert result.totals["duplicates_dropped"] == 2


def test_ids_that_only_share_a_hash_are_both_kept():
    """The hash only screens: two different ids with the same hash are still two events."""

    rows = pl.DataFrame(
        {
            "event_id": ["a", "b", "a", "c"],
            "_hash": pl.Series([7, 7, 7, 8], dtype=pl.UInt64),  # "a" and "b" collide
        }
    )

    assert first_of_each_id(rows)["event_id"].to_list() == ["a", "b", "c"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1) | st.sampled_from([0, 1, 2**64 - 1])))
def test_repeated_values_are_exactly_the_hashes_held_more_than_once(hashes):
    values = pl.Series(hashes, dtype=pl.UInt64)

    repeated = repeated_values(values)

    copies = {h: hashes.count(h) for h in hashes}
    assert sorted(repeated.to_list()) == sorted(h for h, n in copies.items() if n > 1)


def test_a_later_file_drops_only_ids_really_seen_not_ids_sharing_a_hash(home):

    seen = SeenIds(home)
    day = dt.date(2026, 10, 1)
    first = pl.DataFrame({"event_id": ["a", "c"], "_hash": pl.Series([7, 8], dtype=pl.UInt64)})
    later = pl.DataFrame({"event_id": ["b", "c"], "_hash": pl.Series([7, 8], dtype=pl.UInt64)})

    assert seen.drop_seen(day, first)["event_id"].to_list() == ["a", "c"]
    assert seen.drop_seen(day, later)["event_id"].to_list() == ["b"]  # "b" only collides with "a"


def test_a_nightly_run_reads_and_hashes_only_new_or_changed_files(home, monkeypatch):
    import os

    import lake.ingest

    hashed = []
    real = lake.ingest.file_sha256
    monkeypatch.setattr(lake.ingest, "file_sha256", lambda p: hashed.append(p.name) or real(p))
    row = "e{n},2026-10-01T10:00:00Z,c1,api_calls,1,200,\n"
    land(home, "a.csv", HEADER + row.format(n=1))
    land(home, "b.csv", HEADER + row.format(n=2))
    run(home)
    assert sorted(hashed) == ["a.csv", "b.csv"]

    hashed.clear()
    land(home, "c.csv", HEADER + row.format(n=3))
    second = run(home)
    assert hashed == ["c.csv"]  # a.csv and b.csv: same name, size and time as recorded
    assert second.files["file_path"].to_list() == ["landing/usage/c.csv"]

    # Touched but unchanged: hashed again, known by content, not ingested again.
    hashed.clear()
    os.utime(home.landing_usage / "a.csv", ns=(1, 1))
    assert run(home).batch_id is None
    assert hashed == ["a.csv"]

    # Rewritten in place with other content: read as a new version of the file.
    land(home, "b.csv", HEADER + row.format(n=4))
    hashed.clear()
    fourth = run(home)
    assert hashed == ["a.csv", "b.csv"]  # a.csv's new time was never recorded: hashed again
    assert fourth.files.select("file_path", "rows_accepted").rows() == [("landing/usage/b.csv", 1)]
    assert sorted(events(home)["event_id"].to_list()) == ["e1", "e2", "e3", "e4"]


def batch_days(home: Home) -> list[tuple]:
    frame = pl.read_parquet(home.lake_batch_days / "batch-*.parquet")
    return frame.sort("batch_id", "event_date").drop("batch_id").rows()


def test_each_batch_records_the_events_it_added_to_each_day_and_the_latest_instant(home):
    land(
        home,
        "a.csv",
        HEADER
        + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n"
        + "e2,2026-10-01T23:59:59.5Z,c1,api_calls,1,200,\n"
        + "e3,2026-10-02T00:00:00Z,c1,api_calls,1,200,\n"
        + "e3,2026-10-02T00:00:00Z,c1,api_calls,1,200,\n"  # a duplicate adds nothing
        + "bad,never,c1,api_calls,1,200,\n",
    )
    run(home)
    utc = dt.UTC
    assert batch_days(home) == [
        (dt.date(2026, 10, 1), 2, dt.datetime(2026, 10, 1, 23, 59, 59, 500000, tzinfo=utc)),
        (dt.date(2026, 10, 2), 1, dt.datetime(2026, 10, 2, tzinfo=utc)),
    ]
    # The next export: one late event for 1 October, nothing else new.
    land(home, "b.csv", HEADER + "e4,2026-10-01T08:00:00Z,c2,tokens,5,,\n")
    second = run(home)
    [late] = (
        pl.read_parquet(home.lake_batch_days / f"batch-{second.batch_id}.parquet")
        .drop("batch_id")
        .rows()
    )
    assert late == (dt.date(2026, 10, 1), 1, dt.datetime(2026, 10, 1, 8, tzinfo=utc))


def test_a_lake_without_batch_records_gets_them_from_its_events_once(home):
    land(home, "a.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    run(home)
    recorded = batch_days(home)
    for f in home.lake_batch_days.glob("batch-*.parquet"):
        f.unlink()  # as a lake written before batch_days existed
    assert run(home).batch_id is None  # nothing new to ingest
    assert batch_days(home) == recorded


def test_the_day_records_of_a_batch_that_never_committed_are_removed(home):
    orphan = home.lake_batch_days / "batch-deadbeef.parquet"
    orphan.parent.mkdir(parents=True)
    pl.DataFrame({"batch_id": ["deadbeef"]}).write_parquet(orphan)
    land(home, "a.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    run(home)
    assert not orphan.exists()
    assert len(batch_days(home)) == 1


@pytest.mark.parametrize("way", ["held", "looked_up"])
def test_ids_held_in_memory_are_bounded_and_dropped_dates_are_read_back_exactly(
    home, monkeypatch, way
):
    """A batch whose files keep returning to earlier dates, with room for two ids in memory:
    held dates are dropped and read back from the lake; small parts on dates not held are
    looked up in the lake instead, with room for one id accepted that way. Either way every
    duplicate is still found."""
    if way == "held":
        monkeypatch.setattr("lake.events.SMALL_PART", 1)  # no part is small: dates are held
    rows = {
        "a.csv": ["e1,2026-10-01", "e2,2026-10-02", "e3,2026-10-03"],
        "b.csv": ["e1,2026-10-01", "e4,2026-10-01", "e2,2026-10-02"],  # e1, e2 again
        "c.csv": ["e3,2026-10-03", "e4,2026-10-01", "e5,2026-10-02"],  # e3, e4 again
    }
    for name, lines in rows.items():
        body = "".join(f"{line}T10:00:00Z,c1,api_calls,1,200,\n" for line in lines)
        land(home, name, HEADER + body)
    lake = EventWriter(home, "b1")
    seen = SeenIds(home, lake, max_rows=2, max_recent=1)
    for lines in rows.values():
        ids = pl.DataFrame({"event_id": [line.split(",")[0] for line in lines]}).with_columns(
            ID_HASH
        )
        for day in sorted({line.split(",")[1] for line in lines}):
            date = dt.date.fromisoformat(day)
            part = ids.filter(
                pl.col("event_id").is_in(
                    [line.split(",")[0] for line in lines if line.endswith(day)]
                )
            )
            kept = seen.drop_seen(date, part)
            lake.add(date, kept.with_columns(pl.lit(date).alias("event_date")), 1)
    lake.flush()
    if way == "held":
        assert seen.reloads > 0 and seen.lookups == 0  # dates really were dropped, read back
    else:
        assert seen.lookups > 0 and seen.reloads == 0  # parts really were looked up
    written = pl.read_parquet(home.lake_events / "*" / "batch-b1-*.parquet")["event_id"]
    assert sorted(written.to_list()) == ["e1", "e2", "e3", "e4", "e5"]  # each id once

    # The same through ingest() (the hand-made batch above never committed: it is removed).
    result = ingest(home, customers=["c1"], metrics=["api_calls"], now=NOW, seen_ids_in_memory=2)
    assert (result.totals["rows_accepted"], result.totals["duplicates_dropped"]) == (5, 4)
    assert sorted(events(home)["event_id"].to_list()) == ["e1", "e2", "e3", "e4", "e5"]


def _large_world(home: Home) -> None:
    """Files large enough to be read in pieces once the piece size is made small: ids repeated
    across pieces, rejected and ragged rows late in the file, a quoted property spanning lines,
    blank and broken JSON lines, a Parquet file."""
    rows = [HEADER.rstrip("\n")]
    for i in range(3000):
        ts = f"2026-10-{1 + i % 3:02d}T10:00:00.000Z"
        customer = "nobody" if i % 997 == 5 else "c1"
        rows.append(f"e{i % 2500},{ts},{customer},api_calls,{i % 7},200,")
    rows.insert(1500, 'q1,2026-10-01T10:00:00Z,c2,tokens,5,200,"{""note"":""two\nlines""}"')
    rows.insert(2600, "short,2026-10-01T10:00:00Z,c1")  # ragged, late in the file
    text = "\n".join(rows) + "\n"
    land(home, "big.csv", text)
    land(home, "big.csv.gz", text.replace(",e", ",z").replace("\ne", "\nz"))
    lines = []
    for i in range(3000):
        record = {"event_id": f"j{i % 2800}", "occurred_at": "2026-10-02T10:00:00Z"}
        lines.append(json.dumps({**record, "customer_id": "c2", "metric": "tokens"}))
        if i % 1000 == 999:
            lines += ["", "{broken"]
    land(home, "big.jsonl.gz", "\n".join(lines) + "\n")
    frame = pl.DataFrame(
        {
            "event_id": [f"p{i % 2900}" for i in range(3000)],
            "occurred_at": ["2026-10-03T08:00:00Z"] * 3000,
            "customer_id": ["c1"] * 2999 + ["nobody"],
            "metric": ["api_calls"] * 3000,
        }
    )
    frame.write_parquet(home.landing_usage / "big.parquet")


def test_a_large_file_read_in_pieces_ingests_exactly_as_read_whole(tmp_path, monkeypatch):
    whole, pieces = Home.at(tmp_path / "whole"), Home.at(tmp_path / "pieces")
    for h in (whole, pieces):
        _large_world(h)
    expected = run(whole)
    monkeypatch.setattr("lake.pieces.PIECE_BYTES", 16_384)
    monkeypatch.setattr("lake.pieces.PIECE_ROWS", 700)
    monkeypatch.setattr("lake.events.SMALL_PART", 100)  # each part its own lake file
    monkeypatch.setattr("lake.ingest.QUARANTINE_WAITING", 3)  # quarantined rows wait on disk
    monkeypatch.setattr("lake.prepare.FILE_ROWS_HELD", 1000)  # and so do a file's parts
    actual = run(pieces)
    columns = ["file_path", "rows_read", "rows_accepted", "rows_quarantined", "duplicates_dropped"]
    assert actual.files.select(columns).rows() == expected.files.select(columns).rows()
    assert expected.totals["rows_quarantined"] > 8 and expected.totals["duplicates_dropped"] > 1000
    lake_columns = [
        "event_id",
        "occurred_at",
        "quantity",
        "properties",
        "source_file",
        "source_row",
    ]
    assert events(pieces).select(lake_columns).rows() == events(whole).select(lake_columns).rows()
    rejected = ["file_path", "row_number", "reason", "raw_record"]
    # An empty CSV field is kept as "" by the exact path a ragged row sends its piece (or its
    # whole file) down, and as null by the fast path: compared as text apart from that.
    as_text = pl.col("raw_record").str.replace_all('"properties":""', '"properties":null')
    assert (
        quarantine(pieces).select(rejected).with_columns(as_text).rows()
        == quarantine(whole).select(rejected).with_columns(as_text).rows()
    )
    assert not (pieces.lake / "staging").exists()  # the staged parts are gone
    # Several parts of one file for one date: one lake file each, none written over another.
    assert len(list((pieces.lake_events / "event_date=2026-10-01").glob("batch-*-00001*"))) > 1


def test_a_large_file_that_fails_in_its_last_piece_leaves_nothing_in_the_lake(home, monkeypatch):
    good = HEADER + "".join(f"k{i},2026-10-01T10:00:00Z,c1,api_calls,1,200,\n" for i in range(2000))
    packed = gzip.compress(good.encode())
    (home.landing_usage / "cut.csv.gz").write_bytes(packed[: len(packed) - 40])
    land(home, "fine.csv", HEADER + "f1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    monkeypatch.setattr("lake.pieces.PIECE_BYTES", 8_192)
    monkeypatch.setattr("lake.prepare.FILE_ROWS_HELD", 100)  # its first pieces wait on disk
    result = run(home)
    assert result.files.select("file_path", "status").rows() == [
        ("landing/usage/cut.csv.gz", "failed"),
        ("landing/usage/fine.csv", "ingested"),
    ]
    assert result.files["error"][0].startswith("cannot decompress gzip")
    assert events(home)["event_id"].to_list() == ["f1"]
    assert not (home.lake / "staging").exists()


def test_a_compacted_part_keeps_every_value_and_null():
    from lake.events import compacted

    whole = pl.DataFrame(
        {
            "event_id": ["e1", None, "a-much-longer-id-than-twelve-bytes", ""],
            "quantity": pl.Series(["1.5", "2", None, "0"]).cast(pl.Decimal(38, 9)),
            "source_row": [1, 2, 3, 4],
        }
    )
    part = whole.filter(pl.col("source_row") > 1)
    assert compacted(part).equals(part)
    assert compacted(part)["event_id"].to_list() == [None, "a-much-longer-id-than-twelve-bytes", ""]


def test_dot_files_tmp_files_and_dot_folders_are_never_read(home):
    """Writers write there first and rename when done."""
    row = "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n"
    land(home, ".export.csv", HEADER + row)
    land(home, "export.csv.tmp", HEADER + row)
    land(home, ".staging/export.csv", HEADER + row)
    result = run(home)
    assert result.batch_id is None and result.files.is_empty()


def test_a_file_still_being_written_waits_for_a_later_look(home):
    import os
    import time

    land(home, "old.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,1,200,\n")
    land(home, "young.csv", HEADER + "e2,2026-10-01T10:00:00Z,c1,api_calls,9.87,200,\n")
    hour_ago = time.time() - 3600
    os.utime(home.landing_usage / "old.csv", (hour_ago, hour_ago))
    said = []
    result = ingest(
        home,
        customers=["c1"],
        metrics=["api_calls"],
        now=NOW,
        settle_seconds=30,
        progress=said.append,
    )
    assert result.files["file_path"].to_list() == ["landing/usage/old.csv"]
    assert any(line.startswith("landing/usage/young.csv: modified") for line in said)
    os.utime(home.landing_usage / "young.csv", (hour_ago, hour_ago))  # the writer is done
    later = ingest(home, customers=["c1"], metrics=["api_calls"], now=NOW, settle_seconds=30)
    assert later.files["file_path"].to_list() == ["landing/usage/young.csv"]
    assert events(home)["quantity"].cast(pl.String).to_list()[1].startswith("9.87")


def test_a_file_appended_to_while_it_is_read_is_left_whole_for_the_next_run(home, monkeypatch):
    """The exporter was writing `9.87`: the cut row `9` must never be billed."""
    import lake.ingest

    land(home, "live.csv", HEADER + "e1,2026-10-01T10:00:00Z,c1,api_calls,9")
    real = lake.ingest.prepare

    def prepare_then_append(rel, path, **kw):
        prepared = real(rel, path, **kw)
        with path.open("a") as fh:  # the exporter goes on writing meanwhile
            fh.write(".87,200,\n")
        return prepared

    monkeypatch.setattr(lake.ingest, "prepare", prepare_then_append)
    said = []
    first = ingest(home, customers=["c1"], metrics=["api_calls"], now=NOW, progress=said.append)
    assert first.batch_id is None and first.files.is_empty()  # nothing committed
    assert any("changed while it was read; left for the next run" in line for line in said)
    monkeypatch.setattr(lake.ingest, "prepare", real)
    again = run(home)
    assert again.totals["rows_accepted"] == 1
    assert events(home)["quantity"].cast(pl.String).to_list() == ["9.870000000"]
