"""The SQLite engine of the run database: WAL journal, foreign keys, a busy timeout.

Every connection the pool opens runs, once, on connect:

- ``PRAGMA journal_mode=WAL``: readers (the report, the dashboard) never block the writer;
- ``PRAGMA synchronous=NORMAL``: in WAL mode a commit survives a process crash; only an OS crash or
  power loss can lose the last commits, never corrupt the file (SQLite docs, "WAL" §"Performance
  Considerations");
- ``PRAGMA foreign_keys=ON``: a row naming a missing run is refused;
- ``PRAGMA busy_timeout=5000``: wait up to 5 s for another process's write lock instead of failing
  at once with "database is locked".

Transactions are explicit: the driver's own implicit BEGIN (which Python's ``sqlite3`` emits
only before DML) is turned off and SQLAlchemy emits ``BEGIN`` when a transaction starts, so that
reads and writes of one ``Session.begin()`` block are one SQLite transaction (the recipe of
SQLAlchemy's SQLite dialect docs, "Serializable isolation / Savepoints / Transactional DDL").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

BUSY_TIMEOUT_MS = 5000


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(path: Path) -> Engine:
    """An engine on the SQLite file ``path`` (created on first connect) with the pragmas above.

    The caller creates the parent directory. Raises ``sqlalchemy.exc.OperationalError`` on the
    first connect when the file cannot be opened (e.g. a directory, or no permission).
    """
    engine = create_engine(f"sqlite+pysqlite:///{path}")
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def writer(engine: Engine) -> Engine:
    """``engine`` for write transactions: they BEGIN IMMEDIATE, taking the write lock at once,
    where the busy timeout applies. A deferred transaction that reads, then writes after another
    connection committed, fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT in WAL
    mode: no busy handler is called) — and the executor writes from several threads and
    processes (store, order journal, command bus)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")
