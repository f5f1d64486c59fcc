"""Alerts from a finished Dagster run: one per failed check, one per failed step.

Shared by the CLI (runs it executes in-process) and the alert sensors (scheduled runs), so an
alert looks the same whoever launched the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import dagster as dg

from orchestration.alerts import Alert


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
            failure = event.event_specific_data
            message = getattr(getattr(failure, "error", None), "message", "") or "step failed"
            # "dagster._core.definitions.events.Failure: not closing ..." -> "not closing ..."
            message = re.sub(r"^[A-Za-z_][\w.]*: ", "", message.strip())
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


def run_partition(tags: dict[str, str]) -> str | None:
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start and end else None
