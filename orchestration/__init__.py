"""Dagster orchestration for tally: wires the pure transforms and the dbt project together."""

import os
import warnings

# Polars allocates through jemalloc, which reads this variable once, when Polars is loaded; this
# package is imported first by both `tally` and the Dagster code location. Polars' own setting
# returns freed memory to the system almost at once, and ingestion allocates and frees a
# file's worth of columns for every file: a 10 s decay cut its system time from 8.6 s to 3.4 s
# and its wall time by a fifth at 10M events, for 15% more peak memory (1.5 -> 1.7 GB). At 100M
# events the memory kept for reuse counts more: on 34M events of that world a 10 s decay peaked
# at 3.61 GiB (84 s), 3 s at 3.29 (86 s), 1 s at 3.11 (93 s). 2 s is the middle.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:2000,muzzy_decay_ms:2000")

# With the Spark extra installed, Great Expectations and dagster-dbt probe PySpark on import,
# and PySpark warns that it has not been tested with pandas 3 (tally hands it no pandas).
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
