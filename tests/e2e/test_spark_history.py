"""The Spark parity tests (test_spark_parity.py) on the same world arriving night by night:
September's exports, September closed on Spark, then October's (late events and re-delivered
copies among them), built incrementally with Spark's strategy (insert_overwrite) on that
history. DuckDB still builds everything in one run."""

import shutil

import pytest
from test_spark_parity import (  # the same tests, on this module's history
    NIGHTS,
    Parity,
    built_parity,
    test_every_command_succeeds_on_both_engines,
    test_money_keeps_its_decimals_on_both_engines,
    test_simulate_reads_the_same_current_invoices_on_both_engines,
    test_spark_and_duckdb_build_the_same_marts_row_for_row,
    test_tally_query_answers_the_same_on_both_engines,
    test_tally_report_builds_the_same_pages_on_both_engines,
    test_the_rating_unit_tests_pass_on_spark,
    test_the_summary_reads_the_same_figures_on_both_engines,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java: `make spark`"),
]

__all__ = [
    "test_every_command_succeeds_on_both_engines",
    "test_money_keeps_its_decimals_on_both_engines",
    "test_simulate_reads_the_same_current_invoices_on_both_engines",
    "test_spark_and_duckdb_build_the_same_marts_row_for_row",
    "test_tally_query_answers_the_same_on_both_engines",
    "test_tally_report_builds_the_same_pages_on_both_engines",
    "test_the_rating_unit_tests_pass_on_spark",
    "test_the_summary_reads_the_same_figures_on_both_engines",
]


@pytest.fixture(scope="module")
def parity(worlds) -> Parity:
    return built_parity(worlds, NIGHTS)
