"""Alerts from a finished run: a failed step says why in one line, and counts as a step the run
could not complete."""

import dagster as dg

from orchestration.run_alerts import alerts_for_events, incomplete_steps


@dg.op
def write_pages():
    raise OSError("disk full (injected)")


@dg.op
def refuse():
    raise dg.Failure(description="not closing 2026-09: the marts are out of date")


@dg.job
def publishing():
    write_pages()
    refuse()


def test_a_failed_step_is_an_alert_with_its_reason_and_an_incomplete_step():
    result = publishing.execute_in_process(raise_on_error=False)
    alerts = alerts_for_events(result.all_events, job="nightly", partition=None, run_id="r1")
    assert sorted((a.check, a.severity, a.summary) for a in alerts) == [
        ("run:nightly:refuse", "error", "not closing 2026-09: the marts are out of date"),
        ("run:nightly:write_pages", "error", "disk full (injected)"),
    ]
    assert sorted(incomplete_steps(result.all_events)) == ["refuse", "write_pages"]
