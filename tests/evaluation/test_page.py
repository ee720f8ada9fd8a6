"""The Evaluation page: a LoRA's grid shown with its curves, a cell clicked becomes the
recommendation, registering it puts it on the projects list, a diagnosis fix saves a new
config version, and the page refuses files outside the project."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.training.config import load_config
from app.training.project_config import current_config, save_changes
from app.workspace import ProjectContext
from tests.evaluation.conftest import run_grid
from tests.evaluation.lora_files import write_kohya_lora

LORA = "runs/1/mira.safetensors"


def test_evaluate_recommend_register_and_list(
    client: TestClient, eval_ctx: ProjectContext, tiny_sd15: Path, tmp_path: Path
) -> None:
    write_kohya_lora(tiny_sd15, eval_ctx.dir / LORA)
    run_grid(
        eval_ctx,
        {"loras": [LORA], "weights": [0.0, 0.5, 1.0], "seeds": [1], "steps": 1, "resolution": 64},
        tmp_path,
    )
    slug = eval_ctx.project.slug
    overview = client.get(f"/projects/{slug}")
    assert f"/projects/{slug}/evaluation" in overview.text

    page = client.get(f"/projects/{slug}/evaluation")
    assert page.status_code == 200
    assert "runs/1 · final" in page.text and 'class="curve-effect"' in page.text
    assert page.text.count('class="cell"') == 6 * 3  # 6 prompts × 1 seed × 3 weights
    assert client.get(f"/projects/{slug}/evaluation/files/runs_1_mira/sheet.png").status_code == 200
    assert (
        client.get(f"/projects/{slug}/evaluation/files/..%2F..%2Fjournal.md/x.png").status_code
        == 404
    )

    chosen = client.post(
        f"/projects/{slug}/evaluation/recommend",
        data={"lora": LORA, "weight": "0.5"},
        follow_redirects=True,
    )
    assert "at weight <strong>0.5</strong>" in chosen.text
    registered = client.post(
        f"/projects/{slug}/evaluation/register", data={"name": "mira-v1"}, follow_redirects=True
    )
    assert "Registered in the studio" in registered.text
    assert (eval_ctx.workspace.grimoire_dir / "loras" / "mira-v1.safetensors").is_file()
    listing = client.get("/")
    assert "In the studio: mira-v1 (weight 0.5)" in listing.text
    journal = (eval_ctx.dir / "journal.md").read_text()
    assert "Recommended runs/1 final at weight 0.5" in journal and "Registered mira-v1" in journal

    refused = client.post(
        f"/projects/{slug}/evaluation/recommend",
        data={"lora": "../../studio.md", "weight": "1"},
        follow_redirects=False,
    )
    assert refused.status_code == 400


def test_a_fix_is_applied_as_a_config_version(
    client: TestClient, eval_ctx: ProjectContext, tiny_sd15: Path
) -> None:
    slug = eval_ctx.project.slug
    long_run = current_config(eval_ctx).model_copy(update={"epochs": 50})
    save_changes(eval_ctx, long_run)  # 2 images seen 500 times each
    page = client.get(f"/projects/{slug}/evaluation?symptom=overfit")
    assert 'data-code="diagnosis.overfit.many_steps"' in page.text
    assert "Apply: epochs → 10" in page.text
    answer = client.post(
        f"/projects/{slug}/evaluation/fix",
        data={"code": "diagnosis.overfit.many_steps"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    saved = load_config(eval_ctx.dir)
    assert saved is not None and saved.epochs == 10
    assert "epochs 50 → 10" in (eval_ctx.dir / "journal.md").read_text()
