"""The events check: GX sees a deterministic sample; repeated ids are counted over every row."""

import polars as pl

from expectations.suites import EVENTS_COLUMNS, repeated_event_ids, sample_events


def batch(ids: list[str]) -> pl.LazyFrame:
    n = len(ids)
    return pl.DataFrame(
        {
            "event_id": ids,
            "customer_id": ["c1"] * n,
            "metric": ["api_calls"] * n,
            "occurred_at": [None] * n,
            "quantity": [1] * n,
            "properties": [None] * n,
        }
    ).lazy()


def test_a_small_batch_is_validated_whole():
    events = batch([f"e{i}" for i in range(50)])

    sample = sample_events(events, rows=100)

    assert sample.height == 50
    assert tuple(sample.columns) == EVENTS_COLUMNS


def test_a_large_batch_gives_the_same_sample_of_about_the_asked_size_every_time():
    events = batch([f"e{i}" for i in range(20_000)])

    first = sample_events(events, rows=1_000)
    again = sample_events(events, rows=1_000)

    assert 800 <= first.height <= 1_200
    assert first["event_id"].to_list() == again["event_id"].to_list()


def test_every_copy_of_an_id_falls_on_the_same_side_of_the_sample():
    ids = [f"e{i}" for i in range(5_000)]
    events = batch(ids + ids)  # every id twice

    sample = sample_events(events, rows=500)

    counts = sample.group_by("event_id").len()["len"]
    assert sample.height > 0
    assert counts.to_list() == [2] * counts.len()


def test_repeated_ids_are_counted_over_every_row_not_the_sample():
    ids = [f"e{i}" for i in range(30_000)]
    events = batch(ids + ["e7", "e29999", "e29999"])

    assert repeated_event_ids(events) == 3
    assert repeated_event_ids(batch(ids)) == 0
