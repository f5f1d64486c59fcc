"""tally's own reads of a Spark warehouse (SPEC 3a): the checks, month close, the summary and
`tally query` on `--engine spark`.

dbt builds the tables in its own process, with a Spark session whose catalog is a Derby
metastore under the home (`warehouse/spark/metastore_db`). Derby lets one process open a
metastore at a time, so a reader here opens a copy of it, taken when the reader starts: the
build is never locked out by a reader that is still open, and the reader sees the tables as
the last build left them. The copy is a few megabytes; the tables' files are read in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from lake.home import Home
from orchestration.defs.dbt.profile import spark_parameters
from orchestration.reader import MissingTable


class SparkReader:
    """Read-only SQL against the warehouse's Spark tables, answered as Polars frames."""

    def __init__(self, session):
        self._session = session

    def frame(self, sql: str, **params) -> pl.DataFrame:
        from pyspark.errors import AnalysisException

        try:
            table = self._session.sql(sql, args=_spark_values(params) or None).toArrow()
        except AnalysisException as exc:
            if "TABLE_OR_VIEW_NOT_FOUND" in str(exc):
                raise MissingTable(str(exc).splitlines()[0]) from None
            raise
        return pl.from_arrow(table)

    def rows(self, sql: str, **params) -> list[tuple]:
        return self.frame(sql, **params).rows()


def _spark_values(params: dict) -> dict:
    # Spark binds a date parameter as a date literal; datetimes must carry their zone.
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in params.items()}


@contextlib.contextmanager
def spark_reader(home: Home) -> Iterator[SparkReader]:
    """A Spark session on a copy of the home's catalog, stopped (and the copy removed) after."""
    from pyspark.sql import SparkSession

    # A failed query is reported by the caller in one line; PySpark would also log it whole.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)

    with tempfile.TemporaryDirectory(prefix="tally-spark-catalog-") as scratch:
        metastore = Path(scratch) / "metastore_db"
        shutil.copytree(
            home.warehouse_folder / "metastore_db",
            metastore,
            ignore=shutil.ignore_patterns("*.lck"),  # the build's locks, not the catalog
        )
        builder = SparkSession.builder.enableHiveSupport().appName("tally-reader")
        for key, value in spark_parameters(home, metastore=metastore).items():
            builder = builder.config(key, value)
        # A reader needs less than a build (the profile's driver memory is dbt's).
        builder = builder.config("spark.driver.memory", "1g")
        session = builder.getOrCreate()
        try:
            yield SparkReader(session)
        finally:
            session.stop()
