"""MoveScope's durable record: one module through which every page and command reaches the database.

SQLite file by default (``<data dir>/movescope.db``), any SQLAlchemy URL through ``DATABASE_URL`` (e.g.
PostgreSQL). SQLite runs in WAL mode with a busy timeout so two browser sessions saving at once wait for each
other instead of failing. Every write that belongs together happens in one transaction
(:meth:`Database.transaction`): an analysis and all its results are stored together or not at all.

The operations live beside this module: :mod:`core.storage.records` (patients, visits, analyses, their edits
and deletions), :mod:`core.storage.references` (reference-system measurements and their matching to
analyses), :mod:`core.storage.audit` (the log of changes). Schema changes are Alembic migrations in
``migrations/versions``, applied by :meth:`Database.migrate`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.settings import settings
from core.storage.schema import (
    Alarm,
    Analysis,
    AuditEntry,
    Base,
    Patient,
    ReferenceImport,
    ReferenceTrial,
    ReferenceValue,
    Result,
    Visit,
)

__all__ = [
    "Alarm",
    "Analysis",
    "AuditEntry",
    "Base",
    "Database",
    "Patient",
    "ReferenceImport",
    "ReferenceTrial",
    "ReferenceValue",
    "Result",
    "Visit",
    "open_database",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30
MIGRATION_LOCK_ID = 7_640_301  # PostgreSQL advisory lock: one process migrates at a time


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def _begin_immediate(connection) -> None:
    """Open SQLite's write transaction now (unless the driver already opened one)."""
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        is_sqlite = url.startswith("sqlite")
        if is_sqlite and ":///" in url and not url.endswith(":memory:"):
            Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False} if is_sqlite else {},
        )
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (default: the newest; creates the tables on a new database).

        All of one upgrade is one transaction. On SQLite foreign keys are off while it runs, as SQLite
        prescribes for schema changes: a migration that rebuilds a table (Alembic's batch mode) drops the
        old one, and with foreign keys on that drop would cascade into its child tables and delete their
        rows. The keys are checked before the commit; any row left pointing nowhere aborts the upgrade.
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        is_sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as connection:
            if is_sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction
                connection.commit()
            try:
                with connection.begin():
                    if is_sqlite:
                        # pysqlite runs DDL outside any transaction unless one is opened explicitly;
                        # IMMEDIATE also makes a second process starting at the same moment wait.
                        _begin_immediate(connection)
                    elif self.engine.dialect.name == "postgresql":
                        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    if is_sqlite:
                        dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if dangling:
                            raise RuntimeError(f"migration left rows without their parent: {dangling[:5]}")
            finally:
                if is_sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed together on success and rolled back on any error."""
        with self._sessions.begin() as session:
            if self.engine.dialect.name == "sqlite":
                # Take SQLite's write lock now, not at the first INSERT: pysqlite runs the SELECTs before
                # it outside any transaction, so two sessions could both read "next trial is 2" and write it.
                # Writers now queue (up to the busy timeout) and each reads what the previous one wrote.
                _begin_immediate(session.connection())
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


_OPEN: dict[str, Database] = {}
_OPEN_LOCK = threading.Lock()


def open_database(url: str | None = None) -> Database:
    """The process-wide database for ``url`` (default: the configured one), migrated on first use."""
    url = url or settings().database_url
    with _OPEN_LOCK:
        if url not in _OPEN:
            db = Database(url)
            db.migrate()
            _OPEN[url] = db
        return _OPEN[url]
