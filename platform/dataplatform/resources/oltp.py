"""OLTP database port: the operational database whose changes leave through a transactional
outbox. `local` = a SQLite file, `aws` (and the tests) = PostgreSQL (RDS), DSN from the environment.

Both adapters take SQL with `?` placeholders (rewritten to `%s` for PostgreSQL; the platform's
statements hold no literal question marks) and give transactions that commit on success and roll
back on any error. `exclusive(name)` serialises one kind of worker (e.g. the outbox relay) across
processes: a file lock beside the SQLite file, an advisory lock on PostgreSQL; both are released
by a crash of their holder.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path

from dataplatform.locks import Busy, exclusive

BUSY_TIMEOUT_MS = 30_000


class Database(ABC):
    dialect: str

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager:
        """A connection in one transaction: `.execute(sql, params)`, `.executemany(sql, rows)`."""

    @abstractmethod
    def exclusive(self, name: str) -> contextlib.AbstractContextManager:
        """Hold the named lock for the block, or raise locks.Busy at once if another process does."""

    def execute_script(self, statements: Sequence[str]) -> None:
        """Run DDL statements in one transaction (both engines have transactional DDL)."""
        with self.transaction() as con:
            for statement in statements:
                con.execute(statement)

    def query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self.transaction() as con:
            return list(con.execute(sql, params).fetchall())


class SqliteDatabase(Database):
    """A SQLite file in WAL mode. Every transaction begins IMMEDIATE (takes the write lock), so
    transactions serialise and commit order is the order of their rowids."""

    dialect = "sqlite"

    def __init__(self, path: Path):
        self.path = Path(path)

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return con

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        con = self.connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        with exclusive(self.path.with_name(f"{self.path.name}.{name}.lock"), name, wait_seconds=0):
            yield


class _PostgresConnection:
    """A psycopg connection that takes `?` placeholders."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql: str, params: Sequence = ()):
        return self._con.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        with self._con.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, dsn: str):
        self.dsn = dsn

    def connect(self, autocommit: bool = False):
        import psycopg

        if not self.dsn:
            raise ValueError("no operational database is configured: set DATAPLATFORM_OLTP_DSN to its PostgreSQL DSN")
        return psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=10)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_PostgresConnection]:
        con = self.connect()
        try:
            with con.transaction():
                yield _PostgresConnection(con)
        finally:
            con.close()

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        con = self.connect(autocommit=True)  # the session holds the lock; its end (or crash) frees it
        try:
            if not con.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                raise Busy(name, "")
            yield
        finally:
            con.close()
