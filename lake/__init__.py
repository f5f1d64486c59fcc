"""The lake: tally's home on disk, the schemas of every table it holds, and atomic Parquet I/O.

Every entry point (the `tally` command, the Dagster code location) imports this package before
anything loads Polars, which is why the process settings below live here.
"""

import os
import warnings

# Polars allocates through jemalloc, which reads this variable once, when Polars is loaded.
# Polars' own setting returns freed memory to the system almost at once, and ingestion allocates
# and frees a file's worth of columns for every file: a decay of a few seconds keeps that memory
# for the next file (much less system time) for a little more peak memory. docs/DECISIONS.md
# ("jemalloc's decay") has the measurements behind 2 s.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:2000,muzzy_decay_ms:2000")

# With the Spark extra installed, Great Expectations and dagster-dbt probe PySpark on import,
# and PySpark warns that it has not been tested with pandas 3 (tally hands it no pandas).
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
