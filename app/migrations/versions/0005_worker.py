"""the worker: jobs run in child processes (params, GPU, process identity, event and
log files, tail offset) and their stored events

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("gpu", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("cancel_requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("process_started", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "events_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column(
                "log_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column("events_offset", sa.Integer(), nullable=False, server_default="0")
        )
    # server_default only filled the existing rows; the models give the defaults.
    with op.batch_alter_table("job", schema=None) as batch_op:
        for name in ("params", "events_path", "log_path", "events_offset"):
            batch_op.alter_column(name, server_default=None)

    op.create_table(
        "jobevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("file_end", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobevent", schema=None) as batch_op:
        batch_op.create_index("ix_jobevent_job_id_id", ["job_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobevent", schema=None) as batch_op:
        batch_op.drop_index("ix_jobevent_job_id_id")
    op.drop_table("jobevent")
    with op.batch_alter_table("job", schema=None) as batch_op:
        for name in (
            "events_offset",
            "log_path",
            "events_path",
            "process_started",
            "pid",
            "cancel_requested_at",
            "gpu",
            "params",
        ):
            batch_op.drop_column(name)
