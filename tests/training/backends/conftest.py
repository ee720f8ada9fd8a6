"""Run plans for every family without a workspace: real folders, real step maths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.dataset.inventory import DatasetItem
from app.training.backends import RunPlan, subsets_of
from app.training.config import TrainingConfig
from app.training.presets import preset_config
from app.training.steps import plan_steps, with_steps
from tests.training.helpers import write_checkpoint

PlanFactory = Callable[..., RunPlan]


@pytest.fixture
def make_run(tmp_path: Path) -> PlanFactory:
    def make(
        family: str = "sdxl", config: TrainingConfig | None = None, **overrides: object
    ) -> RunPlan:
        side = {"sd15": 512, "sd2": 768}.get(family, 1024)
        config = config or preset_config("standard", "character", family).model_copy(
            update={
                "sample_prompts": ["zktrig on a beach", "zktrig in the rain"],
                "sample_every_n_steps": 100,
                "save_every_n_epochs": 2,
                **overrides,
            }
        )
        items = [DatasetItem(f"10_mira/{i}.png", side, side, "mira", 10) for i in range(6)]
        items += [DatasetItem(f"4_city/{i}.png", side * 3 // 2, side, "city", 4) for i in range(3)]
        plan = plan_steps(items, config)
        models = tmp_path / "models"
        kind = {"flux": "flux-dev"}.get(family, family)
        base = write_checkpoint(models / f"{family}.safetensors", kind)
        if family == "flux":
            for name in ("clip_l.safetensors", "t5xxl_fp16.safetensors", "ae.safetensors"):
                write_checkpoint(models / name, "unknown")
        layout = tmp_path / "project" / "kohya"
        return RunPlan(
            project="mira",
            trigger_word="zktrig",
            family=family,
            variant="dev" if family == "flux" else "",
            prediction_type="epsilon",
            base_model=base,
            dataset_dir=layout,
            subsets=subsets_of(items, layout),
            output_dir=tmp_path / "project" / "output",
            files_dir=tmp_path / "files",
            config=with_steps(config, plan),
            plan=plan,
            items=tuple(items),
        )

    return make
