"""measurements: what each dry run measured on a GPU, for calibrating the estimates

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "measurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gpu_name", text, nullable=False),
        sa.Column("family", text, nullable=False),
        sa.Column("backend", text, nullable=False),
        sa.Column("project", text, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("precision", text, nullable=False),
        sa.Column("gradient_checkpointing", sa.Boolean(), nullable=False),
        sa.Column("attention", text, nullable=False),
        sa.Column("optimizer", text, nullable=False),
        sa.Column("quantize_base", text, nullable=False),
        sa.Column("full_bf16", sa.Boolean(), nullable=False),
        sa.Column("blocks_to_swap", sa.Integer(), nullable=False),
        sa.Column("cpu_offload", sa.Boolean(), nullable=False),
        sa.Column("cache_latents", sa.Boolean(), nullable=False),
        sa.Column("cache_text_encoder_outputs", sa.Boolean(), nullable=False),
        sa.Column("train_text_encoder", sa.Boolean(), nullable=False),
        sa.Column("estimated_vram_gb", sa.Float(), nullable=False),
        sa.Column("measured_vram_gb", sa.Float(), nullable=True),
        sa.Column("estimated_seconds_per_step", sa.Float(), nullable=True),
        sa.Column("measured_seconds_per_step", sa.Float(), nullable=True),
        sa.Column("measured_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.create_index("ix_measurement_gpu_name", ["gpu_name"], unique=False)
        batch_op.create_index("ix_measurement_measured_at", ["measured_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.drop_index("ix_measurement_measured_at")
        batch_op.drop_index("ix_measurement_gpu_name")
    op.drop_table("measurement")
