"""A run of 100,000 steps: the run page's history draws a bounded series that still
holds the first and last step and the single-step spike and dip of the loss, while
every step stays stored (app/runs/stream.py downsamples what is drawn, never what is
stored). How fast is bench/'s business, not this test's."""

from __future__ import annotations

import json
import math
from pathlib import Path

from app.runs.imported import add_finished_run
from app.runs.stream import MAX_POINTS, history
from app.worker import Worker
from app.workspace import Workspace
from tests.runs.project import training_project

STEPS = 100_000
SPIKE, DIP = 54_321, 77_777


def _loss(step: int) -> float:
    if step == SPIKE:
        return 9.0
    if step == DIP:
        return 0.001
    return 0.12 + 0.02 * math.sin(step / 500)


def test_a_100000_step_run_draws_a_bounded_series_that_keeps_its_extremes(
    workspace: Workspace, tiny_sd15: Path, tmp_path: Path
) -> None:
    ctx = training_project(workspace, tiny_sd15)
    staged = tmp_path / "staged"
    staged.mkdir()
    run = add_finished_run(ctx, staged, backend="native", config={}, steps=[], message="")
    [job_id] = run.job_ids
    rows = [
        (job_id, "step", json.dumps({"type": "step", "step": n, "loss": _loss(n), "lr": 1e-4}))
        for n in range(1, STEPS + 1)
    ]
    with workspace.db.writing() as session:
        connection = session.connection().connection.dbapi_connection
        connection.cursor().executemany(  # type: ignore[union-attr]
            "INSERT INTO jobevent (job_id, type, data) VALUES (?, ?, ?)", rows
        )

    drawn = history(Worker(workspace), run)
    steps, losses = drawn["series"]["step"], drawn["series"]["loss"]
    assert drawn["steps_stored"] == STEPS
    assert 0 < len(steps) <= MAX_POINTS
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert (steps[0], steps[-1]) == (1, STEPS)
    assert dict(zip(steps, losses, strict=True))[SPIKE] == 9.0
    assert dict(zip(steps, losses, strict=True))[DIP] == 0.001
    assert drawn["latest"]["step"] == STEPS
    with workspace.db.reading() as session:
        connection = session.connection().connection.dbapi_connection
        stored = (
            connection.cursor()
            .execute(  # type: ignore[union-attr]
                "SELECT count(*) FROM jobevent WHERE job_id = ? AND type = 'step'", (job_id,)
            )
            .fetchone()[0]
        )
    assert stored == STEPS  # drawing thinned nothing that is stored
