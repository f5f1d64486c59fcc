"""A run with nothing new repeats the last run's outcome only while the marts are as it left
them."""

from cli.outcome import record, standing
from lake.freshness import mark_building, mark_built
from lake.home import Home


def test_the_last_outcome_stands_until_the_marts_are_built_again(tmp_path):
    home = Home.at(tmp_path)
    home.warehouse.parent.mkdir(parents=True)
    assert standing(home) is None  # no run yet
    mark_built(home, "models-v1")
    record(home, 3, {"error": [], "warning": ["fct_billing_mismatches:agrees"]}, "run-1")
    outcome = standing(home)
    assert outcome is not None
    assert (outcome.status, outcome.run_id) == (3, "run-1")
    assert outcome.failed_checks["warning"] == ["fct_billing_mismatches:agrees"]

    mark_built(home, "models-v2")  # built since (from the UI, by a schedule, ...)
    assert standing(home) is None
    record(home, 0, {"error": [], "warning": []}, "run-2")
    mark_building(home)  # a build started and did not finish
    assert standing(home) is None
