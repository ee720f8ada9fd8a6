from __future__ import annotations

import threading
import time
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel, select

import app.models  # noqa: F401
from app.db import Database, alembic_config, head_revision
from app.models import Event, Project


def test_migrations_run_from_empty_and_match_the_models(tmp_path: Path) -> None:
    db = Database(tmp_path / "fresh.db")
    db.migrate()
    db.migrate()  # idempotent: a second start changes nothing
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    db.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_the_newest_revision_is_read_from_file_names_as_alembic_reads_it() -> None:
    """Database.migrate skips Alembic when the file holds head_revision()."""
    assert ScriptDirectory.from_config(alembic_config(Path("unused.db"))).get_heads() == [
        head_revision()
    ]


def test_a_database_behind_the_newest_revision_is_brought_up_to_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    db.migrate()
    assert db.at_head()
    command.downgrade(alembic_config(path), "-1")  # as an older loragate left it
    assert not db.at_head()
    db.migrate()
    assert db.at_head()
    with db.writing() as session:  # the newest revision's tables are back
        session.exec(text("SELECT count(*) FROM jobevent")).one()
    db.dispose()


def test_connection_pragmas(tmp_path: Path) -> None:
    db = Database(tmp_path / "p.db")
    db.migrate()
    with db.reading() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    db.dispose()


def _project(slug: str) -> Project:
    return Project(
        slug=slug,
        name=slug,
        training_type="style",
        trigger_word="zq",
        base_model="/m",
        model_family="sd15",
        caption_format="booru",
    )


def test_writes_queue_instead_of_failing(tmp_path: Path) -> None:
    """Two writers at once: the second waits for the first (BEGIN IMMEDIATE + busy
    timeout) instead of failing with 'database is locked'."""
    db = Database(tmp_path / "w.db")
    db.migrate()
    started = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with db.writing() as session:
                session.add(_project("first"))
                session.flush()
                started.set()
                time.sleep(0.5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    started.wait(5)
    with db.writing() as session:
        session.add(_project("second"))
    thread.join()
    assert errors == []
    with db.reading() as session:
        assert sorted(p.slug for p in session.exec(select(Project))) == ["first", "second"]
    db.dispose()


def test_write_transaction_holds_the_lock_from_its_start(tmp_path: Path) -> None:
    db = Database(tmp_path / "l.db")
    db.migrate()
    with db.writing() as session:
        session.exec(select(Project)).all()  # only a read so far
        other = create_engine(f"sqlite:///{tmp_path / 'l.db'}", connect_args={"timeout": 0})
        with other.connect() as connection:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                locked = False
            except Exception as exc:
                locked = "locked" in str(exc)
        other.dispose()
    assert locked, "a read inside writing() must already hold the write lock"
    db.dispose()


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "r.db")
    db.migrate()
    try:
        with db.writing() as session:
            session.add(_project("doomed"))
            session.flush()
            raise RuntimeError("crash mid-transaction")
    except RuntimeError:
        pass
    with db.reading() as session:
        assert session.exec(select(Project)).all() == []
    db.dispose()


def test_deleting_a_project_cascades_to_its_journal(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.db")
    db.migrate()
    with db.writing() as session:
        project = _project("p")
        session.add(project)
        session.flush()
        session.add(Event(project_id=project.id, kind="k", message="m"))
    with db.writing() as session:
        session.connection().execute(text("DELETE FROM project"))
    with db.reading() as session:
        assert session.exec(select(Event)).all() == []
    db.dispose()
