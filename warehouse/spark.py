"""tally's own reads of a Spark warehouse: the checks, month close, the summary and
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
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from lake.home import Home
from warehouse.dbt import spark_parameters
from warehouse.reader import MissingTable, QueryLimits, QueryRefused


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

    def use(self, schema: str) -> None:
        """Look for tables named without a schema in `schema`."""
        self._session.catalog.setCurrentDatabase(schema)

    def cancel(self) -> None:
        """Stop every Spark job of this reader now (from another thread)."""
        self._session.sparkContext.cancelAllJobs()


def spark_query(home: Home, sql: str, limits: QueryLimits) -> pl.DataFrame:
    """`tally query` on Spark (warehouse.reading.query): the driver gets the memory of
    `limits` (the query and its result live there), and the query's jobs are cancelled at its
    time limit."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    stopped = threading.Event()
    try:
        with spark_reader(home, driver_memory=f"{limits.memory_bytes // 1024**2}m") as spark:
            timer = threading.Timer(limits.seconds, lambda: (stopped.set(), spark.cancel()))
            timer.start()
            try:
                spark.use("marts")  # a table named without its schema is a mart
                return spark.frame(sql)
            finally:
                timer.cancel()
    except (PySparkException, Py4JError, MissingTable) as exc:
        text = str(exc).strip()
        if stopped.is_set():
            raise limits.past_time() from None
        if "OutOfMemoryError" in text:
            raise limits.past_memory() from None
        raise QueryRefused(f"query failed: {text.splitlines()[0] if text else exc!r}") from None


def _spark_values(params: dict) -> dict:
    # Spark binds a date parameter as a date literal; datetimes must carry their zone.
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in params.items()}


@contextlib.contextmanager
def spark_reader(home: Home, driver_memory: str = "1g") -> Iterator[SparkReader]:
    """A Spark session on a copy of the home's catalog, stopped (and the copy removed) after.
    A reader needs less memory than a build (the profile's driver memory is dbt's)."""
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
        builder = builder.config("spark.driver.memory", driver_memory)
        session = builder.getOrCreate()
        try:
            yield SparkReader(session)
        finally:
            session.stop()
