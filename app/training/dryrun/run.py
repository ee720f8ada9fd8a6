"""One dry run from start to end: plan it, run the trainer, read what it says, measure,
and write ``dryrun.json`` when it passed. Returns findings; never raises for anything the
trainer or the project's files did (those are findings)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from app.findings import Finding
from app.training.assessment import assess, estimated_speed
from app.training.backends import BackendUnsupported
from app.training.calibration import record_measurement
from app.training.config import ConfigFileError
from app.training.dryrun.findings import finding, from_run
from app.training.dryrun.log import describe
from app.training.dryrun.measure import NvmlPeak, StepTimes, gpu_name
from app.training.dryrun.plan import OutputUnwritable, TrainerMissing, plan_dry_run
from app.training.dryrun.process import DEFAULT_TIMEOUT, run_trainer
from app.training.dryrun.proof import Saves, proof_findings
from app.training.estimates import DryRunMeasurement, write_dryrun_measurement
from app.training.project_config import current_config
from app.training.trainer_output import (
    Failure,
    Finished,
    Progress,
    Sample,
    Saved,
    parse_line,
)
from app.training.vram import VramInputs
from app.workspace import ProjectContext


class Reporter(Protocol):
    def line(self, text: str) -> None: ...

    def progress(self, done: int, total: int, message: str) -> None: ...


@dataclass
class DryRunOutcome:
    backend: str
    steps_asked: int
    findings: list[Finding] = field(default_factory=list)
    measurement: DryRunMeasurement | None = None
    steps: int = 0  # steps the trainer reported
    log_tail: list[str] = field(default_factory=list)

    def stats(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "steps_asked": self.steps_asked,
            "steps": self.steps,
            "measurement": self.measurement.to_json() if self.measurement else None,
            "log_tail": self.log_tail,
        }


def dry_run(
    ctx: ProjectContext, steps: int, report: Reporter, timeout: float = DEFAULT_TIMEOUT
) -> DryRunOutcome:
    outcome = DryRunOutcome(ctx.project.backend, steps)
    try:
        config = current_config(ctx)
    except ConfigFileError as exc:
        outcome.findings.append(finding("bad_argument", str(exc), subject="training.json"))
        return outcome
    assessment = assess(ctx, config)
    outcome.backend = assessment.backend
    report.progress(0, steps, "Writing the trainer's files")
    try:
        plan = plan_dry_run(ctx, assessment, steps)
    except OutputUnwritable as exc:
        outcome.findings.append(finding("unwritable", f"The folder {exc}.", subject="output"))
        return outcome
    except TrainerMissing as exc:
        outcome.findings.append(finding("missing_file", str(exc), subject="studio.md"))
        return outcome
    except BackendUnsupported as exc:
        outcome.findings.append(finding("bad_argument", str(exc), subject="backend"))
        return outcome
    times = StepTimes()
    failures: list[Failure] = []
    finished: list[Finished] = []
    saves = Saves()

    def on_line(text: str) -> bool:
        """Report the line; True stops the trainer."""
        event = parse_line(plan.backend, text)
        # loragate's trainer prints JSON for loragate; the log shows it in words.
        readable = event is not None and plan.backend == "native" and text.startswith("{")
        report.line(describe(event) if readable and event else text)
        if event is None:
            return False
        times.add(event, time.monotonic())
        if isinstance(event, Progress) and event.step > 0:
            report.progress(times.steps, steps, f"Step {times.steps} of {steps}")
        elif isinstance(event, Saved):
            saves.add(event.path, event.step)
            report.progress(times.steps, steps, "Saved a checkpoint")
        elif isinstance(event, Sample):
            report.progress(times.steps, steps, "Drew a sample image")
        elif isinstance(event, Failure):
            # loragate's trainer reports its own failure with what caused it (the
            # sample prompt): that report comes before any traceback line it printed.
            if readable:
                failures.insert(0, event)
            else:
                failures.append(event)
            # External trainers train on past a loss that is not a number; nothing
            # after it can be measured or trusted.
            return event.kind == "nan"
        elif isinstance(event, Finished):
            finished.append(event)
            saves.add(event.path, None)
        return False

    report.progress(0, steps, "Loading the model")
    with NvmlPeak() as nvml:
        run = run_trainer(plan, on_line, timeout)
    outcome.steps = times.steps
    outcome.log_tail = run.tail
    outcome.findings = from_run(run, failures[0] if failures else None, times.steps, bool(finished))
    if not outcome.findings:
        # Exit 0 and "finished" say nothing of the save and the sample it was asked for.
        outcome.findings = proof_findings(plan.backend, plan.output, saves, config.sample_prompts)
    if outcome.findings or times.seconds_per_step is None:
        return outcome
    peak = times.peak_vram_gb
    if peak is None and config.device == "cuda":
        peak = nvml.peak_gb  # a trainer that does not report its own peak
    gpu = assessment.gpu
    model_speed, shown_speed = estimated_speed(ctx, config, assessment.family, plan.backend, gpu)
    # NVML's name where it answers: the name every later lookup is matched against.
    measured_on = gpu_name(config.device) or gpu.name
    outcome.measurement = DryRunMeasurement(
        seconds_per_step=round(times.seconds_per_step, 4),
        peak_vram_gb=peak,
        config_digest=config.digest(),
        gpu_name=measured_on,
        steps=times.steps,
        backend=plan.backend,
        family=assessment.family,
        # The estimates the artist saw before this run (calibrated by earlier runs).
        estimated_seconds_per_step=round(shown_speed.seconds_per_step, 4),
        estimated_vram_gb=round(assessment.vram.total_gb, 3),
        ran_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config=config.model_dump(mode="json"),
    )
    write_dryrun_measurement(ctx.dir, outcome.measurement)
    if measured_on is None:
        return outcome  # a GPU nobody can name cannot be looked up again
    # The series the next estimate on this GPU is calibrated by: against the model's own
    # figures, not the already calibrated ones, so corrections do not compound.
    record_measurement(
        ctx.workspace.db,
        gpu_name=measured_on,
        backend=plan.backend,
        project=ctx.project.slug,
        inputs=VramInputs.from_config(config, assessment.family, plan.backend),
        estimated_vram_gb=assessment.vram.uncalibrated_gb,
        measured_vram_gb=peak,
        estimated_seconds_per_step=model_speed.seconds_per_step,
        measured_seconds_per_step=times.seconds_per_step,
    )
    return outcome
