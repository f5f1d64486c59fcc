import os
import sys

# The machines are offline: no telemetry from dbt or Dagster in any test.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

# With the Spark extra installed, Great Expectations imports PySpark's Connect module, which
# ends the process (SystemExit 0) when `__main__` has neither a spec nor a file: it takes that
# for its own doctests. pytest-xdist's workers run from such a `__main__`; `tally` and the
# Dagster code server do not.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"


# The e2e modules, longest first: with `--dist loadscope --no-loadscope-reorder` (Makefile) a
# worker takes them in this order, so the longest start at once and the short ones fill in at
# the end. The worked world is shared by test_backfill and test_worked_invoices: the first to
# ask builds it, and the other waits for that build, so they do not start together.
LONGEST_FIRST = (
    "tests/e2e/test_incremental.py",
    "tests/e2e/test_backfill.py",
    "tests/e2e/test_pipeline.py",
    "tests/e2e/test_reliability.py",
    "tests/e2e/test_fault_injection.py",
    "tests/e2e/test_worked_invoices.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {module: n for n, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
