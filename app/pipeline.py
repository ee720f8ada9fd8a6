"""The thirteen phases an artist goes through, as DESIGN.md lays them out. Pages that
implement a phase register a route named ``phase_{key}``; the overview links to it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    number: int
    key: str
    title: str
    summary: str
    gate: str | None = None


PHASES: tuple[Phase, ...] = (
    Phase(
        1,
        "intent",
        "Intent",
        "What you train, the trigger word, the base model, and the "
        "content-style problem, explained before it bites.",
    ),
    Phase(
        2,
        "import",
        "Import",
        "Bring images in from a folder, a zip or the browser; "
        "existing kohya folders are read as they are.",
        "dataset",
    ),
    Phase(
        3,
        "audit",
        "Audit",
        "Every image checked: decoding, size, blur, compression, "
        "duplicates, dataset size and diversity.",
        "dataset",
    ),
    Phase(
        4,
        "captions",
        "Captions",
        "Review drafts, approve by clicking thumbnails; the trigger word is always first.",
        "dataset",
    ),
    Phase(
        5,
        "curate",
        "Curate",
        "Include or exclude images, set repeats, balance concepts.",
        "dataset",
    ),
    Phase(
        6,
        "report",
        "Report",
        "Gate 1's dataset report: every blocking finding, why and how to fix it.",
        "dataset",
    ),
    Phase(
        7,
        "config",
        "Config",
        "A preset, every parameter explained, the config for your "
        "trainer, VRAM, time and cost estimates.",
        "config",
    ),
    Phase(
        8,
        "environment",
        "Environment",
        "GPU, driver, CUDA, PyTorch, the trainer, free disk.",
        "environment",
    ),
    Phase(
        9,
        "dryrun",
        "Dry run",
        "A few real training steps through the real trainer: "
        "crashes and out-of-memory found in a minute, not an hour.",
        "dryrun",
    ),
    Phase(
        10,
        "train",
        "Train",
        "Only when all four gates pass on the current inputs; live "
        "loss and VRAM, automatic out-of-memory recovery.",
    ),
    Phase(
        11,
        "evaluate",
        "Evaluate",
        "A grid of prompts, LoRA weights and seeds for each "
        "checkpoint; a leakage check without the trigger word.",
    ),
    Phase(
        12,
        "diagnose",
        "Diagnose",
        "What went wrong, if anything, tied to this project's numbers, and what to change.",
    ),
    Phase(
        13,
        "register",
        "Register",
        "The LoRA, its trigger word and best weight written "
        "into studio.md for the rest of the studio.",
    ),
)
