"""job ids are never handed out again: the job table gets AUTOINCREMENT, so a job
started after others were deleted (with their project) takes a new id, never the id
of one whose folder, events or run still name it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-11 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _rebuild(autoincrement: bool) -> None:
    # SQLite cannot change a table's primary key in place: batch mode copies every row
    # into a new table and swaps it in (foreign keys are off meanwhile, ``Database.migrate``,
    # so the job's events and runs keep pointing at the same ids).
    with op.batch_alter_table(
        "job", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
