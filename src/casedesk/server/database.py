"""Connections to the case database: SQLite in WAL mode with full fsync by default.

Writers open their transaction with `BEGIN IMMEDIATE`, so two writers never
interleave and an action, its log entry and its idempotency record commit
together or not at all. Readers use plain deferred transactions and are not
blocked by writers (WAL).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from casedesk.server.schema import metadata, organizations

BUSY_TIMEOUT_MS = 30_000


class Database:
    """The case database: one engine for reads, one whose transactions take the write lock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._reader = self._engine(immediate=False)
        self._writer = self._engine(immediate=True)
        metadata.create_all(self._writer)

    @classmethod
    def in_directory(cls, data_dir: Path) -> "Database":
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{data_dir / 'casedesk.db'}")

    def _engine(self, *, immediate: bool) -> Engine:
        engine = create_engine(self.url)
        if engine.dialect.name != "sqlite":
            return engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN is ours to issue.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for reading."""
        with self._reader.begin() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self._writer.begin() as connection:
            yield connection

    def is_empty(self) -> bool:
        with self.read() as connection:
            return connection.execute(organizations.select().limit(1)).first() is None

    def dispose(self) -> None:
        self._reader.dispose()
        self._writer.dispose()
