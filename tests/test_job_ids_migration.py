"""Migration 0008: the job table gets AUTOINCREMENT, every job, event and run kept."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alembic import command

from app.db import Database, alembic_config

PROJECT = (
    "INSERT INTO project (id, slug, name, training_type, trigger_word, base_model, "
    "model_family, caption_format, backend, must_vary, must_stay, created_at, "
    "updated_at) VALUES (1, 'ink', 'Ink', 'style', 'zq', '/m', 'sd15', 'booru', 'native', '', '', "
    "'2026-12-01 10:00:00', '2026-12-01 10:00:00')"
)


def _job(job_id: int, state: str) -> str:
    return (
        "INSERT INTO job (id, project_id, kind, title, state, params, done, total, message, "
        "result, error, cancel_requested, events_path, log_path, events_offset, created_at, "
        f"updated_at) VALUES ({job_id}, 1, 'dataset.audit', 'Auditing', '{state}', '{{}}', 3, "
        f"3, '', '{{\"job\": {job_id}}}', '', 0, '/d/jobs/{job_id}/events.jsonl', "
        f"'/d/jobs/{job_id}/log.txt', 40, '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
    )


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def _job_table_sql(path: Path) -> str:
    return str(_rows(path, "SELECT sql FROM sqlite_master WHERE name = 'job'")[0][0])


def test_0008_keeps_every_job_and_never_hands_a_deleted_jobs_id_out_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "at-0007.db"
    command.upgrade(alembic_config(path), "0007")  # as loragate before 0008 left it
    with closing(sqlite3.connect(path)) as db:
        db.execute(PROJECT)
        for job_id, state in ((1, "done"), (2, "failed"), (3, "interrupted")):
            db.execute(_job(job_id, state))
            db.execute(
                "INSERT INTO jobevent (job_id, type, data, file_end) "
                f"VALUES ({job_id}, 'end', '{{}}', 40)"
            )
        db.execute(
            "INSERT INTO run (project_id, number, backend, config, config_digest, "
            "config_version, command, gate_fingerprints, estimate, state, message, step, "
            "total_steps, checkpoints, output_files, rungs, question, seconds, hourly_cost, "
            "currency, cost, job_id, job_ids, created_at, updated_at) VALUES (1, 1, 'native', "
            "'{}', 'd', 1, '', '{}', '{}', 'failed', '', 0, 10, '[]', '[]', '[]', '{}', 0, 0, "
            "'', 0, 3, '[3]', '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
        )
        db.commit()
    jobs_before = _rows(path, "SELECT * FROM job ORDER BY id")
    assert "AUTOINCREMENT" not in _job_table_sql(path)

    database = Database(path)
    database.migrate()
    database.dispose()

    assert "AUTOINCREMENT" in _job_table_sql(path)
    assert _rows(path, "SELECT * FROM job ORDER BY id") == jobs_before
    assert _rows(path, "SELECT job_id FROM jobevent ORDER BY job_id") == [(1,), (2,), (3,)]
    assert _rows(path, "SELECT job_id FROM run") == [(3,)]
    index_names = {row[1] for row in _rows(path, "PRAGMA index_list('job')")}
    assert {"ix_job_state", "ix_job_kind", "ix_job_project_id", "ix_job_created_at"} <= index_names
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM job WHERE id = 3")
        db.execute(_job(0, "queued").replace("VALUES (0,", "VALUES (NULL,"))
        db.commit()
    assert _rows(path, "SELECT max(id) FROM job") == [(4,)]

    command.downgrade(alembic_config(path), "0007")
    assert "AUTOINCREMENT" not in _job_table_sql(path)
    assert [row[0] for row in _rows(path, "SELECT id FROM job ORDER BY id")] == [1, 2, 4]
