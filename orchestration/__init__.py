"""Dagster: the code location (definitions.py loads defs/), and running its jobs in this process
(runner.py) for the `tally` command."""

import lake  # noqa: F401 - sets Polars' allocator before anything loads Polars (lake/__init__.py)
