"""Generating the grid: the base model's pipeline loaded once, each LoRA file loaded onto
it with diffusers' ``load_lora_weights`` (which reads kohya-format files, the ones the
artist's own tools load) and its strength set per column with ``set_adapters``.

The weight-0 column is the base model itself: it is generated once per job, with no
adapter loaded, and shared by every LoRA of the job (a LoRA at strength 0 adds exactly
nothing, so the images are the same). The curves compare every column with it.

Runs only in the worker's child (it imports torch and diffusers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from app.evaluation.prompts import GridPrompt
from app.training.job import BaseModelRef
from app.training.native.models import Pipeline, load_pipeline

ADAPTER = "evaluated"


class EvaluationError(RuntimeError):
    """A LoRA or a base model the grid cannot use; the message says why in plain words."""


@dataclass(frozen=True)
class GridSpec:
    prompts: list[GridPrompt]
    weights: list[float]
    seeds: list[int]
    steps: int = 20
    resolution: int = 512
    batch: int = 4  # images per pipeline call: a 1024-pixel SDXL batch must fit the GPU

    @property
    def rows(self) -> list[tuple[int, int]]:
        """(prompt index, seed) of each row of the sheet."""
        return [(p, seed) for p in range(len(self.prompts)) for seed in self.seeds]

    @property
    def cells(self) -> int:
        return len(self.rows) * len(self.weights)


@dataclass
class GridImages:
    """One LoRA's grid: ``images[col][row]`` and the final latents ``latents[col]``
    (rows × channels × h × w), plus the base model's latents for the same rows."""

    spec: GridSpec
    images: list[list[Image.Image]]
    latents: list[torch.Tensor]
    base_latents: torch.Tensor


@dataclass
class _Base:
    images: list[Image.Image]
    latents: torch.Tensor


@dataclass
class GridRunner:
    """Loads the base model once; ``evaluate`` one LoRA file after the other."""

    ref: BaseModelRef
    work_dir: Path
    device: str = "cpu"
    pipeline: Pipeline = field(init=False)
    _base: dict[tuple[object, ...], _Base] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.pipeline = load_pipeline(self.ref, self.work_dir, dtype).to(self.device)

    def _generate(
        self,
        spec: GridSpec,
        progress: Callable[[int], None],
        check_cancelled: Callable[[], None],
    ) -> tuple[list[Image.Image], torch.Tensor]:
        rows = spec.rows
        images: list[Image.Image] = []
        latents: list[torch.Tensor] = []
        final: dict[str, torch.Tensor] = {}

        def keep_latest(_pipe: object, _step: int, _t: object, values: dict) -> dict:  # type: ignore[type-arg]
            # The latents after the last denoising step are the last ones seen.
            final["latents"] = values["latents"]
            return values

        for start in range(0, len(rows), spec.batch):
            check_cancelled()
            chunk = rows[start : start + spec.batch]
            with torch.no_grad():
                output = self.pipeline(
                    prompt=[spec.prompts[p].text for p, _ in chunk],
                    generator=[torch.Generator("cpu").manual_seed(seed) for _, seed in chunk],
                    num_inference_steps=spec.steps,
                    height=spec.resolution,
                    width=spec.resolution,
                    callback_on_step_end=keep_latest,
                    callback_on_step_end_tensor_inputs=["latents"],
                )
            images += output.images
            latents.append(final["latents"].detach().float().cpu())
            progress(len(chunk))
        return images, torch.cat(latents)

    def _base_images(
        self, spec: GridSpec, progress: Callable[[int], None], check: Callable[[], None]
    ) -> _Base:
        key = (tuple(spec.prompts), tuple(spec.seeds), spec.steps, spec.resolution)
        if key not in self._base:
            self._base[key] = _Base(*self._generate(spec, progress, check))
        return self._base[key]

    def evaluate(
        self,
        lora_file: Path,
        spec: GridSpec,
        progress: Callable[[int], None] = lambda _n: None,
        check_cancelled: Callable[[], None] = lambda: None,
    ) -> GridImages:
        """Every cell of ``spec`` for ``lora_file``; ``progress`` receives the number of
        images just made."""
        base = self._base_images(spec, progress, check_cancelled)
        self._load(lora_file)
        try:
            images, latents = [], []
            for weight in spec.weights:
                if weight == 0:
                    images.append(base.images)
                    latents.append(base.latents)
                    continue
                self.pipeline.set_adapters([ADAPTER], [weight])
                column, column_latents = self._generate(spec, progress, check_cancelled)
                images.append(column)
                latents.append(column_latents)
        finally:
            self._forget()
        return GridImages(spec, images, latents, base.latents)

    def _load(self, lora_file: Path) -> None:
        try:
            self.pipeline.load_lora_weights(str(lora_file), adapter_name=ADAPTER)
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            self._forget()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EvaluationError(
                f"{lora_file.name} could not be loaded onto the base model ({first}). "
                "A LoRA trained for another model family, or an incomplete file, does this."
            ) from exc
        placed = any(ADAPTER in names for names in self.pipeline.get_list_adapters().values())
        if not placed:
            raise EvaluationError(
                f"{lora_file.name} matches no layer of the base model, so it would change "
                "nothing: it was trained for another model family or saved in a format "
                "diffusers does not read."
            )

    def _forget(self) -> None:
        if any(ADAPTER in names for names in self.pipeline.get_list_adapters().values()):
            self.pipeline.delete_adapters([ADAPTER])


def choose_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
