"""Backend adapters: the project's TrainingConfig turned into the files and the command
line each trainer reads. One module per backend (native, kohya, simpletuner,
ai_toolkit), each exposing ``generate(run: RunPlan) -> BackendFiles``.

Key names, value types and option spellings come from each backend's own source; the
lists read (with the commit) are in ``app/data/backend_keys/*.json`` and the tests parse
every generated file back and check it against them.
"""

from __future__ import annotations

import importlib
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from app.dataset.inventory import DatasetItem, layout_dir
from app.fsutil import atomic_write_text
from app.intent import BACKENDS as BACKENDS
from app.paths import safe_join
from app.training.config import TrainingConfig, output_name_problem
from app.training.steps import StepPlan, with_steps
from app.workspace import ProjectContext

BACKEND_TITLES = {
    "native": "loragate (native)",
    "kohya": "kohya sd-scripts",
    "simpletuner": "SimpleTuner",
    "ai-toolkit": "ai-toolkit",
}
_MODULES = {
    "native": "native",
    "kohya": "kohya",
    "simpletuner": "simpletuner",
    "ai-toolkit": "ai_toolkit",
}


class BackendUnsupported(ValueError):
    """This backend cannot train this family (or this setup); the message says why."""


@dataclass(frozen=True)
class Subset:
    folder: Path  # <layout>/{repeats}_{concept}
    concept: str
    repeats: int
    images: int


@dataclass(frozen=True)
class RunPlan:
    """Everything an adapter needs, with absolute paths."""

    project: str
    trigger_word: str
    family: str
    variant: str  # "dev" / "schnell" for Flux, "" otherwise
    prediction_type: str  # epsilon | v_prediction
    base_model: Path
    dataset_dir: Path  # the kohya layout `loragate structure` writes
    subsets: tuple[Subset, ...]
    output_dir: Path  # where the trainer writes checkpoints and the LoRA
    files_dir: Path  # where these files are written (they refer to each other)
    config: TrainingConfig  # max_train_steps already worked out
    plan: StepPlan
    trainer_dir: str | None = None  # the backend's clone, from studio.md
    items: tuple[DatasetItem, ...] = ()  # the included images, for per-folder bucket checks
    base_parts: dict[str, Path] = field(default_factory=dict)  # studio.md's parts, by role
    # the trainer's own resume state to continue from (sd-scripts' state folder,
    # SimpleTuner's checkpoint-N): app/runs/resume_points.py chooses it
    resume_from: Path | None = None

    @property
    def output_name(self) -> str:
        """The LoRA's file stem (default: the project's folder name). TrainingConfig
        refuses unsafe names, but a config copied with ``model_copy`` skips validation, so
        every writer asks here and none can put a path into a trainer's output name."""
        return checked_output_name(self.config, self.project)


def checked_output_name(config: TrainingConfig, project: str) -> str:
    name = config.output_name or project
    problem = output_name_problem(name)
    if problem:
        raise BackendUnsupported(f"The LoRA's file name cannot be used: {problem}.")
    return name


@dataclass
class BackendFiles:
    backend: str
    files: dict[str, str]  # file name → text
    command: str
    notes: list[str] = field(default_factory=list)  # adaptations, in plain words


def subsets_of(items: list[DatasetItem], layout: Path) -> tuple[Subset, ...]:
    counts = Counter((item.concept, item.repeats) for item in items if item.included)
    return tuple(
        Subset(layout / f"{repeats}_{concept}", concept, repeats, images)
        for (concept, repeats), images in sorted(counts.items())
    )


def run_plan(
    ctx: ProjectContext,
    config: TrainingConfig,
    plan: StepPlan,
    items: list[DatasetItem],
    base_model: Path,
    files_dir: Path,
    *,
    backend: str,
    variant: str = "",
    prediction_type: str = "epsilon",
    trainer_dir: str | None = None,
    output_dir: Path | None = None,
    base_parts: dict[str, Path] | None = None,
    resume_from: Path | None = None,
) -> RunPlan:
    """``output_dir``: where the trainer writes (default ``<project>/output/<backend>``;
    the dry run sends it to its scratch folder)."""
    layout = layout_dir(ctx)
    return RunPlan(
        project=ctx.project.slug,
        trigger_word=ctx.project.trigger_word,
        family=ctx.project.model_family,
        variant=variant,
        prediction_type=prediction_type,
        base_model=base_model,
        dataset_dir=layout,
        subsets=subsets_of(items, layout),
        output_dir=output_dir or real_output_dir(ctx, backend),
        files_dir=files_dir.resolve(),
        config=with_steps(config, plan),
        plan=plan,
        trainer_dir=trainer_dir,
        items=tuple(item for item in items if item.included),
        base_parts=dict(base_parts or {}),
        resume_from=resume_from,
    )


def real_output_dir(ctx: ProjectContext, backend: str) -> Path:
    """Where the real run's trainer writes its checkpoints and LoRA."""
    return ctx.dir / "output" / backend


def generate(backend: str, run: RunPlan) -> BackendFiles:
    if backend not in _MODULES:
        raise BackendUnsupported(
            f"Unknown trainer “{backend}”: choose one of {', '.join(BACKENDS)}."
        )
    checked_output_name(run.config, run.project)  # before any backend writes a file
    module = importlib.import_module(f"app.training.backends.{_MODULES[backend]}")
    files: BackendFiles = module.generate(run)
    return files


def write_files(out_dir: Path, bundle: BackendFiles) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in bundle.files.items():
        path = safe_join(out_dir, name)
        atomic_write_text(path, text)
        written.append(path)
    return written


def quote(value: object) -> str:
    return shlex.quote(str(value))


def accelerate_prefix(config: TrainingConfig, python: str | None = None) -> list[str]:
    """``accelerate launch`` with one process per GPU (DESIGN.md: every backend launches
    through accelerate when more than one GPU is configured). With ``python`` the launcher
    runs as that interpreter's module, so the script needs no activated environment."""
    launcher = [python, "-m", "accelerate.commands.launch"] if python else ["accelerate", "launch"]
    parts = [*launcher, "--num_cpu_threads_per_process", "1"]
    if config.num_gpus > 1:
        parts += ["--multi_gpu", "--num_processes", str(config.num_gpus)]
    else:
        parts += ["--num_processes", "1"]
    parts += ["--mixed_precision", config.mixed_precision]
    return parts


def launch_script(
    commands: list[str],
    cwd: str | None,
    *,
    entry: str | None = None,
    trainer: str = "",
    studio_key: str = "",
) -> str:
    """A bash script running ``commands``. With ``cwd`` (the trainer's folder from
    studio.md, or loragate's own) it changes into it first, so it runs from anywhere.
    ``entry`` is the file the commands name by a relative path (``train_network.py``,
    ``run.py``): the script checks it is there and otherwise says, in plain words, what
    to set, instead of failing with "No such file"."""
    lines = ["#!/usr/bin/env bash", "# Written by loragate."]
    if cwd:
        lines.append(f"# Run it from anywhere: it changes into {cwd} first.")
    elif entry:
        lines.append(
            f"# Run it from your {trainer} folder (where {entry} is). Set backends.{studio_key} "
            "in grimoire/studio.md and write the files again to run it from anywhere."
        )
    else:
        lines.append("# Run it from anywhere, with the trainer's Python environment active.")
    lines.append("set -euo pipefail")
    if cwd:
        lines.append(f"cd {quote(cwd)}")
    if entry:
        where = (
            f"{entry} is not in {cwd}: check backends.{studio_key} in grimoire/studio.md."
            if cwd
            else f"{entry} is not in this folder: run this script from your {trainer} folder, "
            f"or set backends.{studio_key} in grimoire/studio.md and write the files again."
        )
        lines.append(
            f"[ -f {quote(entry)} ] || {{ echo {quote('loragate: ' + where)} >&2; exit 1; }}"
        )
    lines += commands
    return "\n".join(lines) + "\n"
