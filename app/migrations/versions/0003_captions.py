"""captions, caption batches and revisions, concept repeats

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 20:03:21
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "captionbatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("undone_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("captionbatch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_captionbatch_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_captionbatch_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "conceptrepeats",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("concept", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "concept"),
    )
    op.create_table(
        "caption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("sidecar_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sidecar_mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["datasetimage.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("image_id"),
    )
    with op.batch_alter_table("caption", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_caption_project_id"), ["project_id"], unique=False)

    op.create_table(
        "captionrevision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("caption_id", sa.Integer(), nullable=True),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("existed", sa.Boolean(), nullable=False),
        sa.Column("before_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("before_status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("before_source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("before_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("after_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["captionbatch.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["caption_id"], ["caption.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["image_id"], ["datasetimage.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("captionrevision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_captionrevision_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("captionrevision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captionrevision_batch_id"))

    op.drop_table("captionrevision")
    with op.batch_alter_table("caption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caption_project_id"))

    op.drop_table("caption")
    op.drop_table("conceptrepeats")
    with op.batch_alter_table("captionbatch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captionbatch_project_id"))
        batch_op.drop_index(batch_op.f("ix_captionbatch_created_at"))

    op.drop_table("captionbatch")
