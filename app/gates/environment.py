"""Gate 3 · Environment: can this machine run this project's training now?

GPU and driver (NVML), PyTorch (version, CUDA runtime, kernels for the GPU), a kernel
smoke test in the config's precision, the chosen trainer, free disk against what the
run writes, RAM against what loading the model needs, and the Python versions.

The slow probes (PyTorch, the smoke test, the trainer's imports) run in child
processes at the same time. The fingerprint is cheap: the GPU models and driver (NVML,
cached for seconds), torch's version read from its files, the trainer's version, and
the settings judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import gpu_probe
from app.dataset.inventory import inventory
from app.demo import is_demo
from app.disk_space import disk_space
from app.environment.backend_findings import backend_findings, ready_alternatives
from app.environment.backends import BackendSetup, locate
from app.environment.checklist import Probed, build_checks
from app.environment.device import RunSize, device_findings
from app.environment.disk import disk_findings
from app.environment.memory import memory_findings, system_memory
from app.environment.probes import Progress, run_probes
from app.environment.python_version import python_findings
from app.environment.smoke import smoke_findings, trainer_precision
from app.environment.torch_info import read_install, torch_findings
from app.environment.trainer_fit import optimizer_device_problem
from app.findings import Finding, GateResult, digest, make_result
from app.grimoire import BackendPaths, GrimoireError
from app.training.config import ConfigFileError, TrainingConfig, load_config
from app.training.outputs import estimate_outputs
from app.training.steps import plan_steps
from app.workspace import ProjectContext, Workspace

GATE = "environment"


@dataclass(frozen=True)
class Inputs:
    """What the check judges against, read cheaply (no image is opened)."""

    config: TrainingConfig
    config_source: str  # "training.json" | "defaults" | "unreadable"
    family: str | None
    backend: str
    paths: BackendPaths
    output_dir: Path
    problems: tuple[Finding, ...] = field(default=())
    demo: bool = False  # the demo project (app/demo): its tiny model trains on the CPU


def project_inputs(ctx: ProjectContext) -> Inputs:
    problems: list[Finding] = []
    try:
        config = load_config(ctx.dir)
        source = "training.json" if config is not None else "defaults"
    except ConfigFileError as exc:
        config, source = None, "unreadable"
        problems.append(
            Finding(
                code="config.unreadable",
                severity="block",
                subject="training.json",
                message=f"{exc} The environment was judged against loragate's defaults instead.",
                why="The checks (device, precision, disk for the run) depend on the config; "
                "a config loragate cannot read cannot be trained with either.",
                fix="Open the Config page (Gate 2) and save the settings again, or fix "
                "training.json by hand.",
                source="preflight-checklist#the-settings-judged",
            )
        )
    if config is None and source == "defaults":
        problems.append(
            Finding(
                code="config.defaults",
                severity="info",
                subject="training.json",
                message="No training config has been written for this project yet, so the "
                "environment was judged against loragate's defaults (device cuda, bf16, one GPU).",
                why="Which device and precision the run uses decides what has to work here.",
                fix="Write the config on the Config page (Gate 2); this gate goes out of date "
                "and asks to be run again when device, precision or GPU count change.",
                source="preflight-checklist#the-settings-judged",
            )
        )
    paths, paths_problem = _backend_paths(ctx.workspace, ctx.project.backend)
    if paths_problem:
        problems.append(paths_problem)
    return Inputs(
        config or TrainingConfig(),
        source,
        ctx.project.model_family,
        ctx.project.backend,
        paths,
        ctx.dir,
        tuple(problems),
        demo=is_demo(ctx.project),
    )


def machine_inputs(workspace: Workspace) -> Inputs:
    """No project: the native trainer and the default config, outputs in the grimoire."""
    return Inputs(
        TrainingConfig(),
        "defaults",
        None,
        "native",
        BackendPaths(),
        workspace.settings.training_dir,
    )


def _backend_paths(workspace: Workspace, backend: str) -> tuple[BackendPaths, Finding | None]:
    try:
        return workspace.studio().backends, None
    except GrimoireError as exc:
        if backend == "native":
            return BackendPaths(), None
        return BackendPaths(), Finding(
            code="backend.studio_unreadable",
            severity="block",
            subject="studio.md",
            message=f"{exc} The trainers' folders listed there are unknown.",
            why="loragate finds kohya, SimpleTuner and ai-toolkit through studio.md.",
            fix="Fix the settings block at the top of grimoire/studio.md (its comments show "
            "the format) and run the checks again.",
            source="preflight-checklist#the-trainer-backend",
        )


def _judged_config(inputs: Inputs) -> dict[str, Any]:
    config = inputs.config
    return {
        "device": config.device,
        "precision": config.mixed_precision,
        "num_gpus": config.num_gpus,
        "optimizer": config.optimizer,
        "source": inputs.config_source,
    }


def _parts(inputs: Inputs, setup: BackendSetup, gpus: gpu_probe.GpuReport) -> dict[str, str]:
    return {
        "gpu": digest(gpus.identity),
        "torch": digest(read_install(setup.python).identity),
        "backend": digest(setup.identity),
        "config": digest(_judged_config(inputs)),
        "family": digest(inputs.family),
    }


def _locate(inputs: Inputs) -> BackendSetup:
    return locate(inputs.backend, inputs.paths, inputs.family, inputs.config.optimizer)


def fingerprint_of(inputs: Inputs) -> dict[str, str]:
    setup = _locate(inputs)
    return _parts(inputs, setup, gpu_probe.cached_probe())


def fingerprint(ctx: ProjectContext) -> dict[str, str]:
    return fingerprint_of(project_inputs(ctx))


def evaluate(ctx: ProjectContext, progress: Progress | None = None) -> GateResult:
    inputs = project_inputs(ctx)
    items = inventory(ctx)
    # The same bucketed step maths as Gate 2 and the trainers, so both gates quote one
    # run length (training.json keeps epochs; the step count is derived).
    plan = plan_steps(items, inputs.config)
    return judge(
        inputs,
        image_count=plan.images,
        steps=plan.total_steps if plan.images else None,
        progress=progress,
    )


def _smoke_devices(inputs: Inputs, gpus: gpu_probe.GpuReport) -> list[str]:
    if inputs.config.device == "cpu":
        return ["cpu"]
    count = min(inputs.config.num_gpus, max(1, len(gpus.devices)))
    return [f"cuda:{index}" for index in range(count)]


def judge(
    inputs: Inputs,
    *,
    image_count: int = 0,
    steps: int | None = None,
    nvml: Any | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Run every probe and judge. ``nvml`` replaces the pynvml module (tests on machines
    without an NVIDIA GPU); everything else is measured for real. ``progress`` hears of
    each probe as it finishes."""
    config = inputs.config
    setup = _locate(inputs)
    gpus = gpu_probe.probe_gpus(nvml)
    if nvml is None:
        gpu_probe.remember(gpus)
    precision, precision_note = trainer_precision(setup.name, config.device, config.mixed_precision)
    probes = run_probes(setup, _smoke_devices(inputs, gpus), precision, progress)
    torch, imports, smoke = probes.torch, probes.imports, probes.smoke

    smoke_skipped = _smoke_skip_reason(config, torch)
    if config.max_train_steps:
        steps = config.max_train_steps
    run = RunSize(inputs.family, steps, config.train_batch_size)
    estimate = (
        estimate_outputs(config, inputs.family, image_count, steps)
        if inputs.family is not None
        else None
    )
    space = disk_space(inputs.output_dir)
    memory = system_memory()
    trainer_python = (imports.python_version if imports else None) or torch.python_version

    findings = list(inputs.problems)
    findings += device_findings(config, gpus, torch, run, demo=inputs.demo)
    findings += torch_findings(torch, gpus, wants_gpu=config.device == "cuda")
    if smoke_skipped is None:
        for result in smoke:
            findings += smoke_findings(result)
    # A CPU run with a GPU-only optimizer hears that first, and not "install
    # bitsandbytes": installing it would not make the run possible.
    device_problem = optimizer_device_problem(setup.name, config.optimizer, config.device)
    if device_problem is not None:
        findings.append(device_problem)
    findings += [
        finding
        for finding in backend_findings(
            setup, imports, _alternatives(setup, inputs) if not _works(setup, imports) else []
        )
        if device_problem is None or finding.code != "backend.optimizer_missing"
    ]
    findings += disk_findings(space, estimate)
    findings += memory_findings(
        memory, inputs.family, config.mixed_precision, backend=setup.name, device=config.device
    )
    findings += python_findings(setup.name, trainer_python, setup.python)
    probed = Probed(
        config=config,
        config_source=inputs.config_source,
        family=inputs.family,
        gpus=gpus,
        torch=torch,
        smoke=smoke,
        smoke_skipped=smoke_skipped,
        smoke_note=precision_note,
        setup=setup,
        imports=imports,
        disk=space,
        estimate=estimate,
        memory=memory,
    )
    stats = {
        "checks": build_checks(probed, findings),
        "backend": setup.name,
        "family": inputs.family,
        "config_source": inputs.config_source,
        "gpu": detected_gpu(gpus),
    }
    return make_result(GATE, findings, _parts(inputs, setup, gpus), stats)


def detected_gpu(gpus: gpu_probe.GpuReport) -> dict[str, object] | None:
    """The GPU a run trains on (the first), as Gate 2 and the estimates read it back
    when studio.md leaves the GPU to detection (app/training/assessment.py)."""
    if not gpus.devices:
        return None
    device = gpus.devices[0]
    return {"name": device.name, "vram_gb": round(device.total_bytes / 2**30, 1)}


def _smoke_skip_reason(config: TrainingConfig, torch: Any) -> str | None:
    if torch.failure or torch.import_error:
        return "PyTorch could not be loaded (see PyTorch)."
    if config.device == "cuda" and not torch.available:
        return "PyTorch sees no GPU to test (see GPU and PyTorch)."
    return None


def _works(setup: BackendSetup, imports: Any) -> bool:
    if not setup.ready:
        return False
    if imports is None:
        return True
    return imports.failure is None and all(r.get("ok") for r in imports.modules.values())


def _alternatives(setup: BackendSetup, inputs: Inputs) -> list[str]:
    return ready_alternatives(setup.name, inputs.paths, inputs.family)
