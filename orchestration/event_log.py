"""Dagster's SQLite event log, with a connection kept open per database file.

Dagster stores every event of a run (a dbt model built, a test passed, a step started: about
four hundred for one nightly) in SQLite, in a database per run and an index beside them. Its
SQLite storage makes a new engine and connection for every event and throws both away after,
which cost about a fifth of a small home's `tally run`: the run's thread that stores the
events is the one reading dbt's output, so dbt waited on it (docs/DECISIONS.md, "Dagster's
event log keeps a connection per database file").

This storage is the same files, tables and queries (`SqliteEventLogStorage`); it only keeps
one engine (a small connection pool) per database file, for the files used last, and writes
with `synchronous=NORMAL`: a killed process loses nothing it committed, an operating-system
crash may lose the last events of a run (the lake and warehouse keep their own commits). The
home's `dagster.yaml` names it (orchestration/runner.py), so the CLI and the UI use it alike.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

import sqlalchemy as sa
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME

# Database files with an open engine: the index and the runs written or read last. A CLI
# command uses one or two runs; the UI reads many, and closes the ones it left longest ago.
OPEN_FILES = 8


def _write_with_normal_sync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("pragma synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with an engine kept per database file (see the module)."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)  # Dagster's names its own class

    def run_connection(self, run_id: str | None = None):
        return self._connection(run_id, super().run_connection, run_id)

    def index_connection(self):
        return self._connection(INDEX_SHARD_NAME, super().index_connection)

    @contextlib.contextmanager
    def _connection(self, shard: str | None, first, *args) -> Iterator[sa.Connection]:
        """A connection in a transaction, as Dagster's own are, one at a time (as Dagster's).
        The first use of a file in this process goes through Dagster, which creates the
        database and its tables when missing; later uses reuse the file's engine."""
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                with first(*args) as conn:
                    yield conn
                self._keep(shard)
                return
            self._engines.move_to_end(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _keep(self, shard: str | None) -> None:
        engine = sa.create_engine(
            self.conn_string_for_shard(shard), connect_args={"timeout": 30}, pool_size=1
        )
        sa.event.listen(engine, "connect", _write_with_normal_sync)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_FILES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()

    def _close_all(self) -> None:
        with self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()  # the files are removed: no connection may outlive them
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
