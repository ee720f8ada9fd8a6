"""projects, journal events and gate results

Revision ID: 0001
Revises:
Create Date: 2026-11-28 18:44:18.652207
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("training_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("trigger_word", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("base_model", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("model_family", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("caption_format", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("backend", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("must_vary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("must_stay", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_slug"), ["slug"], unique=True)

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_project_id"), ["project_id"], unique=False)

    op.create_table(
        "gaterecord",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("gate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("fingerprint_parts", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gaterecord", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gaterecord_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_gaterecord_gate"), ["gate"], unique=False)
        batch_op.create_index(batch_op.f("ix_gaterecord_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gaterecord", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gaterecord_project_id"))
        batch_op.drop_index(batch_op.f("ix_gaterecord_gate"))
        batch_op.drop_index(batch_op.f("ix_gaterecord_created_at"))

    op.drop_table("gaterecord")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_project_id"))
        batch_op.drop_index(batch_op.f("ix_event_kind"))
        batch_op.drop_index(batch_op.f("ix_event_created_at"))

    op.drop_table("event")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_slug"))

    op.drop_table("project")
