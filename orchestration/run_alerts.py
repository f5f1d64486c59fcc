"""Alerts from a finished Dagster run: one per failed check, one per failed step.

Shared by the CLI (runs it executes in-process) and the alert sensors (scheduled runs), so an
alert looks the same whoever launched the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import dagster as dg

from publish.alerts import Alert


def _counts(metadata) -> dict[str, int]:
    out = {}
    for key, value in (metadata or {}).items():
        raw = getattr(value, "value", value)
        if isinstance(raw, int) and not isinstance(raw, bool):
            out[key] = raw
    return out


def alerts_for_events(
    events: Iterable[dg.DagsterEvent], *, job: str, partition: str | None, run_id: str
) -> list[Alert]:
    alerts = []
    for event in events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                continue
            error = evaluation.severity == dg.AssetCheckSeverity.ERROR
            # A reconciliation check names the billing periods of its findings: the alert
            # carries those, whatever partition the run was for.
            periods = (evaluation.metadata or {}).get("periods")
            alerts.append(
                Alert(
                    check=f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                    severity="error" if error else "warning",
                    partition=getattr(periods, "value", None) or partition,
                    summary=evaluation.description or "check failed",
                    counts=_counts(evaluation.metadata),
                    run_id=run_id,
                )
            )
        elif event.event_type_value == "STEP_FAILURE":
            message = _reason(event.event_specific_data)
            alerts.append(
                Alert(
                    check=f"run:{job}:{event.step_key}",
                    severity="error",
                    partition=partition,
                    summary=message.strip().splitlines()[0][:500],
                    run_id=run_id,
                )
            )
    return alerts


def _reason(failure) -> str:
    """Why a step failed, from the error that ended it: an exception in a step's own code is
    wrapped by Dagster ("Error occurred while executing op ..."), and its cause says more."""
    error = getattr(failure, "error", None)
    wrapped = getattr(error, "cls_name", None) == "DagsterExecutionStepExecutionError"
    if wrapped and error.cause is not None:
        error = error.cause
    message = getattr(error, "message", "") or "step failed"
    # "dagster._core.definitions.events.Failure: not closing ..." -> "not closing ..."
    return re.sub(r"^[A-Za-z_][\w.]*: ", "", message.strip())


def incomplete_steps(events: Iterable[dg.DagsterEvent]) -> list[str]:
    """The steps that failed for a reason other than a failed error check of their own (dbt's
    step fails when an error test does, and the run still wrote everything): the run could not
    complete them."""
    events = list(events)
    checked = {
        e.step_key
        for e in events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.event_specific_data.passed
        and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
    }
    return [
        e.step_key
        for e in events
        if e.event_type_value == "STEP_FAILURE" and e.step_key not in checked
    ]


def run_partition(tags: dict[str, str]) -> str | None:
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start and end else None
