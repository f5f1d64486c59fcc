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


def pytest_addoption(parser):
    parser.addoption(
        "--spark-history",
        action="store_true",
        help="the Spark parity world night by night (September run and closed, then October "
        "incremental) instead of one run and a close: about 4 minutes more (make test-spark-history)",
    )


# The e2e modules, longest first (seconds each in one run of the suite on 2 cores, 2026-11-28):
# with `--dist loadscope --no-loadscope-reorder` (Makefile) a worker takes them in this order,
# so the longest starts at once and the short ones fill in at the end, rather than xdist's
# default order by number of tests, which started the Spark module (710 s) half-way through.
LONGEST_FIRST = (
    "tests/e2e/test_spark_parity.py",  # 710
    "tests/e2e/test_incremental.py",  # 294
    "tests/e2e/test_backfill.py",  # 287
    "tests/e2e/test_reliability.py",  # 251
    "tests/e2e/test_pipeline.py",  # 180
    "tests/e2e/test_fault_injection.py",  # 174
    "tests/e2e/test_worked_invoices.py",  # 154
)


def pytest_collection_modifyitems(session, config, items):
    rank = {module: n for n, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
