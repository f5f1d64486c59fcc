"""Progress on `run`, `close` and `demo`: steps as they start and end with the time
since the command began, dbt's models and tests counted as they finish."""

import io
import logging
from types import SimpleNamespace

from cli.progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _event(kind: str, step: str | None = None):
    return SimpleNamespace(dagster_event=SimpleNamespace(event_type_value=kind), step_key=step)


def _log(message: str, level: int = logging.INFO, step: str | None = None):
    return SimpleNamespace(dagster_event=None, step_key=step, level=level, user_message=message)


def _run(progress: Progress, clock: Clock, nodes: int = 4, seconds_each: float = 2.0) -> None:
    for _ in range(nodes - 1):
        progress.on_event(_event("ASSET_MATERIALIZATION_PLANNED", "tally_dbt_models"))
    progress.on_event(_event("ASSET_CHECK_EVALUATION_PLANNED", "tally_dbt_models"))
    progress.on_event(_event("ASSET_MATERIALIZATION_PLANNED", "ingest_usage"))
    progress.on_event(_event("PIPELINE_START"))
    progress.on_event(_event("STEP_START", "ingest_usage"))
    clock.now += 3.25
    progress.on_event(_event("ASSET_MATERIALIZATION", "ingest_usage"))
    progress.on_event(_event("STEP_SUCCESS", "ingest_usage"))
    progress.on_event(_event("STEP_START", "tally_dbt_models"))
    for i in range(nodes):
        clock.now += seconds_each
        kind = "ASSET_CHECK_EVALUATION" if i == nodes - 1 else "ASSET_MATERIALIZATION"
        progress.on_event(_log("a log line"))
        progress.on_event(_event(kind, "tally_dbt_models"))
    progress.on_event(_event("STEP_SUCCESS", "tally_dbt_models"))


def test_piped_progress_is_plain_lines_with_counts_a_few_seconds_apart():
    out, clock = io.StringIO(), Clock()
    _run(Progress(out, tty=False, every=5.0, clock=clock), clock)
    assert out.getvalue().splitlines() == [
        "  [00:00] run started",
        "  [00:00] ingest new usage exports ...",
        "  [00:03] ingest new usage exports: done in 3.2 s",
        "  [00:03] dbt: 4 models and tests ...",
        "  [00:05] dbt: 1 of 4 models and tests",
        # 2 and 3 of 4 are 2 and 4 s later: no line yet; the last one always has one
        "  [00:11] dbt: 4 of 4 models and tests",
        "  [00:11] dbt: 4 models and tests: done in 8.0 s",
    ]


def test_a_terminal_gets_a_bar_for_dbt_and_the_same_step_lines():
    out, clock = io.StringIO(), Clock()
    _run(Progress(out, tty=True, clock=clock), clock)
    text = out.getvalue()
    assert "\r" in text and "models and tests" in text  # the bar, redrawn in place
    assert "dbt: 1 of 4" not in text
    assert text.rstrip().endswith("[00:11] dbt: 4 models and tests: done in 8.0 s")


def test_a_failed_step_says_so():
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, tty=False, clock=clock)
    progress.on_event(_event("STEP_START", "issue_invoices"))
    clock.now += 1
    progress.on_event(_event("STEP_FAILURE", "issue_invoices"))
    assert (
        out.getvalue().splitlines()[-1] == "  [00:01] issue the month's invoices: FAILED in 1.0 s"
    )


def test_output_that_is_gone_stops_progress_and_never_the_run():
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, tty=False, clock=clock)
    out.close()  # a closed pipe
    _run(progress, clock)  # raises nothing
    assert progress.gone


def test_a_long_ingestion_counts_its_files_a_few_seconds_apart():
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, tty=True, every=5.0, clock=clock)
    progress.on_event(_event("STEP_START", "ingest_usage"))
    # A file not read (its content is already ingested) is logged before the files read.
    progress.on_event(
        _log("[4/4] again.csv: not read, its content is already", step="ingest_usage")
    )
    for n in range(1, 4):
        clock.now += 2.0
        progress.on_event(
            _log(f"[{n}/4] 2026/09/0{n}/usage.csv: 10 rows, 9 accepted", step="ingest_usage")
        )
        progress.on_event(_log("stage: reading", step="ingest_usage"))  # not a file: not shown
        progress.on_event(_log(f"[{n}/4] not ingestion", step="reconciliation"))
    progress.on_event(_event("STEP_SUCCESS", "ingest_usage"))
    assert out.getvalue().splitlines() == [
        "  [00:00] ingest new usage exports ...",
        "  [00:00] ingest new usage exports: 1 of 4 files",
        # 2 and 3 of 4 are 2 and 4 s after the first: no line yet; the last one always has one
        "  [00:06] ingest new usage exports: 4 of 4 files",
        "  [00:06] ingest new usage exports: done in 6.0 s",
    ]


def test_a_warning_a_step_logs_is_shown_as_it_comes():
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, tty=False, clock=clock)
    clock.now = 7
    progress.on_event(_log("warehouse/incremental.duckdb cannot be read", logging.WARNING))
    progress.on_event(_log("dbt: using the parse made while the exports were read"))
    skipped = "Dependencies for step publish were not executed: ['tally_dbt_models_2']."
    progress.on_event(_log(skipped, logging.WARNING))  # Dagster's own note after a failure
    assert out.getvalue() == "  [00:07] warning: warehouse/incremental.duckdb cannot be read\n"
