"""How long a run will take and what it will cost, before anything runs.

Seconds per step come from, in order of trust:
1. the dry run's own measurement for this config (``<project>/dryrun.json``, written by
   Gate 4's dry run: ``DryRunMeasurement``, keyed by ``config_digest``);
2. a published measurement on the same GPU (``SPEED_MEASUREMENTS``), scaled to this
   run's family, pixels and batch;
3. the nearest published measurement, scaled by the GPUs' published tensor throughput.

Scaling (documented in app/docs/vram-calculator.md#time-and-cost): a step's work grows
with batch × accumulation, with the family's forward FLOPs (model_specs.py) and with
pixels ** the family's FLOPs exponent; gradient checkpointing recomputes the forward
pass (about +20%). Duration = steps × s/step; cost = hours × studio.md gpu.hourly_cost.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from app.fsutil import atomic_write_text
from app.training.config import TrainingConfig
from app.training.model_specs import family_spec

DRYRUN_FILE = "dryrun.json"
CHECKPOINTING_SLOWDOWN = 1.2  # invoke-ai/invoke-training#22: "~20% slower training"


@dataclass(frozen=True)
class GpuClass:
    key: str
    title: str
    pattern: str  # regex on the lower-cased GPU name from studio.md or NVML
    tensor_tflops: float  # dense FP16/BF16 tensor throughput, NVIDIA's published figure
    bf16: bool  # compute capability ≥ 8.0 (Ampere or newer)


# More specific names first: "3090 ti" before "3090".
GPU_CLASSES: tuple[GpuClass, ...] = (
    GpuClass("rtx5090", "RTX 5090", r"5090", 209.5, True),
    GpuClass("rtx4090", "RTX 4090", r"4090", 165.2, True),
    GpuClass("rtx4080", "RTX 4080", r"4080", 97.5, True),
    GpuClass("rtx3090ti", "RTX 3090 Ti", r"3090\s*ti", 80.0, True),
    GpuClass("rtx3090", "RTX 3090", r"3090", 71.0, True),
    GpuClass("rtx3080", "RTX 3080", r"3080", 59.5, True),
    GpuClass("rtx3060", "RTX 3060", r"3060", 25.6, True),
    GpuClass("h200", "H200", r"h200", 989.4, True),
    GpuClass("h100", "H100", r"h100", 989.4, True),
    GpuClass("a100", "A100", r"a100", 312.0, True),
    GpuClass("l40s", "L40S", r"l40s", 362.0, True),
    GpuClass("a40", "A40", r"\ba40\b", 149.7, True),
    GpuClass("a6000", "RTX A6000", r"a6000", 154.8, True),
    GpuClass("v100", "V100", r"v100", 125.0, False),
    GpuClass("t4", "T4", r"\bt4\b", 65.0, False),
    GpuClass("rtx20", "RTX 20-series", r"rtx\s*20[0-9]0", 40.0, False),
    GpuClass("gtx", "GTX 10/16-series", r"gtx", 10.0, False),
)

# Pre-Ampere names the table above may not list: bf16 is missing there too.
_NO_BF16 = re.compile(
    r"\b(t4|v100|p100|p40|k80|titan (v|rtx|xp)|quadro (rtx|p\d+)|gtx|rtx\s*20[0-9]0)\b"
)


def gpu_class(name: str | None) -> GpuClass | None:
    if not name:
        return None
    lowered = name.lower()
    return next((gpu for gpu in GPU_CLASSES if re.search(gpu.pattern, lowered)), None)


def gpu_supports_bf16(name: str | None) -> bool | None:
    """False for GPUs older than Ampere, True for known newer ones, None when unknown."""
    if not name:
        return None
    known = gpu_class(name)
    if known is not None:
        return known.bf16
    return False if _NO_BF16.search(name.lower()) else None


@dataclass(frozen=True)
class SpeedMeasurement:
    gpu: str  # GpuClass.key
    family: str
    seconds_per_step: float
    batch_size: int
    accumulation: int
    resolution: int
    gradient_checkpointing: bool
    source: str


SPEED_MEASUREMENTS: tuple[SpeedMeasurement, ...] = (
    SpeedMeasurement(
        "rtx3060",
        "sdxl",
        2.4,
        1,
        1,
        1024,
        True,
        "https://github.com/bmaltais/kohya_ss/issues/1288 (FurkanGozukara, 2023-08-01: "
        "“RTX 3060 is 2.4 second / it”, SDXL LoRA, batch 1)",
    ),
    SpeedMeasurement(
        "rtx3090",
        "sdxl",
        1.2,
        1,
        1,
        1024,
        True,
        "https://github.com/bmaltais/kohya_ss/issues/1730 (wolfgangmeyers, 2023-12-10: "
        "“1.2s/it” on an RTX 3090, SDXL LoRA dim 8)",
    ),
    SpeedMeasurement(
        "rtx3090ti",
        "sdxl",
        1.12,
        1,
        1,
        1024,
        False,
        "https://github.com/kohya-ss/sd-scripts/issues/827 (2023-09-20: “1.12 s/it with "
        "xformers enabled and gradient checkpoint disabled”, SDXL LoRA rank 32, batch 1)",
    ),
    SpeedMeasurement(
        "rtx4090",
        "sdxl",
        0.926,
        1,
        1,
        1024,
        False,
        "https://github.com/bmaltais/kohya_ss/issues/1288 (comment of 2023-09-21 quoting "
        "“4090 - current best speed is 1.08 it/s”, SDXL LoRA dim 64, batch 1)",
    ),
    SpeedMeasurement(
        "rtx5090",
        "sdxl",
        3.45,
        4,
        2,
        1024,
        True,
        "https://github.com/bmaltais/kohya_ss/issues/3332 (2025-07-14: “SDXL LoRA Training "
        "3,45s/it Batch Size 4 with gradient accumulation steps: 2”, dim 32, 1024×1024)",
    ),
    SpeedMeasurement(
        "a40",
        "flux",
        6.5,
        1,
        1,
        768,
        True,
        "https://github.com/ostris/ai-toolkit/issues/145 (2024-08-31: A40, default Flux "
        "config, “6.5 sec/it in batch#1”; that config trains at 512, 768 and 1024 px)",
    ),
)


def family_cost(family: str, resolution: int) -> float:
    """Forward TFLOPs of one sample of this family at this resolution."""
    spec = family_spec(family)
    pixel_ratio = (resolution / spec.native_resolution) ** 2
    return spec.forward_tflops * pixel_ratio**spec.flops_exponent


@dataclass(frozen=True)
class SpeedEstimate:
    seconds_per_step: float
    basis: str  # plain words: where the number comes from
    source: str  # a URL, "dry run", or "" when there is no basis
    rough: bool
    # "calibrated on your GPU from N dry runs" when dry runs on this GPU corrected it
    # (app/training/calibration.py); the model's own figure before the correction.
    calibration: str = ""
    model_seconds_per_step: float | None = None


@dataclass(frozen=True)
class DryRunMeasurement:
    """What Gate 4's dry run measured (``<project>/dryrun.json``), with the config it ran
    and the estimates it checked. Only a dry run that passed writes one."""

    seconds_per_step: float  # mean over the steps after the first (warm-up) one
    peak_vram_gb: float | None  # None without CUDA
    config_digest: str | None
    gpu_name: str | None = None  # "CPU" on a CPU run
    steps: int = 0  # steps the dry run trained
    backend: str = ""
    family: str = ""
    estimated_seconds_per_step: float | None = None  # the estimates when it ran
    estimated_vram_gb: float | None = None
    ran_at: str = ""  # ISO time
    config: dict[str, object] | None = None  # the TrainingConfig it ran, as JSON

    @property
    def speed_error_percent(self) -> float | None:
        """How far the estimate was from the measurement (+: estimated too high)."""
        return _error_percent(self.estimated_seconds_per_step, self.seconds_per_step)

    @property
    def vram_error_percent(self) -> float | None:
        return _error_percent(self.estimated_vram_gb, self.peak_vram_gb)

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def _error_percent(estimate: float | None, measured: float | None) -> float | None:
    if estimate is None or not measured:
        return None
    return (estimate - measured) / measured * 100


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_dryrun_measurement(project_dir: Path) -> DryRunMeasurement | None:
    """The dry run's measurement, when Gate 4 has written one."""
    path = project_dir / DRYRUN_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        seconds = float(data["seconds_per_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    digest = data.get("config_digest")
    texts = {
        key: data[key] if isinstance(data.get(key), str) else default
        for key, default in (("gpu_name", None), ("backend", ""), ("family", ""), ("ran_at", ""))
    }
    steps = data.get("steps")
    config = data.get("config")
    return DryRunMeasurement(
        seconds,
        _number(data.get("peak_vram_gb")),
        digest if isinstance(digest, str) else None,
        steps=steps if isinstance(steps, int) else 0,
        estimated_seconds_per_step=_number(data.get("estimated_seconds_per_step")),
        estimated_vram_gb=_number(data.get("estimated_vram_gb")),
        config=config if isinstance(config, dict) else None,
        **texts,
    )


def write_dryrun_measurement(project_dir: Path, measurement: DryRunMeasurement) -> None:
    atomic_write_text(project_dir / DRYRUN_FILE, json.dumps(measurement.to_json(), indent=2) + "\n")


def _scale(row: SpeedMeasurement, config: TrainingConfig, family: str) -> float:
    work_row = family_cost(row.family, row.resolution) * row.batch_size * row.accumulation
    work_now = (
        family_cost(family, config.resolution)
        * config.train_batch_size
        * config.gradient_accumulation_steps
    )
    seconds = row.seconds_per_step * work_now / work_row
    if config.gradient_checkpointing and not row.gradient_checkpointing:
        seconds *= CHECKPOINTING_SLOWDOWN
    elif row.gradient_checkpointing and not config.gradient_checkpointing:
        seconds /= CHECKPOINTING_SLOWDOWN
    return seconds


def estimate_speed(
    config: TrainingConfig,
    family: str,
    gpu_name: str | None,
    dryrun: DryRunMeasurement | None = None,
    config_digest: str | None = None,
) -> SpeedEstimate:
    if dryrun is not None and (dryrun.config_digest in (None, config_digest)):
        return SpeedEstimate(dryrun.seconds_per_step, "measured by the dry run", "dry run", False)
    gpu = gpu_class(gpu_name)
    rows = [row for row in SPEED_MEASUREMENTS if gpu is not None and row.gpu == gpu.key]
    same_family = [row for row in rows if row.family == family]
    if same_family or rows:
        row = (same_family or rows)[0]
        title = gpu.title if gpu else row.gpu
        basis = (
            f"published measurement on an {title}"
            if row.family == family
            else f"published {row.family.upper()} measurement on an {title}, scaled to "
            f"{family_spec(family).title} by compute"
        )
        return SpeedEstimate(_scale(row, config, family), basis, row.source, row.family != family)
    reference_gpu = next(g for g in GPU_CLASSES if g.key == "rtx3090")
    target = gpu or reference_gpu
    # Nearest measured GPU by throughput, preferring one measured on this family.
    candidates = [row for row in SPEED_MEASUREMENTS if row.family == family] or list(
        SPEED_MEASUREMENTS
    )
    by_key = {g.key: g for g in GPU_CLASSES}
    row = min(
        candidates,
        key=lambda r: abs(math.log(by_key[r.gpu].tensor_tflops / target.tensor_tflops)),
    )
    seconds = _scale(row, config, family) * by_key[row.gpu].tensor_tflops / target.tensor_tflops
    if gpu is None:
        basis = (
            "no GPU named in studio.md: assuming an RTX 3090"
            if not gpu_name
            else f"no published measurement for “{gpu_name}”: assuming an RTX 3090"
        )
    else:
        basis = (
            f"scaled from a published measurement on an {by_key[row.gpu].title} by the "
            f"GPUs' tensor throughput"
        )
    return SpeedEstimate(seconds, basis, row.source, True)


@dataclass(frozen=True)
class TimeAndCost:
    steps: int
    seconds_per_step: float
    seconds: float
    hourly_cost: float
    currency: str
    basis: str
    source: str
    rough: bool
    calibration: str = ""  # as SpeedEstimate's
    model_seconds_per_step: float | None = None

    @property
    def cost(self) -> float:
        return self.seconds / 3600 * self.hourly_cost

    def duration_words(self) -> str:
        return duration_words(self.seconds)

    def cost_words(self) -> str:
        """The cost, or what to do to see one: without a price per hour, "0.00 USD"
        would read as free."""
        if not self.hourly_cost:
            return "no cost shown (no price per hour set)"
        return f"{self.cost:.2f} {self.currency}"

    def to_json(self) -> dict[str, object]:
        return {
            "steps": self.steps,
            "seconds_per_step": round(self.seconds_per_step, 3),
            "seconds": round(self.seconds),
            "duration": self.duration_words(),
            "cost": round(self.cost, 2),
            "currency": self.currency,
            "basis": self.basis,
            "source": self.source,
            "rough": self.rough,
        } | ({"calibration": self.calibration} if self.calibration else {})


def duration_words(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d} min"


def estimate_time_and_cost(
    steps: int, speed: SpeedEstimate, hourly_cost: float, currency: str
) -> TimeAndCost:
    return TimeAndCost(
        steps=steps,
        seconds_per_step=speed.seconds_per_step,
        seconds=steps * speed.seconds_per_step,
        hourly_cost=hourly_cost,
        currency=currency,
        basis=speed.basis,
        source=speed.source,
        rough=speed.rough,
        calibration=speed.calibration,
        model_seconds_per_step=speed.model_seconds_per_step,
    )
