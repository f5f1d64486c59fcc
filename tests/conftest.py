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


# The longest module first: with `--dist loadscope` a worker takes it at once, and the other
# worker runs the rest meanwhile instead of waiting for it at the end.
LONGEST = "tests/e2e/test_spark_parity.py"


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.nodeid.split("::")[0] != LONGEST)
