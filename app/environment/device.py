"""Where the training will run: the config's device (cuda or cpu) and number of GPUs
against the GPUs the driver (NVML) and PyTorch see.

No GPU for a CUDA config blocks, with the reason in plain words and what the run
would cost on the CPU instead; a config that asks for the CPU on purpose (a tiny
test model) passes with that estimate as information.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import cuda_matrix
from app.environment.cpu_speed import (
    CPU_SECONDS_PER_STEP,
    MEASURED_ON,
    cpu_seconds,
    human_duration,
)
from app.environment.torch_info import TorchProbe
from app.findings import Finding
from app.gpu_probe import GpuReport
from app.intent import MODEL_FAMILIES
from app.training.config import TrainingConfig
from app.training.outputs import human_bytes

# What each NVML state means, for people.
NVML_WORDS = {
    "package_missing": "The nvidia-ml-py package (pynvml), which loragate asks the driver "
    "through, is not installed",
    "library_missing": "No NVIDIA driver is installed on this computer (its NVML library "
    "was not found)",
    "driver_error": "The NVIDIA driver did not answer properly",
    "no_gpu": "The NVIDIA driver is installed but reports no GPU",
}
NVML_CODES = {
    "package_missing": "gpu.nvml_package_missing",
    "library_missing": "gpu.no_driver",
    "driver_error": "gpu.nvml_error",
    "no_gpu": "gpu.no_gpu",
}


@dataclass(frozen=True)
class RunSize:
    """What the CPU estimate needs: the family and the number of steps (None when the
    dataset is empty and the config has no step count yet)."""

    family: str | None
    steps: int | None
    batch: int


def cpu_time_words(run: RunSize) -> str:
    if run.family not in CPU_SECONDS_PER_STEP:
        return (
            "On a CPU one training step takes from about "
            f"{CPU_SECONDS_PER_STEP['sd15']:.0f} s (SD 1.5) to about "
            f"{CPU_SECONDS_PER_STEP['flux'] / 60:.0f} minutes (Flux.1), measured on {MEASURED_ON}; "
            "a run has thousands of steps."
        )
    per_step = CPU_SECONDS_PER_STEP[run.family]
    title = MODEL_FAMILIES[run.family].title
    measured = f"about {per_step:.0f} s a step for {title}, measured on {MEASURED_ON}"
    if run.steps is None:
        return f"On a CPU each training step would take {measured}."
    total = cpu_seconds(run.family, run.steps, run.batch) or 0.0
    return (
        f"On a CPU the {run.steps:,} steps of this config would take about "
        f"{human_duration(total)} ({measured})."
    )


def _nvml_error(gpus: GpuReport) -> str:
    detail = f" (NVML said: {gpus.error})" if gpus.error and gpus.status == "driver_error" else ""
    return NVML_WORDS.get(gpus.status, "The GPU could not be queried") + detail + "."


def device_findings(
    config: TrainingConfig, gpus: GpuReport, probe: TorchProbe, run: RunSize, *, demo: bool = False
) -> list[Finding]:
    """``demo``: the project is the demo (app/demo), whose tiny model is meant for the CPU."""
    if config.device == "cpu":
        return _cpu_findings(config, gpus, run, demo=demo)
    findings: list[Finding] = []
    torch_sees = probe.available and bool(probe.devices)
    if gpus.status != "ok" and not torch_sees:
        if probe.failure or probe.import_error:
            return []  # PyTorch itself is broken: the PyTorch group says so
        findings.append(
            Finding(
                code=NVML_CODES[gpus.status],
                severity="block",
                subject="GPU",
                message=f"The config trains on an NVIDIA GPU (device cuda), but this computer "
                f"has none that loragate can use. {_nvml_error(gpus)} "
                f"PyTorch sees no GPU either. {cpu_time_words(run)}",
                why="A training step of a real model is trillions of multiplications; a GPU "
                "runs thousands of them at once, a CPU a few dozen.",
                fix="Train on a machine with an NVIDIA GPU and its driver (a rented cloud GPU "
                "works). To try loragate with a tiny test model on this computer, set the "
                "config's device to cpu.",
                source="preflight-checklist#no-nvidia-gpu",
            )
        )
        return findings
    if gpus.status != "ok":
        findings.append(
            Finding(
                code=NVML_CODES[gpus.status],
                severity="warn",
                subject="GPU monitoring",
                message=f"{_nvml_error(gpus)} PyTorch does see the GPU, so training can run.",
                why="Without NVML loragate cannot show live VRAM and GPU use during the run, "
                "nor see other programs holding GPU memory.",
                fix="Install nvidia-ml-py (`.venv/bin/pip install nvidia-ml-py`) and make sure "
                "the NVIDIA driver's NVML library is installed (nvidia-smi uses it too).",
                source="preflight-checklist#when-nvml-itself-fails",
            )
        )
    visible = len(probe.devices) if torch_sees else len(gpus.devices)
    if config.num_gpus > visible:
        findings.append(
            Finding(
                code="gpu.too_few",
                severity="block",
                subject="num_gpus",
                message=f"The config asks for {config.num_gpus} GPUs; this computer has {visible}.",
                why="accelerate would start one process per GPU and wait forever for the "
                "missing ones, or stop with an error.",
                fix=f"Set num_gpus to {visible} in the config, or train on a machine with "
                f"{config.num_gpus} GPUs.",
                source="preflight-checklist#more-gpus-than-the-machine-has",
            )
        )
    findings += _per_device_findings(config, gpus)
    return findings


def _per_device_findings(config: TrainingConfig, gpus: GpuReport) -> list[Finding]:
    findings: list[Finding] = []
    for device in gpus.devices[: config.num_gpus]:
        if device.other_processes:
            holders = ", ".join(
                f"{p.name or 'process'} {p.pid}"
                + (f" ({human_bytes(p.used_bytes)})" if p.used_bytes is not None else "")
                for p in device.other_processes
            )
            findings.append(
                Finding(
                    code="gpu.memory_in_use",
                    severity="warn",
                    subject=f"GPU {device.index} · {device.name}",
                    message=f"Other programs hold memory on the {device.name}: {holders}. "
                    f"{human_bytes(device.free_bytes)} of {human_bytes(device.total_bytes)} "
                    "is free.",
                    why="The run gets only what they leave free, so a config that fits the "
                    "card's total can still run out of memory.",
                    fix="Close them before training (a browser with hardware acceleration, "
                    "ComfyUI, another trainer), or lower the config's memory use.",
                    source="preflight-checklist#other-programs-holding-gpu-memory",
                )
            )
        if (
            config.mixed_precision == "bf16"
            and device.capability is not None
            and device.capability < cuda_matrix.BF16_MIN_CAPABILITY
        ):
            findings.append(
                Finding(
                    code="gpu.bf16_unsupported",
                    severity="warn",
                    subject=f"GPU {device.index} · {device.name}",
                    message=f"The config trains in bf16, but the {device.name} "
                    f"({cuda_matrix.capability_words(device.capability)}) has no bf16 units.",
                    why="bf16 arrived with Ampere (compute capability 8.0, RTX 30 series). "
                    "Older cards emulate it slowly or refuse some operations.",
                    fix="Set mixed_precision to fp16 in the config.",
                    source="preflight-checklist#bf16-and-older-gpus",
                )
            )
    return findings


def _demo_cpu_finding(run: RunSize) -> Finding:
    real = RunSize(run.family, None, run.batch)
    return Finding(
        code="device.demo_cpu",
        severity="info",
        subject="device",
        message="This is the demo: it trains on the CPU, on purpose. Its model is tiny and "
        "random, so the CPU runs the whole training in a minute or two. A real model is "
        f"another matter. {cpu_time_words(real)} A real run has thousands of steps.",
        why="A real model's training step is about a thousand times the demo's work: a GPU "
        "runs those multiplications thousands at a time, a CPU a few dozen.",
        fix="Nothing to do for the demo. For a real LoRA, train on an NVIDIA GPU: your "
        "own, or a rented one with the cloud bundle (Config page, “Export for a rented GPU”).",
        source="preflight-checklist#the-demo-runs-on-the-cpu",
    )


def _cpu_findings(
    config: TrainingConfig, gpus: GpuReport, run: RunSize, *, demo: bool = False
) -> list[Finding]:
    findings = (
        [_demo_cpu_finding(run)]
        if demo
        else [
            Finding(
                code="device.cpu",
                severity="info",
                subject="device",
                message="The config trains on the CPU (device cpu). " + cpu_time_words(run),
                why="The CPU is fine for a tiny test model; for a real model every step takes "
                "minutes instead of about a second.",
                fix="Nothing to do for a test. For a real LoRA set device to cuda and train on a "
                "machine with an NVIDIA GPU.",
                source="preflight-checklist#training-on-the-cpu",
            )
        ]
    )
    if gpus.status != "ok":
        findings.append(
            Finding(
                code=NVML_CODES[gpus.status],
                severity="info",
                subject="GPU",
                message=f"{_nvml_error(gpus)} That is fine: the config trains on the CPU.",
                why="A GPU is only needed when the config's device is cuda.",
                fix="Nothing to do.",
                source="preflight-checklist#no-nvidia-gpu",
            )
        )
    if config.num_gpus > 1:
        findings.append(
            Finding(
                code="gpu.num_gpus_ignored",
                severity="warn",
                subject="num_gpus",
                message=f"The config asks for {config.num_gpus} GPUs but trains on the CPU.",
                why="num_gpus only applies to GPU training; on the CPU it is ignored, which "
                "is probably not what you meant.",
                fix="Set num_gpus to 1, or set device to cuda.",
                source="preflight-checklist#more-gpus-than-the-machine-has",
            )
        )
    return findings
