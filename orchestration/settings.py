"""The one place settings come from: a Dagster resource resolved at run time, never at import."""

import importlib
import threading

import dagster as dg

from lake.home import Home

# Runs started by `tally` carry this tag: their steps run in one process, and the CLI itself
# prints and sends their alerts (the alert sensors leave them alone).
CLI_TAG = {"tally/launched_by": "cli"}


def launched_by_cli(run: dg.DagsterRun) -> bool:
    return run.tags.get("tally/launched_by") == CLI_TAG["tally/launched_by"]


def import_in_background(module: str) -> None:
    """Start importing a slow module on a daemon thread, so a later step finds it loaded."""
    threading.Thread(
        target=importlib.import_module, args=(module,), name=f"import {module}", daemon=True
    ).start()


class TallySettings(dg.ConfigurableResource):
    """Where the tally home lives; every asset reaches the filesystem through this."""

    home: str = "data"
    # The warehouse engine (lake.home.ENGINES): DuckDB in-process, or Spark through dbt-spark.
    engine: str = "duckdb"
    # DuckDB spills past this; the dbt process stays under 4 GiB with its own overhead.
    duckdb_memory_limit: str = "3GB"
    # Days from an invoice's issue date to its due date (`tally close --payment-terms`).
    payment_terms_days: int = 30

    @property
    def tally_home(self) -> Home:
        return Home.at(self.home, self.engine)
