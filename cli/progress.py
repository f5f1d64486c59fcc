"""What `tally run`, `close` and `demo` show while they work: each step as it starts
and ends, with the time since the command began, and dbt's models and tests counted as they
finish: a bar on a terminal, a line every few seconds when the output is piped or logged.

Dagster is the channel: `Progress.on_event` listens to the run's events (the steps' start and
end, the assets and checks each step plans and then records), so nothing in the assets knows
it is being watched. `--quiet` simply attaches no listener.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import Counter
from typing import TextIO

# What each step of the jobs is called on the screen (any other step: its key).
STEP_NAMES = {
    "price_book": "price book",
    "reference_data": "reference data",
    "ingest_usage": "ingest new usage exports",
    "reconciliation": "reconciliation checks",
    "usage_events_usage_events_expectations": "data-quality checks: usage events",
    "fct_invoices_invoices_expectations": "data-quality checks: invoices",
    "issue_invoices": "issue the month's invoices",
    "publish": "spend notifications and reports",
}
# The steps whose assets and checks finish one by one: dbt's models and tests (the month close
# runs dbt twice: the audit before issuing, the models that read the issued invoices after).
DBT_STEPS = "tally_dbt_models"
PLANNED = ("ASSET_MATERIALIZATION_PLANNED", "ASSET_CHECK_EVALUATION_PLANNED")
FINISHED = ("ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION")
# Ingestion logs each landing file as it is done, `[12/32] 2026/09/03/usage.csv: ...`
# (lake/ingest.py): a long first load shows its files counted.
INGEST_STEP = "ingest_usage"
FILE_DONE = re.compile(r"^\[(\d+)/(\d+)\] ")


# Dagster's own notes on steps it skips after a failure: the failure is shown already.
DAGSTER_NOTES = ("Dependencies for step ",)


def _dagsters_own(message: str) -> bool:
    return message.startswith(DAGSTER_NOTES)


class Progress:
    """Prints a command's progress to `out` (the terminal, or the pipe). `tty` and `clock` are
    for tests; `every` is how many seconds apart piped count lines are at least."""

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        tty: bool | None = None,
        every: float = 5.0,
        clock=time.monotonic,
    ):
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.every = every
        self.clock = clock
        self.began = clock()
        self.planned: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self.step_began: dict[str, float] = {}
        self.last_count_line = float("-inf")
        self.last_file_line = float("-inf")
        self.files_done = 0
        self.bar = None
        self.gone = False

    def say(self, text: str) -> None:
        """One line, stamped with the time since the command began."""
        minutes, seconds = divmod(int(self.clock() - self.began), 60)
        print(f"  [{minutes:02d}:{seconds:02d}] {text}", file=self.out, flush=True)

    def on_event(self, entry) -> None:
        """A Dagster event of the run (an EventLogEntry). Showing progress never fails a run:
        when the output is gone (a closed pipe), progress stops and the run goes on."""
        if self.gone:
            return
        try:
            self._on_event(entry)
        except (OSError, ValueError):
            self.gone = True

    def _on_event(self, entry) -> None:
        event = entry.dagster_event
        if event is None:  # a log line: ingestion's files, and the steps' warnings, are shown
            if entry.level >= logging.WARNING and not _dagsters_own(entry.user_message or ""):
                self.say(f"warning: {entry.user_message}")
            elif entry.step_key == INGEST_STEP:
                self._file_done(entry.user_message or "")
            return
        kind, step = event.event_type_value, entry.step_key
        counted = (step or "").startswith(DBT_STEPS)
        if kind in PLANNED:
            self.planned[step] += 1
        elif kind == "PIPELINE_START":  # the run has started
            self.say("run started")
        elif kind == "STEP_START":
            self.step_began[step] = self.clock()
            self.say(f"{self._name(step)} ...")
            if counted and self.tty and self.planned[step]:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=self.planned[step],
                    desc="          dbt",
                    unit=" models and tests",
                    file=self.out,
                    leave=False,
                    dynamic_ncols=True,
                )
        elif kind in FINISHED and counted:
            self.finished[step] += 1
            self._count(step)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            self._close_bar()
            seconds = self.clock() - self.step_began.get(step, self.clock())
            outcome = "done" if kind == "STEP_SUCCESS" else "FAILED"
            self.say(f"{self._name(step)}: {outcome} in {seconds:.1f} s")

    def _name(self, step: str | None) -> str:
        if (step or "").startswith(DBT_STEPS):
            return f"dbt: {self.planned[step]} models and tests"
        return STEP_NAMES.get(step or "", step or "run")

    def _count(self, step: str) -> None:
        done, total = self.finished[step], self.planned[step]
        if self.bar is not None:
            self.bar.update(1)
            return
        now = self.clock()
        if done == total or now - self.last_count_line >= self.every:
            self.last_count_line = now
            self.say(f"dbt: {done} of {total} models and tests")

    def _file_done(self, message: str) -> None:
        done = FILE_DONE.match(message)
        if done is None:
            return
        # Files are logged as they are done, the ones not read (content already ingested) first.
        self.files_done += 1
        total, now = int(done[2]), self.clock()
        if self.files_done == total or now - self.last_file_line >= self.every:
            self.last_file_line = now
            self.say(f"{STEP_NAMES[INGEST_STEP]}: {self.files_done} of {total} files")

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
