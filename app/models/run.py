"""Training runs: one row per run of a project, numbered 1, 2, … within it. A run keeps
what it was started with (config, backend, command, the gates' fingerprints, the
confirmed estimate), where it stands, what it wrote and what it cost; its files live in
``<project>/runs/<number>/``. The work itself is done by worker jobs of kind
"training.run" (a resume is a new job of the same run), so ``job_ids`` lists them all,
oldest first: the run's event stream is theirs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Run(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "number", name="uq_run_project_number"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    number: int  # 1, 2, … within the project: the folder runs/<number>/
    backend: str = "native"
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    config_digest: str = ""
    # The config version: how many config changes the journal held at the start.
    config_version: int = 0
    command: str = ""
    gate_fingerprints: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    estimate: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # queued | running | waiting (for the artist's answer) | finished | failed |
    # cancelled | interrupted
    state: str = Field(default="queued", index=True)
    message: str = ""
    step: int = 0
    total_steps: int = 0
    last_loss: float | None = None
    checkpoints: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    output_files: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The OOM ladder's rungs taken, in order: {rung, title, at_step, resumed_from, at}.
    rungs: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # A question the run waits on (the lower-resolution rung): {rung, question, change}.
    question: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    seconds: float = 0.0  # wall-clock seconds the trainer ran, all attempts together
    hourly_cost: float = 0.0
    currency: str = "USD"
    cost: float = 0.0
    job_id: int | None = Field(default=None, foreign_key="job.id", ondelete="SET NULL")
    job_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
