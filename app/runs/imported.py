"""A run trained somewhere else (a rented GPU, through the cloud bundle) recorded as a
run of the project: numbered as local runs are, its folder moved to ``runs/<number>/``
(the one layout of every run), and stored finished with its step events, so the Runs
page, the run page's loss chart and diagnosis read it as they read a local run.

Its events belong to a job of their own (kind ``run.imported``, already done): a run's
event stream is its jobs' events, and an imported run has no trainer job here."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from app.models import Job, JobEvent, Run
from app.models.base import utcnow
from app.runs.records import next_number, run_dir
from app.worker.eventfile import END
from app.workspace import ProjectContext

IMPORTED_KIND = "run.imported"
STEP_FIELDS = ("step", "total", "epoch", "loss", "smoothed_loss", "lr", "seconds_per_step")


class RunFolderTaken(OSError):
    """``runs/<number>/`` already holds files no run record owns."""


def _finite(value: Any) -> Any:
    # NaN and Infinity are not JSON: SQLite would refuse the whole line. As text they
    # still say the loss was not a number (app/runs/stream.py step_losses).
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def add_finished_run(
    ctx: ProjectContext,
    staged: Path,
    *,
    backend: str,
    config: dict[str, Any],
    steps: list[dict[str, Any]],
    message: str,
) -> Run:
    """Move ``staged`` (laid out as a run folder) to ``runs/<number>/`` and store the
    finished run with ``steps`` (dicts with STEP_FIELDS) as its step events."""
    final = sorted(path.name for path in staged.glob("*.safetensors") if path.is_file())
    # As the supervisor records them: the checkpoint's folder and its LoRA file.
    checkpoints = [
        {
            "step": int(lora.parent.name.removeprefix("step-")),
            "path": lora.parent.relative_to(staged).as_posix(),
            "lora": lora.relative_to(staged).as_posix(),
        }
        for lora in sorted(staged.glob("checkpoints/step-*/lora.safetensors"))
        if lora.parent.name.removeprefix("step-").isdigit()
    ]
    project_id = ctx.project.id or 0
    now = utcnow()
    last = steps[-1] if steps else {}
    with ctx.workspace.db.writing() as session:
        number = next_number(session, project_id)
        target = run_dir(ctx, number)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise RunFolderTaken(
                f"{target} already exists and belongs to no recorded run: move it out of "
                "the runs folder, then import again."
            )
        job = Job(
            project_id=project_id,
            kind=IMPORTED_KIND,
            title=f"Run {number}, imported",
            state="done",
            done=len(steps),
            total=len(steps),
            message=message,
            started_at=now,
            finished_at=now,
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        t = round(time.time(), 3)
        for entry in steps:
            data = {"type": "step", "t": t} | {
                key: _finite(entry.get(key)) for key in STEP_FIELDS if key in entry
            }
            session.add(JobEvent(job_id=job.id, type="step", data=json.dumps(data)))
        session.add(
            JobEvent(
                job_id=job.id, type=END, data=json.dumps({"type": END, "t": t, "state": "done"})
            )
        )
        run = Run(
            project_id=project_id,
            number=number,
            backend=backend,
            config=config,
            state="finished",
            message=message,
            step=int(last.get("step") or 0),
            total_steps=int(last.get("total") or last.get("step") or 0),
            last_loss=next(
                (
                    entry["loss"]
                    for entry in reversed(steps)
                    if isinstance(entry.get("loss"), int | float) and math.isfinite(entry["loss"])
                ),
                None,
            ),
            checkpoints=checkpoints,
            output_files=final,
            job_id=job.id,
            job_ids=[job.id],
            started_at=now,
            finished_at=now,
        )
        session.add(run)
        session.flush()
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            target.rmdir()
        staged.rename(target)  # last: a failure before it rolls the rows back
        session.refresh(run)
        session.expunge(run)
    return run
