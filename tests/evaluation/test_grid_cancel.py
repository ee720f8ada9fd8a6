"""Cancelling an evaluation grid (the worker's job, in its child process, as the page's
Cancel button does it) ends the job as cancelled and keeps what was made before: the
sheet of each LoRA finished so far, with all its cells, and its journal entry; the
LoRA being generated when Cancel came leaves no sheet behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app import journal
from app.evaluation.job import GRID_JOB, grid_request
from app.evaluation.sheet import SHEET_PNG, read_sheet, sheet_dir
from app.worker import Worker
from app.workspace import ProjectContext
from tests.evaluation.lora_files import write_kohya_lora

LORAS = [f"loras/take-{n}.safetensors" for n in (1, 2, 3)]


@pytest.mark.slow
@pytest.mark.usefixtures("no_leftover_jobs")
def test_a_cancelled_grid_keeps_the_sheets_it_finished(
    eval_ctx: ProjectContext, tiny_sd15: Path
) -> None:
    for seed, lora in enumerate(LORAS):
        write_kohya_lora(tiny_sd15, eval_ctx.dir / lora, seed=seed)
    request = grid_request(eval_ctx, LORAS, [0.0, 0.5, 1.0], [1, 2], 2, 64)
    worker = Worker(eval_ctx.workspace)
    job = worker.start(GRID_JOB, eval_ctx.project.id, request.params(), title=request.title())
    first = sheet_dir(eval_ctx.dir, LORAS[0]) / SHEET_PNG
    deadline = time.monotonic() + 240
    while not first.is_file() and time.monotonic() < deadline:
        worker.supervisor.run_pass()  # what the server's supervisor thread does
        time.sleep(0.02)
    assert first.is_file(), "the first LoRA's sheet never appeared"
    worker.cancel(job.id or 0)
    ended = worker.wait(job.id or 0, 120)
    assert ended is not None and ended.state == "cancelled", ended

    sheet = read_sheet(eval_ctx.dir, LORAS[0])
    assert sheet is not None
    rows = len(sheet["rows"])
    assert rows > 0 and len(sheet["cells"]) == rows * 3  # every cell of the finished sheet
    assert all((sheet_dir(eval_ctx.dir, LORAS[0]) / c["file"]).is_file() for c in sheet["cells"])
    assert read_sheet(eval_ctx.dir, LORAS[2]) is None
    with eval_ctx.workspace.db.reading() as session:
        events = journal.recent(session, eval_ctx.project)
    journaled = [e for e in reversed(events) if e.kind == "evaluation.grid"]
    assert [e.data["lora"] for e in journaled] == [
        lora for lora in LORAS if read_sheet(eval_ctx.dir, lora) is not None
    ]
    assert len(journaled) < len(LORAS)
