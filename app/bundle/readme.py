"""The bundle's README: what is inside, how to run it on a rented GPU, what the run
should take and cost there, and how the results come home."""

from __future__ import annotations

from typing import Any

from app.bundle import RESULTS_ARCHIVE
from app.bundle.launch import python_words
from app.bundle.rental import VRAM_HEADROOM, RentalGpu
from app.models import Project
from app.training.assessment import Assessment
from app.training.backends import BACKEND_TITLES
from app.training.estimates import TimeAndCost


def readme(
    project: Project,
    assessment: Assessment,
    gpu: RentalGpu,
    estimate: TimeAndCost,
    manifest: dict[str, Any],
) -> str:
    fits = gpu.vram_gb >= assessment.vram.total_gb * VRAM_HEADROOM
    model = manifest["base_model"]
    lines = [
        f"# Training “{project.name}” on a rented GPU",
        "",
        f"Made by loragate from project `{project.slug}`: its dataset and config passed Gate 1 "
        "(dataset) and Gate 2 (config) when this bundle was made; `manifest.json` records "
        "their fingerprints.",
        "",
        "## Time and cost",
        "",
        f"- GPU: **{gpu.title}** (about {assessment.vram.total_gb:.1f} GB of GPU memory "
        f"needed{'' if fits else ': it will NOT fit on this card, rent a larger one'}).",
        f"- {estimate.steps:,} training steps at about {estimate.seconds_per_step:.2f} s a step: "
        f"**{estimate.duration_words()}** ({estimate.basis}).",
        f"- At {estimate.hourly_cost:.2f} {estimate.currency} an hour: about "
        f"**{estimate.cost:.2f} {estimate.currency}**, plus the install and the dry run "
        "(minutes). Prices differ between providers: the hourly price here is a typical "
        "one, `loragate bundle export --price-per-hour` uses yours.",
        "",
        "## Run it",
        "",
        f"1. Rent a Linux machine with an NVIDIA {gpu.title}, "
        f"{python_words(assessment.backend)} and git.",
        "2. Upload this zip and unpack it: `python3 -m zipfile -e BUNDLE.zip .`",
    ]
    if model["included"]:
        lines.append(f"3. The base model is inside (`model/{model['file']}`).")
    else:
        lines.append(
            f"3. Put the base model (`{model['reference']}` on your computer) into "
            f"`model/{model['file']}`: upload it, or download it there from where you got it."
        )
    lines += [
        "4. `bash launch.sh` (from anywhere). It installs "
        f"{manifest['trainer']} for {BACKEND_TITLES.get(assessment.backend, assessment.backend)}, "
        f"runs a dry run of {manifest['dry_run_steps']} steps, then the training.",
        f"5. Download `{RESULTS_ARCHIVE}` (the LoRA, its checkpoints, the logs and the loss "
        "history) and bring it home:",
        "",
        f"   `loragate bundle import {project.slug} {RESULTS_ARCHIVE}`, or the Config page's "
        "“Import results” form.",
        "",
        "Stop the rented machine when it is done: it costs money while it runs.",
        "",
        "## What is inside",
        "",
        "- `dataset/`: the training folder (kohya layout: `{repeats}_{concept}/`, captions beside).",
        "- `config/` and `config-dryrun/`: the trainer's files for the run and for the dry run.",
        "- `launch.sh`, `manifest.json`, and for loragate's own trainer `loragate/`, its code.",
        "",
    ]
    return "\n".join(lines)
