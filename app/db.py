"""SQLite access: one file, WAL, and every write in a ``BEGIN IMMEDIATE`` transaction.

Follows Datasette's split: reads use ordinary deferred transactions that WAL lets run
beside a writer; writes take the write lock up front (``BEGIN IMMEDIATE``) so two
writers queue on ``busy_timeout`` instead of failing half-way with SQLITE_BUSY when a
read transaction tries to upgrade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from app.settings import PACKAGE_DIR

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
BUSY_TIMEOUT_MS = 10_000


def _configure_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite would otherwise
    # start transactions lazily and never with IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # busy_timeout first: switching to WAL needs a lock that another process may hold.
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _make_engine(path: Path, begin_statement: str) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _configure_connection)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_statement)

    return engine


class Database:
    """The project's SQLite file, with a read engine and a write engine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.read_engine = _make_engine(path, "BEGIN")
        self.write_engine = _make_engine(path, "BEGIN IMMEDIATE")

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        if self.at_head():
            return
        # Here, not at the top: Alembic (with Mako) is a fifth of a command's start, and
        # a database already at the newest revision, the usual case, does not need it.
        from alembic import command

        config = alembic_config(self.path)
        engine = create_engine(f"sqlite:///{self.path}")
        try:
            with engine.connect() as connection:
                # Batch migrations rebuild tables; with foreign keys on, dropping the
                # old copy would cascade into child rows. The pragma only changes
                # outside a transaction, so set it before Alembic begins one.
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                connection.exec_driver_sql("PRAGMA journal_mode = WAL")
                connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
                connection.commit()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
        finally:
            engine.dispose()

    def at_head(self) -> bool:
        """Whether the file already holds the newest revision: read with sqlite3 alone,
        as ``alembic upgrade head`` would find nothing to do."""
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)) as db:
                rows = db.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.Error:  # a new file, or one from before Alembic
            return False
        return rows == [(head_revision(),)]

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction holds the write lock from its first statement.

        Commits on success, rolls back on any exception.
        """
        with Session(self.write_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.read_engine.dispose()
        self.write_engine.dispose()


def head_revision() -> str:
    """The newest migration's revision. Migrations are named ``{revision}_{what}.py``,
    each revising the one before (a test holds this to Alembic's own head)."""
    return max(path.name.partition("_")[0] for path in (MIGRATIONS_DIR / "versions").glob("*.py"))


def alembic_config(database_path: Path) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{database_path}")
    return config
