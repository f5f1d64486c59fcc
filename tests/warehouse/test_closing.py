"""The close rule asked of a real home (warehouse.closing answers it)."""

import datetime as dt

import duckdb

from lake.home import Home
from transforms.close import why_not_close
from warehouse.closing import HomeToClose

TODAY = dt.date(2026, 11, 27)


def test_no_warehouse_means_run_first(tmp_path):
    refusal = why_not_close(HomeToClose(Home.at(tmp_path)), dt.date(2026, 10, 1), TODAY)
    assert refusal.reason.endswith("run `tally run` before closing a month")
    assert not refusal.blocking_findings


def _home_with_empty_warehouse(tmp_path) -> Home:
    home = Home.at(tmp_path)
    home.warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(home.warehouse)).close()
    return home


def test_a_month_that_is_not_over_is_refused(tmp_path):
    refusal = why_not_close(
        HomeToClose(_home_with_empty_warehouse(tmp_path)), dt.date(2026, 11, 1), TODAY
    )
    assert refusal.reason == "2026-11 is not over yet (it ends 2026-12-01); close it after that"


def test_marts_never_built_completely_are_refused(tmp_path):
    refusal = why_not_close(
        HomeToClose(_home_with_empty_warehouse(tmp_path)), dt.date(2026, 10, 1), TODAY
    )
    assert refusal.reason == (
        "not closing 2026-10: the marts are out of date: the last run did not finish building "
        "the marts; run `tally run` first, then close"
    )
