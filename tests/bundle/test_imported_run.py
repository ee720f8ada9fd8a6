"""An imported run is a run like a local one: a results.zip on the tiny SD 1.5 becomes
run 1 (a finished Run record in runs/1/), listed on the Runs page, its page draws the
loss history the rented GPU's trainer logged and links "Evaluate this run", diagnosis
reads that loss and the manifest's config, `loragate eval-grid --run 1` evaluates it
(the worker's grid job, as a real subprocess), and once a cell of its grid is the
recommendation the Runs list says run 1 holds it."""

from __future__ import annotations

import json
import zipfile
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.bundle.import_ import import_results
from app.evaluation.diagnosis import loss_shape
from app.evaluation.loras import final_of_run
from app.evaluation.recommendation import recommend
from app.evaluation.run_numbers import run_numbers
from app.runs.records import list_runs
from app.workspace import ProjectContext, Workspace
from tests.cli.conftest import CliRunner, cli  # noqa: F401  (the fixture)
from tests.evaluation.lora_files import write_kohya_lora
from tests.runs.conftest import tiny_sd15  # noqa: F401  (the fixture)
from tests.runs.project import TINY_CONFIG, training_project

SMALL = ("--seeds", "1", "--steps", "1", "--resolution", "64", "--weights", "0", "1")
STEPS = 12


def _results(tmp_path: Path, model: Path, slug: str) -> Path:
    lora = write_kohya_lora(model, tmp_path / "lora.safetensors")
    events = [
        json.dumps({"event": "step", "step": step, "total": STEPS, "loss": 0.3 - step * 0.02})
        for step in range(1, STEPS + 1)
    ]
    manifest = {"backend": "native", "config": TINY_CONFIG | {"network_rank": 12}}
    path = tmp_path / "results.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(lora, f"output/{slug}.safetensors")
        archive.writestr("logs/train-events.jsonl", "\n".join([*events, '{"event": "done"}']))
        archive.writestr("logs/dryrun-events.jsonl", '{"event": "step", "step": 1, "loss": 9}')
        archive.writestr("manifest.json", json.dumps(manifest))
    return path


@pytest.mark.slow
def test_an_imported_run_is_listed_charted_diagnosed_and_evaluated(
    workspace: Workspace,
    tiny_sd15: Path,  # noqa: F811
    tmp_path: Path,
    cli: CliRunner,  # noqa: F811
    client: TestClient,
) -> None:
    ctx: ProjectContext = training_project(workspace, tiny_sd15)
    slug = ctx.project.slug
    imported = import_results(ctx, _results(tmp_path, tiny_sd15, slug))
    assert imported.number == 1 and imported.path == ctx.dir / "runs" / "1"
    [run] = list_runs(ctx)
    assert (run.number, run.state, run.backend, run.step) == (1, "finished", "native", STEPS)

    listed = client.get(f"/projects/{slug}/runs").text
    assert 'data-run="1" data-state="finished"' in listed
    history = client.get(f"/projects/{slug}/runs/1/history.json").json()
    assert history["series"]["step"] == list(range(1, STEPS + 1))  # the dry run's left out
    assert history["series"]["loss"][-1] == pytest.approx(0.3 - STEPS * 0.02)
    page = unescape(client.get(f"/projects/{slug}/runs/1").text)
    link = f"/projects/{slug}/evaluation?lora=runs%2F1%2F{slug}.safetensors"
    assert f'{link}">Evaluate this run</a>' in page
    assert client.get(link).status_code == 200

    numbers = run_numbers(ctx, final_of_run(ctx.dir, 1))
    assert numbers.rank == 12  # the manifest's config, not the project's (rank 4)
    assert len(numbers.loss) == STEPS and loss_shape(numbers.loss).kind == "falling"

    graded = cli("eval-grid", slug, "--run", "1", *SMALL, timeout=600)
    assert graded.returncode == 0, graded.stderr
    assert f"runs/1/{slug}.safetensors (final): " in graded.stdout
    assert "Contact sheet: " in graded.stdout

    recommend(ctx, f"runs/1/{slug}.safetensors", 1.0)
    listed = client.get(f"/projects/{slug}/runs").text
    assert 'id="recommended-run"' in listed
    assert "recommended: runs/1 final at weight 1.0" in listed
