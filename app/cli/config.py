"""``loragate config PROJECT [--set KEY=VALUE ...] [--backend B] [--out DIR]``
(generate-config.sh and the Config page) and ``loragate vram --family F --resolution R
...`` (calculate-vram.sh).

``config`` changes the settings given with ``--set`` (validated by the Config page's own
rules, journaled), writes the backend's files (to ``--out``, or where the Config page
writes them), checks Gate 2 and records its result (when the backend is the project's
own trainer): exit 0 when it passes (warnings allowed), 1 when it blocks (then nothing is
written, and ``--out`` is not created), 2 on wrong usage (a ``--set`` value the config
cannot take, saving nothing; an ``--out`` that is a file, lies beneath one, whose parent
does not exist, or that cannot be written). ``vram`` prints the estimate; with
``--gpu-vram`` it exits 1 when the estimate does not fit.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.cli.common import add_json_flag, fail_usage, open_workspace, print_json, project_context
from app.gate_records import record_result
from app.gates import config as gate2
from app.training.assessment import assess
from app.training.backends import (
    BACKEND_TITLES,
    BACKENDS,
    BackendFiles,
    BackendUnsupported,
    write_files,
)
from app.training.config import (
    BATCH_MAX,
    BLOCKS_TO_SWAP_MAX,
    RANK_MAX,
    RESOLUTION_MAX,
    RESOLUTION_MIN,
    ConfigFileError,
    TrainingConfig,
    load_config,
)
from app.training.config_files import default_files_dir, files_for
from app.training.config_input import (
    SETTABLE_FIELDS,
    WHOLE_CONFIG,
    Typed,
    config_with,
    field_type,
)
from app.training.model_specs import FAMILY_SPECS
from app.training.presets import PRESET_KEYS
from app.training.project_config import (
    apply_preset,
    current_config,
    describe_changes,
    save_changes,
    start_over_hint,
)
from app.training.vram import VramInputs, estimate_vram
from app.words import GATE_WORDS

OPTIMIZERS = ("adamw", "adamw8bit", "prodigy", "lion", "adafactor")
# The largest GPU memory `--gpu-vram` takes, in GB: well above any single GPU sold.
GPU_VRAM_MAX = 1024.0
VRAM_LIMITS = {
    "resolution": (RESOLUTION_MIN, RESOLUTION_MAX, "pixels"),
    "batch": (1, BATCH_MAX, "images"),
    "rank": (1, RANK_MAX, ""),
    "blocks_to_swap": (0, BLOCKS_TO_SWAP_MAX, "blocks"),
}


def register(subparsers: Any) -> None:
    config = subparsers.add_parser(
        "config", help="write the training config for a backend and check Gate 2"
    )
    config.add_argument("project", help="the project's folder name (see `loragate project list`)")
    config.add_argument("--backend", choices=BACKENDS, help="default: the project's trainer")
    config.add_argument(
        "--out",
        type=Path,
        help="folder to write the files to (default: the project's configs/BACKEND/)",
    )
    config.add_argument("--preset", choices=PRESET_KEYS, help="apply this preset first (journaled)")
    config.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a setting (journaled; after --preset); repeatable. Keys: "
        + ", ".join(SETTABLE_FIELDS)
        + ". A list (sample_prompts) takes one --set per line; KEY= clears an optional one",
    )
    add_json_flag(config)
    config.set_defaults(handler=handle_config)

    vram = subparsers.add_parser("vram", help="estimate the GPU memory a LoRA run needs")
    vram.add_argument("--family", required=True, choices=sorted(FAMILY_SPECS))
    vram.add_argument("--resolution", required=True, type=int)
    vram.add_argument("--batch", required=True, type=int)
    vram.add_argument("--rank", required=True, type=int)
    vram.add_argument("--optimizer", required=True, choices=OPTIMIZERS)
    vram.add_argument("--gradient-checkpointing", action="store_true")
    vram.add_argument("--precision", default="bf16", choices=("no", "fp16", "bf16"))
    vram.add_argument("--train-text-encoder", action="store_true")
    vram.add_argument("--cache-latents", action="store_true")
    vram.add_argument("--cache-text-encoder-outputs", action="store_true")
    vram.add_argument(
        "--attention",
        default="sdpa",
        choices=("sdpa", "xformers", "eager"),
        help="the attention kernel (default sdpa: what every trainer loragate writes for uses)",
    )
    vram.add_argument(
        "--quantize",
        default="none",
        choices=("none", "fp8", "nf4"),
        help="the base model's weights: as trained, 8-bit (fp8) or 4-bit (nf4, QLoRA)",
    )
    vram.add_argument("--full-bf16", action="store_true", help="LoRA and optimizer in bf16")
    vram.add_argument(
        "--blocks-to-swap", type=int, default=0, help="Flux blocks kept in system memory"
    )
    vram.add_argument("--cpu-offload", action="store_true", help="model in system memory")
    vram.add_argument(
        "--gpu-vram", type=float, help="the GPU's memory in GB: exit 1 if it does not fit"
    )
    add_json_flag(vram)
    vram.set_defaults(handler=handle_vram)


def check_vram_arguments(args: argparse.Namespace) -> None:
    """The same limits TrainingConfig puts on these settings: a plain usage error
    instead of an absurd estimate."""
    for name, (low, high, unit) in VRAM_LIMITS.items():
        if not low <= getattr(args, name) <= high:
            fail_usage(
                f"--{name.replace('_', '-')} must be between {low} and {high}{' ' + unit if unit else ''}."
            )
    if args.gpu_vram is not None and not (
        math.isfinite(args.gpu_vram) and 0 < args.gpu_vram <= GPU_VRAM_MAX
    ):
        fail_usage(f"--gpu-vram must be a number of GB above 0 and at most {GPU_VRAM_MAX:g}.")


def handle_vram(args: argparse.Namespace) -> int:
    check_vram_arguments(args)
    estimate = estimate_vram(
        VramInputs(
            family=args.family,
            resolution=args.resolution,
            batch_size=args.batch,
            rank=args.rank,
            optimizer=args.optimizer,
            precision=args.precision,
            gradient_checkpointing=args.gradient_checkpointing,
            train_text_encoder=args.train_text_encoder,
            cache_latents=args.cache_latents,
            cache_text_encoder_outputs=args.cache_text_encoder_outputs,
            attention=args.attention,
            quantize_base=args.quantize,
            full_bf16=args.full_bf16,
            blocks_to_swap=args.blocks_to_swap,
            cpu_offload=args.cpu_offload,
        )
    )
    fits = args.gpu_vram is None or estimate.total_gb <= args.gpu_vram
    if args.json:
        result: dict[str, Any] = estimate.to_json()
        if args.gpu_vram is not None:
            result["gpu_vram_gb"] = args.gpu_vram
            result["fits"] = fits
        print_json(result)
    else:
        print(f"About {estimate.total_gb:.1f} GB of GPU memory:")
        for part, gb in estimate.breakdown.items():
            if gb > 0:
                print(f"  {part:18} {gb:6.2f} GB")
        for note in estimate.notes:
            print(f"  ({note})")
        if args.gpu_vram is not None:
            verdict = "fits" if fits else "does NOT fit"
            print(f"It {verdict} in {args.gpu_vram:g} GB.")
    return 0 if fits else 1


def out_folder(path: Path) -> Path:
    """``--out`` made absolute and checked before anything is changed: a folder that
    exists and can be written, or one whose parent does (only that last level is
    created, and only once Gate 2 passes). Otherwise a plain usage error (exit 2)."""
    out = path.expanduser().absolute()
    try:
        if out.exists() and not out.is_dir():
            fail_usage(f"{path} exists and is not a folder: choose a folder for --out.")
        existing = out if out.is_dir() else out.parent
        if not existing.is_dir():
            beneath_a_file = any(part.exists() and not part.is_dir() for part in out.parents)
            reason = (
                "a part of that path is a file, not a folder"
                if beneath_a_file
                else f"{existing} does not exist; loragate creates only the last folder"
            )
            fail_usage(f"cannot create the folder {path} ({reason}): choose another --out.")
    except OSError as exc:  # a name too long for the file system, say
        fail_usage(f"cannot use {path} ({exc.strerror or exc}): choose another --out.")
    try:
        # Tried, not predicted from permissions: root may write anywhere but /sys.
        if existing == out:
            tempfile.TemporaryFile(dir=out).close()
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing))
    except OSError as exc:
        verb = "write into" if existing == out else "create the folder"
        fail_usage(f"cannot {verb} {path} ({exc.strerror or exc}): choose another --out.")
    return out


def typed_settings(assignments: list[str]) -> dict[str, Typed]:
    """``KEY=VALUE`` as typed; a list field collects one line per assignment."""
    typed: dict[str, Typed] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            fail_usage(f"--set takes KEY=VALUE (for example resolution=768), not “{assignment}”.")
        if key in SETTABLE_FIELDS and field_type(key)[0] is list:
            lines = typed.setdefault(key, [])
            assert isinstance(lines, list)
            lines.extend(line for line in value.splitlines() if line.strip())
        else:
            typed[key] = value
    return typed


def with_settings(config: TrainingConfig, typed: dict[str, Typed]) -> TrainingConfig:
    """``config`` with the ``--set`` values, validated by the Config page's own rules; a
    plain usage error naming each key that cannot take its value (nothing is saved)."""
    new, errors = config_with(config, typed)
    if new is None:
        lines = [
            f"  {message}" if key == WHOLE_CONFIG else f"  {key}: {message}"
            for key, message in errors.items()
        ]
        fail_usage("nothing was saved; --set has values loragate cannot use:\n" + "\n".join(lines))
    return new


def write_out(path: Path, out: Path, bundle: BackendFiles) -> list[Path]:
    """Create ``out`` (its last level only: ``--out``'s parent was checked, the default
    folder's parent is the project's) and write the files into it."""
    try:
        out.parent.mkdir(exist_ok=True)  # the project's configs folder, for the default
        out.mkdir(exist_ok=True)
        return write_files(out, bundle)
    except OSError as exc:
        fail_usage(
            f"the files could not be written to {path} ({exc.strerror or exc}): "
            "choose another --out."
        )


def handle_config(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    ctx = project_context(workspace, args.project)
    backend = args.backend or ctx.project.backend
    if backend not in BACKENDS:
        fail_usage(f"unknown trainer “{backend}”: choose one of {', '.join(BACKENDS)}.")
    out = out_folder(args.out) if args.out else None
    typed = typed_settings(args.settings)
    if typed and args.preset:
        # Checked before the preset is applied too, so a bad value changes nothing.
        with contextlib.suppress(ConfigFileError):
            with_settings(current_config(ctx), typed)
    if args.preset:
        apply_preset(ctx, args.preset)  # also the way out of an unreadable training.json
    try:
        config = current_config(ctx)
    except ConfigFileError as exc:
        sys.stderr.write(f"loragate: {exc}\n{start_over_hint(ctx)}\n")
        return 1
    changes: dict[str, tuple[Any, Any]] = {}
    if typed:
        config = with_settings(config, typed)
        changes = save_changes(ctx, config)
    elif load_config(ctx.dir) is None:
        save_changes(ctx, config)  # the files written must match a saved, journaled config
    assessment = assess(ctx, config, backend)
    bundle, unsupported = None, None
    try:
        bundle = files_for(ctx, assessment, backend, out)
    except BackendUnsupported as exc:
        unsupported = str(exc)
    result = gate2.evaluate(ctx, backend)
    # Gate 2 is recorded for the trainer the project trains with; a look at another
    # backend's files must not replace (and so make stale) that verdict.
    recorded = backend == ctx.project.backend
    if recorded:
        record_result(ctx, result)
    blocked = result.verdict == "block" or bundle is None
    # A config the gate refuses is not written: nothing to train from by mistake.
    where = out or default_files_dir(ctx, backend)
    written = write_out(where, where, bundle) if bundle is not None and not blocked else []
    if args.json:
        payload = result.to_json()
        payload.update(
            {
                "backend": backend,
                "files": [str(path) for path in written],
                "command": bundle.command if bundle and written else None,
                "notes": bundle.notes if bundle and written else [],
                "error": unsupported,
                "time": assessment.time.to_json(),
                "vram": assessment.vram.to_json(),
                "step_formula": assessment.plan.formula(),
                "recorded": recorded,
                "changed": {key: {"old": old, "new": new} for key, (old, new) in changes.items()},
                "config": config.model_dump(mode="json"),
            }
        )
        print_json(payload)
        return 1 if blocked else 0
    if changes:
        print(f"Changed: {describe_changes(changes)}.")
    elif typed:
        print("The config already had these values; nothing changed.")
    if unsupported:
        sys.stderr.write(f"loragate: {BACKEND_TITLES[backend]} cannot be used: {unsupported}\n")
    elif bundle is not None and written:
        print(f"Wrote {len(written)} files for {BACKEND_TITLES[backend]} to {where}:")
        for path in written:
            print(f"  {path.name}")
        print(f"Run: {bundle.command}")
        for note in bundle.notes:
            print(f"  note: {note}")
    else:
        print(f"Nothing was written to {where}: Gate 2 blocks (see below).")
    print(f"Steps: {assessment.plan.formula()}")
    print(
        f"GPU memory: about {assessment.vram.total_gb:.1f} GB"
        + (f" of {assessment.gpu.vram_gb:g} GB" if assessment.gpu.vram_gb else "")
        + (f" ({assessment.vram.calibration})" if assessment.vram.calibration else "")
    )
    time = assessment.time
    print(
        f"Time: about {time.duration_words()} ({time.seconds_per_step:.2f} s/step, {time.basis})"
        + (f"; cost {time.cost:.2f} {time.currency}" if time.hourly_cost else "")
        + (f"; {time.calibration}" if time.calibration else "")
    )
    print(
        f"Gate 2 {GATE_WORDS[result.verdict]}"
        + ("." if recorded else f" for {BACKEND_TITLES[backend]}.")
    )
    if not recorded:
        print(
            f"  (not recorded: the project trains with {BACKEND_TITLES.get(ctx.project.backend, ctx.project.backend)}; "
            "Gate 2 is recorded for that trainer)"
        )
    for finding in result.findings:
        print(f"  [{finding.severity}] {finding.message}")
        print(f"      why: {finding.why}")
        print(f"      fix: {finding.fix}")
    return 1 if blocked else 0
