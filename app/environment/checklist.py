"""The environment check as a checklist: one light per concern (GPU, PyTorch, kernel
smoke test, trainer, disk, memory, Python), each with the facts it found, so a person
sees what was checked even where nothing is wrong. Stored in the gate result's stats
and drawn by the web page and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import cuda_matrix
from app.disk_space import DiskSpace
from app.environment.backends import BackendSetup, ImportCheck
from app.environment.memory import MemoryInfo, run_need
from app.environment.python_version import loragate_python
from app.environment.smoke import PRECISION_WORDS, SmokeResult
from app.environment.torch_info import TorchProbe
from app.findings import Finding
from app.gpu_probe import GpuReport
from app.training.config import TrainingConfig
from app.training.outputs import OutputEstimate, human_bytes

GROUPS: tuple[tuple[str, str], ...] = (
    ("config", "Settings judged"),
    ("gpu", "GPU"),
    ("torch", "PyTorch"),
    ("smoke", "Kernel smoke test"),
    ("backend", "Trainer"),
    ("disk", "Disk"),
    ("memory", "Memory"),
    ("python", "Python"),
)
# A finding's code prefix → its group.
_CODE_GROUPS = {"device": "gpu"}


def group_of(finding: Finding | dict[str, Any]) -> str:
    code = finding.code if isinstance(finding, Finding) else str(finding.get("code", ""))
    prefix = code.split(".")[0]
    return _CODE_GROUPS.get(prefix, prefix)


@dataclass(frozen=True)
class Probed:
    """Everything the check measured."""

    config: TrainingConfig
    config_source: str  # "training.json" | "defaults" | "unreadable"
    family: str | None
    gpus: GpuReport
    torch: TorchProbe
    smoke: tuple[SmokeResult, ...]
    smoke_skipped: str | None
    smoke_note: str | None  # why the test ran in another precision than the config's
    setup: BackendSetup
    imports: ImportCheck | None
    disk: DiskSpace
    estimate: OutputEstimate | None
    memory: MemoryInfo


Facts = list[list[str]]


def _config_facts(p: Probed) -> Facts:
    source = {
        "training.json": "the project's training.json",
        "defaults": "loragate's defaults (no config written yet)",
        "unreadable": "loragate's defaults (training.json cannot be read)",
    }[p.config_source]
    return [
        ["Settings from", source],
        ["Device", p.config.device],
        ["Precision", PRECISION_WORDS[p.config.mixed_precision]],
        ["GPUs", str(p.config.num_gpus)],
    ]


def _gpu_facts(p: Probed) -> Facts:
    g = p.gpus
    if g.status != "ok":
        state = {
            "package_missing": "nvidia-ml-py not installed",
            "library_missing": "no NVIDIA driver (NVML library not found)",
            "driver_error": f"NVML error: {g.error}",
            "no_gpu": "driver installed, no GPU",
        }[g.status]
        facts = [["NVML", state]]
        if g.driver_version:
            facts.append(["Driver", g.driver_version])
        return facts
    facts = [
        ["Driver", f"{g.driver_version} (CUDA up to {cuda_matrix.format_version(g.driver_cuda)})"]
    ]
    for device in g.devices:
        capability = (
            cuda_matrix.capability_words(device.capability) if device.capability else "unknown"
        )
        facts.append(
            [
                f"GPU {device.index}",
                f"{device.name}: {human_bytes(device.total_bytes)} total, "
                f"{human_bytes(device.free_bytes)} free; {capability}",
            ]
        )
    return facts


def _torch_facts(p: Probed) -> Facts:
    t = p.torch
    facts = [["Python", t.python]]
    if t.failure or t.import_error:
        facts.append(["PyTorch", t.failure or t.import_error or ""])
        return facts
    facts.append(["Version", t.version or "unknown"])
    facts.append(["Built with CUDA", t.cuda or ("ROCm " + t.hip if t.hip else "none (CPU build)")])
    facts.append(["Sees", ", ".join(d.name for d in t.devices) if t.available else "no GPU"])
    if t.arch_list:
        facts.append(["Kernels for", " ".join(t.arch_list)])
    facts += [["PyTorch warned", warning.strip()] for warning in t.warnings]
    return facts


def _smoke_facts(p: Probed) -> Facts:
    if p.smoke_skipped:
        return [["Not run", p.smoke_skipped]]
    facts = [["Precision", p.smoke_note]] if p.smoke_note else []
    for result in p.smoke:
        label = f"{result.device} · {PRECISION_WORDS.get(result.precision, result.precision)}"
        timing = f" ({result.seconds * 1000:.0f} ms)" if result.seconds is not None else ""
        facts.append([label, result.message + timing])
    return facts


def _backend_facts(p: Probed) -> Facts:
    s = p.setup
    facts = [["Trainer", f"{s.name} ({s.title})"]]
    if s.folder is not None:
        facts.append(["Folder", str(s.folder)])
    facts.append(["Runs with", s.python_source])
    if s.version:
        facts.append(["Version", s.version])
    if s.optimizer and s.optimizer_package:
        facts.append(["Optimizer", f"{s.optimizer}, from the {s.optimizer_package.module} package"])
    if p.imports and not p.imports.failure:
        imported = [spec for spec, result in p.imports.modules.items() if result.get("ok")]
        if imported:
            facts.append(["Imports", ", ".join(imported)])
    return facts


def _disk_facts(p: Probed) -> Facts:
    facts = [
        ["Free", f"{human_bytes(p.disk.free)} of {human_bytes(p.disk.total)} at {p.disk.path}"]
    ]
    if p.estimate is None:
        facts.append(["Run writes", "unknown without a project"])
        return facts
    for words, size in p.estimate.parts():
        facts.append([words[0].upper() + words[1:], human_bytes(size)])
    facts.append(["Run writes in all", human_bytes(p.estimate.total_bytes)])
    return facts


def _memory_facts(p: Probed) -> Facts:
    facts = [["RAM", f"{human_bytes(p.memory.available)} free of {human_bytes(p.memory.total)}"]]
    if p.family:
        need = run_need(p.family, p.config.mixed_precision, p.setup.name, p.config.device)
        facts.append(["Loading the model", f"about {human_bytes(need.loading)}"])
        if need.verify_copy:
            facts.append(
                [
                    "Checking saved LoRAs",
                    f"about {human_bytes(need.verifying)}: a {need.verify_words} copy of the "
                    "base model, kept for the whole run",
                ]
            )
        facts.append(["The run needs at its peak", f"about {human_bytes(need.total)}"])
    return facts


def _python_facts(p: Probed) -> Facts:
    facts = [["loragate", loragate_python()]]
    trainer = (p.imports.python_version if p.imports else None) or p.torch.python_version
    if p.setup.name != "native" and trainer:
        facts.append([p.setup.title, f"{trainer} ({p.setup.python})"])
    return facts


_FACTS = {
    "config": _config_facts,
    "gpu": _gpu_facts,
    "torch": _torch_facts,
    "smoke": _smoke_facts,
    "backend": _backend_facts,
    "disk": _disk_facts,
    "memory": _memory_facts,
    "python": _python_facts,
}


def build_checks(probed: Probed, findings: list[Finding]) -> list[dict[str, Any]]:
    checks = []
    for key, title in GROUPS:
        severities = {f.severity for f in findings if group_of(f) == key}
        if "block" in severities:
            status = "block"
        elif "warn" in severities:
            status = "warn"
        elif key == "smoke" and probed.smoke_skipped:
            status = "skipped"
        else:
            status = "pass"
        checks.append({"key": key, "title": title, "status": status, "facts": _FACTS[key](probed)})
    return checks
