"""Where each gate stands for a project *now*, and whether training may start.

This is the only place that decides "may train". There is no override parameter, on
purpose: the web page, the API and ``loragate train`` all ask ``training_allowed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Literal

from app.gate_records import GATE_TITLES, latest
from app.gates import GATE_NAMES
from app.models import GateRecord
from app.workspace import ProjectContext

Status = Literal["not_run", "pass", "warn", "block", "stale"]

# Plain words for a fingerprint part that changed; gate modules may use other keys.
PART_WORDS = {
    "images": "the images changed",
    "captions": "captions changed",
    "statuses": "caption approvals, exclusions or repeats changed",
    "duplicates": "the duplicate threshold or a duplicate decision changed",
    "intent": "the project's intent (type, trigger word, family, caption format, what must "
    "vary or stay, your style words) changed",
    "config": "the training config changed",
    "base_model": "the base model file changed",
    "dataset_gate": "the dataset (Gate 1) changed",
    "gpu": "the GPU or its driver changed",
    "torch": "the PyTorch install changed",
    "backend": "the trainer (backend) version changed",
    "family": "the base model's family changed",
    "studio_gpu": "the GPU changed (its name or memory, in studio.md or as Gate 3 found it)",
    "trainer": "the project's trainer (backend) changed",
    "training_folder": "the training folder changed (written again, or the dataset "
    "changed since it was written)",
    "config_gate": "the config (Gate 2) changed",
    "environment_gate": "the environment (Gate 3) changed",
}


@dataclass
class GateState:
    name: str
    title: str
    status: Status
    record: GateRecord | None = None
    stale_reasons: list[str] = field(default_factory=list)

    @property
    def passes_now(self) -> bool:
        return self.status in ("pass", "warn")


def _dataset() -> ModuleType:
    from app.gates import dataset

    return dataset


def _config() -> ModuleType:
    from app.gates import config

    return config


def _environment() -> ModuleType:
    from app.gates import environment

    return environment


def _dryrun() -> ModuleType:
    from app.gates import dryrun

    return dryrun


# Imported when first asked for: each gate pulls in its whole domain (the environment
# gate its probes, the config gate the training package), which a page that only reads
# stored results does not need.
GATE_MODULES: dict[str, Callable[[], ModuleType]] = {
    "dataset": _dataset,
    "config": _config,
    "environment": _environment,
    "dryrun": _dryrun,
}


def gate_module(name: str) -> ModuleType | None:
    load = GATE_MODULES.get(name)
    return None if load is None else load()


def current_parts(ctx: ProjectContext, name: str) -> dict[str, str] | None:
    module = gate_module(name)
    if module is None or not hasattr(module, "fingerprint"):
        return None
    parts: dict[str, str] = module.fingerprint(ctx)
    return parts


def gate_state(ctx: ProjectContext, name: str) -> GateState:
    title = GATE_TITLES[name]
    with ctx.workspace.db.reading() as session:
        record = latest(session, ctx.project, name)
    if record is None:
        return GateState(name, title, "not_run")
    now = current_parts(ctx, name)
    if now is None:
        return GateState(name, title, "stale", record, ["this gate cannot be re-checked"])
    if now != record.fingerprint_parts:
        changed = sorted(
            key
            for key in set(now) | set(record.fingerprint_parts)
            if now.get(key) != record.fingerprint_parts.get(key)
        )
        reasons = [PART_WORDS.get(key, f"{key.replace('_', ' ')} changed") for key in changed]
        return GateState(name, title, "stale", record, reasons)
    status: Status = record.verdict  # type: ignore[assignment]
    return GateState(name, title, status, record)


def gate_states(ctx: ProjectContext) -> list[GateState]:
    return [gate_state(ctx, name) for name in GATE_NAMES]


@dataclass
class TrainingPermission:
    allowed: bool
    reasons: list[str]


def training_allowed(ctx: ProjectContext) -> TrainingPermission:
    reasons: list[str] = []
    for state in gate_states(ctx):
        if state.status == "not_run":
            reasons.append(f"{state.title} has not been run.")
        elif state.status == "block":
            reasons.append(f"{state.title} blocks: fix its findings and run it again.")
        elif state.status == "stale":
            why = "; ".join(state.stale_reasons)
            reasons.append(f"{state.title} is out of date ({why}): run it again.")
    return TrainingPermission(allowed=not reasons, reasons=reasons)
