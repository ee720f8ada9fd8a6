"""Recommending a cell and registering it in the studio: the file copied into the
studio's LoRA folder, studio.md's free text and other entries kept byte for byte, and
registering again updates the entry instead of adding a second."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.demo import DEMO_MODEL_NAME
from app.evaluation.recommendation import RecommendationRefused, read_recommendation, recommend
from app.evaluation.registration import DEMO_LORA_NOTE, RegistrationRefused, register
from app.grimoire import load_studio, studio_path
from app.workspace import ProjectContext
from tests.evaluation.conftest import run_grid
from tests.evaluation.lora_files import write_kohya_lora

STUDIO = """---
# My studio. Comments stay.
base_models: []
gpu:
  name: RTX 4090   # the big one
  vram_gb: 24
lora_folder: {folder}
loras:
  - name: older-style
    path: /loras/older.safetensors
    trigger_word: zkold
    family: sdxl
    weight: 0.8   # found by hand
---
# Studio notes

Keep  this   spacing.
"""


@pytest.fixture
def graded(eval_ctx: ProjectContext, tiny_sd15: Path, tmp_path: Path) -> str:
    lora = "runs/1/mira.safetensors"
    write_kohya_lora(tiny_sd15, eval_ctx.dir / lora)
    params = {"loras": [lora], "weights": [0.0, 0.5, 1.0], "seeds": [1], "steps": 1}
    run_grid(eval_ctx, params | {"resolution": 64}, tmp_path)
    return lora


def test_recommend_register_and_register_again(
    eval_ctx: ProjectContext, graded: str, tmp_path: Path
) -> None:
    folder = tmp_path / "comfy" / "loras"
    studio = studio_path(eval_ctx.workspace.grimoire_dir)
    studio.write_text(STUDIO.format(folder=folder))
    before = studio.read_text()
    with pytest.raises(RegistrationRefused, match="Nothing is recommended"):
        register(eval_ctx)
    with pytest.raises(RecommendationRefused, match="not a column"):
        recommend(eval_ctx, graded, 0.75)

    chosen = recommend(eval_ctx, graded, 0.5)
    assert (chosen.low, chosen.high) == (0.5, 1.0)
    assert read_recommendation(eval_ctx) == chosen
    entry = register(eval_ctx, notes="soft ink look")

    copied = folder / "mira.safetensors"
    assert copied.read_bytes() == (eval_ctx.dir / graded).read_bytes()
    after = studio.read_text()
    head, old_entry = before.split("loras:\n")[0], before.split("loras:\n")[1].split("---\n")[0]
    assert after.startswith(head + "loras:\n" + old_entry)  # the rest, byte for byte
    assert after.endswith("---\n# Studio notes\n\nKeep  this   spacing.\n")
    loras = load_studio(eval_ctx.workspace.grimoire_dir).loras
    assert [lora.name for lora in loras] == ["older-style", "mira"]
    assert (loras[1].weight, loras[1].weight_range, loras[1].trigger_word) == (
        0.5,
        [0.5, 1.0],
        "zkmira",
    )
    assert loras[1].dataset_size == 2 and loras[1].notes == "soft ink look"
    assert entry.path == str(copied)

    recommend(eval_ctx, graded, 1.0)
    register(eval_ctx)
    loras = load_studio(eval_ctx.workspace.grimoire_dir).loras
    assert [(lora.name, lora.weight) for lora in loras] == [("older-style", 0.8), ("mira", 1.0)]
    assert studio.read_text().startswith(head + "loras:\n" + old_entry)


def test_an_unwritable_lora_folder_is_a_plain_error(
    eval_ctx: ProjectContext, graded: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    studio = studio_path(eval_ctx.workspace.grimoire_dir)
    studio.write_text(STUDIO.format(folder=blocker / "loras"))
    recommend(eval_ctx, graded, 1.0)
    with pytest.raises(RegistrationRefused, match="cannot be written to"):
        register(eval_ctx)
    studio.write_text(STUDIO.format(folder="relative/loras"))
    with pytest.raises(RegistrationRefused, match="whole path"):
        register(eval_ctx)
    assert [lora.name for lora in load_studio(eval_ctx.workspace.grimoire_dir).loras] == [
        "older-style"
    ]


def test_a_demo_lora_says_in_the_studio_that_it_draws_noise(
    eval_ctx: ProjectContext, graded: str, tmp_path: Path
) -> None:
    studio = studio_path(eval_ctx.workspace.grimoire_dir)
    studio.write_text(STUDIO.format(folder=tmp_path / "comfy" / "loras"))
    with eval_ctx.workspace.db.writing() as session:
        project = session.merge(eval_ctx.project)
        project.base_model = DEMO_MODEL_NAME
    demo_ctx = eval_ctx.workspace.context(project)
    recommend(demo_ctx, graded, 0.5)
    register(demo_ctx, notes="my first try")
    demo = load_studio(eval_ctx.workspace.grimoire_dir).loras[-1]
    assert demo.notes == f"{DEMO_LORA_NOTE} my first try"
