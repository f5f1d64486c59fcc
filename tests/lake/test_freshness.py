"""When a nightly build may be skipped: only when nothing a model reads has changed."""

import polars as pl
import pytest

from lake.freshness import mark_built, unchanged_since_built
from lake.home import Home


@pytest.fixture
def home(tmp_path):
    h = Home.at(tmp_path)
    h.pricing.mkdir(parents=True)
    (h.pricing / "plans.yaml").write_text("plans: []\n")
    h.landing_reference.mkdir(parents=True)
    (h.landing_reference / "customers.csv").write_text("customer_id,name,currency\nc1,A,USD\n")
    pl.DataFrame({"event_id": ["e1"]}).write_parquet(_event_file(h, "b1"))
    h.warehouse.parent.mkdir(parents=True)
    h.warehouse.write_bytes(b"")
    mark_built(h, "models-v1")
    return h


def _event_file(home: Home, batch: str):
    path = home.lake_events / "event_date=2026-10-01" / f"batch-{batch}-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_home_as_it_was_built_needs_no_build(home):
    assert unchanged_since_built(home, "models-v1")


@pytest.mark.parametrize(
    "change",
    [
        "other models",
        "a lake file lost",
        "a lake file added",
        "a price book edit",
        "a reference edit",
        "no warehouse",
    ],
)
def test_anything_a_model_reads_changed_needs_a_build(home, change):
    project = "models-v1"
    if change == "other models":
        project = "models-v2"
    elif change == "a lake file lost":
        _event_file(home, "b1").unlink()
    elif change == "a lake file added":
        pl.DataFrame({"event_id": ["e2"]}).write_parquet(_event_file(home, "b2"))
    elif change == "a price book edit":
        (home.pricing / "plans.yaml").write_text("plans: []  # edited\n")
    elif change == "a reference edit":
        (home.landing_reference / "customers.csv").write_text("customer_id,name,currency\n")
    elif change == "no warehouse":
        home.warehouse.unlink()
    assert not unchanged_since_built(home, project)


def test_the_notifications_a_run_records_after_its_build_need_no_build(home):
    """The run writes its new spend notifications to the lake after dbt, from the mart that
    already shows them: the next run with nothing new must not rebuild for them."""
    home.lake_notifications.mkdir(parents=True)
    pl.DataFrame({"notification_id": ["c1:2026-10:spend_threshold:50"]}).write_parquet(
        home.lake_notifications / "notifications.parquet"
    )
    assert unchanged_since_built(home, "models-v1")
