"""The run supervisor: the work of a "training.run" job, in the worker's child process.

It checks again that training may start (``start.check_may_train``: a job started by
any other means refuses as the Start button would), launches the trainer as its own
child (in the job's process group, so Cancel reaches it), turns the trainer's output
into stored events through the JobHandle (the worker stores them in SQLite and streams
them over SSE), keeps the run's row up to date, and decides how the attempt ended:

- out of memory → the next rung of the OOM ladder, relaunched from the newest complete
  checkpoint (the lower-resolution rung waits for the artist's answer);
- finished only when the trainer exited 0, said it completed, and the final LoRA passes
  its load check (``lora_check``): an exit 1 after "complete" is a failure;
- a non-finite loss, a crash, a missing file or a trainer silent for ``STALL_SECONDS``
  → failed, in the trainer's words and with its last log lines.

Step events continue without a gap or a duplicate across relaunches and resumes: a
relaunched trainer redoes the steps after its checkpoint, and only steps past the last
one stored are passed on (a trainer that counts from 0 again after a resume, as
sd-scripts does, has its numbers moved by the launch's offset first). The external
trainers write sample images without a console line: the supervisor looks for new ones
in each one's sample folder (``samples``) and reports them as the native trainer's are.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import psutil

from app import journal
from app.gates.state import training_allowed
from app.models import Run
from app.models.base import utcnow
from app.runs import ladder
from app.runs.gpu_sampler import GpuSampler
from app.runs.launch import Launch, prepare_launch
from app.runs.output import mentions_oom
from app.runs.records import run_by_id, run_dir, update_run
from app.runs.resume_points import newest_resume_point
from app.runs.samples import SampleWatcher, sample_folders, sample_step
from app.runs.start import TrainingRefused, check_run_may_start
from app.training.backends import BackendUnsupported, checked_output_name
from app.training.config import TrainingConfig
from app.training.lora_check import lora_problem
from app.training.trainer_output import (
    Failure,
    Finished,
    LineSplitter,
    Progress,
    Sample,
    Saved,
    TrainerEvent,
    parse_line,
)
from app.worker import JobCancelled, JobHandle
from app.workspace import ProjectContext

STALL_SECONDS = float(os.environ.get("LORAGATE_TRAINING_STALL_SECONDS", 1800))
ROW_INTERVAL = 2.0  # seconds between writes of the run's step, loss and cost
LINES_PER_SECOND = 20  # log lines passed on as events; the job's log keeps them all
SAMPLE_LOOK_SECONDS = 1.0  # between looks into an external trainer's sample folder
TAIL_LINES = 40
TERMINATE_GRACE = 10.0


@dataclass
class Outcome:
    # finished | oom | nan | missing_file | bad_config | bad_argument | crash | stalled |
    # cancelled
    kind: str
    message: str = ""
    step: int = 0
    lora: str = ""  # finished: the final LoRA file


@dataclass
class Attempt:
    failure: Failure | None = None
    finished: Finished | None = None
    final_save: str | None = None  # a save without a step number: the final LoRA
    failure_step: int = 0  # the step the first failure names, or the one in progress
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    last_output: float = field(default_factory=time.monotonic)


def run_job(handle: JobHandle) -> dict[str, Any]:
    ctx: ProjectContext = handle.ctx
    run = run_by_id(ctx, int(handle.params.get("run_id", 0)))
    if run is None:
        raise RuntimeError("This training run no longer exists.")
    # A run that has started before continues from its checkpoints, however its job was
    # started again (the run page's Resume, or the generic Resume of its job).
    resuming = run.started_at is not None
    try:
        if resuming:
            permission = training_allowed(ctx)
            if not permission.allowed:
                raise TrainingRefused(permission.reasons)
        else:
            check_run_may_start(ctx, run)
    except TrainingRefused as refused:
        message = "Training was refused: " + " ".join(refused.reasons)
        update_run(ctx, run.id or 0, state="failed", message=message, finished_at=utcnow())
        raise RuntimeError(message) from None
    try:
        return RunSupervisor(handle, ctx, run).supervise(resume=resuming)
    except (JobCancelled, RunFailed):
        raise
    except Exception as exc:
        # A fault of the supervisor itself: the run must not go on saying "training".
        message = f"loragate's run supervisor stopped with an error: {exc}. Resume continues."
        update_run(ctx, run.id or 0, state="interrupted", message=message, finished_at=utcnow())
        raise


class RunFailed(RuntimeError):
    """The run ended as failed; its row and the journal already say why."""


# A trainer's progress bar draws a step more than once: sd-scripts' update(1) draws it
# with the step before's average loss, its set_postfix then with this step's. A step
# of a bar is stored from its last drawing, once the next step starts or a second has
# passed; the native trainer prints each step once, as a JSON line, and is stored at once.
DRAWING_SECONDS = 1.0
PROGRESS_FIELDS = tuple(f.name for f in fields(Progress))  # a later drawing's, where set


class RunSupervisor:
    def __init__(self, handle: JobHandle, ctx: ProjectContext, run: Run) -> None:
        self.handle = handle
        self.ctx = ctx
        self.run = run
        self.folder = run_dir(ctx, run.number)
        self.base_seconds = run.seconds
        self.attempt_started = time.monotonic()
        self.last_step = max(run.step, last_stored_step(ctx, run))
        self.total = run.total_steps
        self.last_row = 0.0
        self.last_loss: float | None = run.last_loss
        self.lines_window = (0.0, 0)
        self.config = ladder.with_rungs(TrainingConfig.model_validate(run.config), run.rungs)
        self.gpu = GpuSampler(self.config.device)
        self.lock = threading.Lock()  # the stdout and stderr readers take turns
        self.name = checked_output_name(self.config, ctx.project.slug)
        self.samples = SampleWatcher(sample_folders(run.backend, self.folder, self.name))
        self.launch: Launch | None = None
        self.drawn: Progress | None = None  # a bar's step, drawn and not yet stored
        self.drawn_at = 0.0

    # -- the whole run --------------------------------------------------------------
    def supervise(self, *, resume: bool) -> dict[str, Any]:
        run = self.run
        self.run = update_run(
            self.ctx,
            run.id or 0,
            state="running",
            message="",
            started_at=run.started_at or utcnow(),
            finished_at=None,
            job_id=self.handle.id,
            job_ids=run.job_ids
            if self.handle.id in run.job_ids
            else [*run.job_ids, self.handle.id],
        )
        self.handle.event("run", state="running", number=run.number)
        while True:
            try:
                launch = prepare_launch(
                    self.ctx, run.backend, self.config, self.folder, resume=resume
                )
            except BackendUnsupported as exc:
                self._fail(str(exc))
            self.total = launch.total_steps or self.total
            self.run = update_run(
                self.ctx, run.id or 0, command=launch.command, total_steps=self.total
            )
            outcome = self._attempt(launch)
            if outcome.kind == "cancelled":
                self._save_progress(message="Cancelled. Checkpoints are kept.", state="cancelled")
                raise JobCancelled()
            if outcome.kind == "finished":
                return self._finish(outcome)
            if outcome.kind == "oom":
                waiting = self._climb(outcome)
                if waiting:
                    return {"run": run.number, "waiting": True}
                resume = True
                continue
            self._fail(outcome.message, outcome.kind)

    # -- one launch of the trainer ---------------------------------------------------
    def _attempt(self, launch: Launch) -> Outcome:
        self.launch = launch
        self.attempt_started = time.monotonic()
        self.handle.log(f"Launching: {launch.command}")
        self.handle.event("start", total=self.total, resume=launch.resume, command=launch.command)
        attempt = Attempt()
        process = subprocess.Popen(
            launch.argv,
            cwd=launch.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        readers = [
            threading.Thread(target=self._read, args=(stream, attempt), daemon=True)
            for stream in (process.stdout, process.stderr)
        ]
        for reader in readers:
            reader.start()
        stopped = ""  # why loragate stopped the trainer: cancelled | stalled | nan
        looked = time.monotonic()
        while process.poll() is None or any(reader.is_alive() for reader in readers):
            if time.monotonic() - looked >= SAMPLE_LOOK_SECONDS:
                looked = time.monotonic()
                self._look_for_samples()
            with self.lock:
                if self.drawn is not None and time.monotonic() - self.drawn_at >= DRAWING_SECONDS:
                    self._store_drawn_step()
            if not stopped and process.poll() is None:
                if self.handle.cancelled:
                    stopped = "cancelled"
                elif attempt.failure is not None and attempt.failure.kind == "nan":
                    stopped = "nan"  # a backend that trains on after a NaN: not here
                elif time.monotonic() - attempt.last_output > STALL_SECONDS:
                    stopped = "stalled"
                if stopped:
                    _stop(process)
            time.sleep(0.1)
        returncode = process.returncode
        with self.lock:
            self._store_drawn_step()
        self._look_for_samples()
        self._look_for_samples()  # a file is reported once two looks saw the same size
        self._add_seconds()
        return self._outcome(attempt, returncode, stopped, launch)

    def _outcome(self, attempt: Attempt, returncode: int, stopped: str, launch: Launch) -> Outcome:
        tail = list(attempt.tail)
        step = self.last_step
        if stopped == "cancelled" or self.handle.cancelled:
            return Outcome("cancelled")
        if stopped == "stalled":
            return Outcome(
                "stalled",
                f"The trainer printed nothing for {STALL_SECONDS / 60:g} minutes and was "
                f"stopped at step {step}. Its last lines: {_lines(tail)}",
                step,
            )
        failure = attempt.failure
        if failure is not None and failure.kind == "nan" and self.run.backend != "native":
            # Whatever the exit status: a run that saw a non-finite loss is not finished.
            where = (
                f"at step {failure.step}"
                if failure.step is not None
                # ai-toolkit prints "loss is nan" without a step; its bar lags behind.
                else f"after step {attempt.failure_step - 1} (the trainer does not say which)"
            )
            return Outcome(
                "nan",
                f"The loss stopped being a number {where}: training stopped rather than "
                f"spread it into the LoRA ({failure.message}). Lower the learning rate, or "
                "check the images of that step.",
                attempt.failure_step,
            )
        if failure is not None and (returncode != 0 or self.run.backend == "native"):
            message = failure.message or f"The trainer failed ({failure.kind})."
            if self.run.backend != "native":
                message += (
                    f" (The trainer exited with status {returncode} at step {step}. "
                    f"Its last lines: {_lines(tail)})"
                )
            where = failure.step if failure.step is not None else step
            return Outcome(failure.kind, message, where)
        if returncode != 0:
            if mentions_oom(tail):
                return Outcome("oom", "The GPU ran out of memory.", step)
            said = " It had said it finished: that is not trusted." if attempt.finished else ""
            return Outcome(
                "crash",
                f"The trainer exited with status {returncode} at step {step}.{said} "
                f"Its last lines: {_lines(tail)}",
                step,
            )
        if attempt.finished is None:
            return Outcome(
                "crash",
                f"The trainer exited at step {step} without saying it finished. "
                f"Its last lines: {_lines(tail)}",
                step,
            )
        if not attempt.finished.complete:
            return Outcome(
                "crash", f"The trainer stopped at step {step} of {self.total} before the end.", step
            )
        path = attempt.finished.path or attempt.final_save or str(launch.final_lora)
        return Outcome("finished", "", step, path)

    def _read(self, stream: Any, attempt: Attempt) -> None:
        splitter = LineSplitter()
        while True:
            chunk = os.read(stream.fileno(), 65536)
            lines = splitter.feed(chunk) if chunk else splitter.close()
            if chunk:
                attempt.last_output = time.monotonic()
            for line in lines:
                event = _shifted(parse_line(self.run.backend, line), self._offset())
                with self.lock:
                    if event is None or isinstance(event, Failure):
                        self._on_log_line(line, attempt)
                    if event is not None:
                        self._on_event(event, attempt)
            if not chunk:
                return

    def _on_log_line(self, line: str, attempt: Attempt) -> None:
        attempt.tail.append(line)
        print(line, flush=True)  # the job's log keeps every line but progress bars
        second, count = self.lines_window
        now = time.monotonic()
        if now - second >= 1.0:
            second, count = now, 0
        if count < LINES_PER_SECOND:
            self.handle.event("line", text=line[:2000])
        self.lines_window = (second, count + 1)

    def _offset(self) -> int:
        return self.launch.step_offset if self.launch is not None else 0

    def _look_for_samples(self) -> None:
        steps_per_epoch = self.launch.steps_per_epoch if self.launch is not None else 0
        for path in self.samples.new():
            step = sample_step(self.run.backend, path.name, self._offset(), steps_per_epoch)
            with self.lock:
                self.handle.event("sample", step=step, path=_relative(path, self.folder))

    # -- the trainer's events ---------------------------------------------------------
    def _on_event(self, event: TrainerEvent, attempt: Attempt) -> None:
        if isinstance(event, Progress):
            self.total = event.total or self.total
            if self.run.backend == "native":
                self._on_step(event)
            else:
                self._on_drawing(event)
        elif isinstance(event, Saved):
            if event.step is None:
                attempt.final_save = event.path
            else:
                self._on_checkpoint(event)
        elif isinstance(event, Sample):
            self.handle.event(
                "sample", step=event.step, path=_relative(Path(event.path), self.folder)
            )
        elif isinstance(event, Finished):
            attempt.finished = event
        elif isinstance(event, Failure) and attempt.failure is None:
            attempt.failure = event  # the first is the cause; later ones are its echoes
            seen = self.drawn.step if self.drawn is not None else self.last_step
            attempt.failure_step = event.step if event.step is not None else seen + 1

    def _on_drawing(self, event: Progress) -> None:
        drawn = self.drawn
        if drawn is not None and event.step == drawn.step:
            changed = {name: getattr(event, name) for name in PROGRESS_FIELDS}
            self.drawn = replace(drawn, **{k: v for k, v in changed.items() if v is not None})
            return
        self._store_drawn_step()
        if event.step > self.last_step:
            self.drawn, self.drawn_at = event, time.monotonic()

    def _store_drawn_step(self) -> None:
        drawn, self.drawn = self.drawn, None
        if drawn is not None:
            self._on_step(drawn)

    def _on_step(self, event: Progress) -> None:
        step = event.step
        if step <= self.last_step:
            return  # redone after a relaunch from an earlier checkpoint: already stored
        self.last_step = step
        per_step = event.seconds_per_step
        eta = (self.total - step) * per_step if per_step is not None else event.eta_seconds
        sample = self.gpu.sample()
        if event.loss is not None:
            self.last_loss = event.loss
        elapsed = self._seconds()
        self.handle.event(
            "step",
            step=step,
            total=self.total,
            epoch=event.epoch,
            loss=event.loss,
            smoothed_loss=event.smoothed_loss,
            lr=event.lr,
            seconds_per_step=per_step,
            eta_seconds=None if eta is None else round(eta, 1),
            vram_used_gb=sample.used_gb if sample else event.peak_vram_gb,
            vram_total_gb=sample.total_gb if sample else None,
            gpu_util=sample.utilisation if sample else None,
            elapsed_seconds=round(elapsed, 1),
            cost=round(self._cost(elapsed), 4),
            currency=self.run.currency,
        )
        self.handle.progress(step, self.total)
        if time.monotonic() - self.last_row >= ROW_INTERVAL:
            self._save_progress()

    def _on_checkpoint(self, event: Saved) -> None:
        lora = Path(event.path)
        entry = {
            "step": event.step,
            "path": _relative(
                lora.parent if lora.name == "lora.safetensors" else lora, self.folder
            ),
            "lora": _relative(lora, self.folder),
        }
        kept = [c for c in self.run.checkpoints if (self.folder / c["path"]).exists()]
        self.run = update_run(self.ctx, self.run.id or 0, checkpoints=[*kept, entry])
        self.handle.event("checkpoint", **entry)
        self._save_progress()

    # -- the run's row ----------------------------------------------------------------
    def _seconds(self) -> float:
        return self.base_seconds + time.monotonic() - self.attempt_started

    def _cost(self, seconds: float) -> float:
        return seconds / 3600 * self.run.hourly_cost

    def _add_seconds(self) -> None:
        self.base_seconds = self._seconds()
        self.attempt_started = time.monotonic()

    def _save_progress(self, **values: Any) -> None:
        self.last_row = time.monotonic()
        seconds = self._seconds()
        if "state" in values:
            values["finished_at"] = utcnow()
        self.run = update_run(
            self.ctx,
            self.run.id or 0,
            step=self.last_step,
            total_steps=self.total,
            last_loss=self.last_loss,
            seconds=seconds,
            cost=self._cost(seconds),
            **values,
        )

    # -- endings ----------------------------------------------------------------------
    def _climb(self, outcome: Outcome) -> bool:
        """The next rung after an OOM; True when the run now waits for the artist."""
        taken = [rung["rung"] for rung in self.run.rungs]
        found = ladder.next_rung(self.config, taken)
        if found is None:
            self._fail(ladder.diagnosis(self.config, self.run.rungs), "oom")
        rung, changes = found  # type: ignore[misc]
        newest = newest_resume_point(self.run.backend, self.folder, self.name)
        record = {
            "rung": rung.key,
            "title": rung.title,
            "changes": ladder.described(changes, self.config),
            "at_step": outcome.step + 1,
            "resumed_from": newest.step if newest else 0,
            "at": utcnow().isoformat(),
        }
        if rung.asks:
            question = (
                f"The GPU ran out of memory at step {record['at_step']} even with "
                f"{', '.join(r['title'] for r in self.run.rungs) or 'the settings as they were'}. "
                f"Train {rung.title} ({self.config.resolution} → {changes['resolution']} px)? "
                "It changes the result: the LoRA learns less fine detail."
            )
            self._save_progress(
                state="waiting", question={"rung": record, "question": question}, message=question
            )
            self.handle.event("run", state="waiting", question=question)
            self._journal(
                "training.oom_question",
                f"Run {self.run.number} ran out of memory; it asks: {question}",
            )
            return True
        self.config = ladder.apply(self.config, changes)
        self._save_progress(rungs=[*self.run.rungs, record])
        self.handle.event("rung", **record)
        self._journal(
            "training.oom_rung",
            f"Run {self.run.number} ran out of memory at step {record['at_step']}: it continues "
            f"from step {record['resumed_from']} with {rung.title}.",
        )
        return False

    def _finish(self, outcome: Outcome) -> dict[str, Any]:
        lora = Path(outcome.lora)
        if not lora.is_absolute():
            lora = self.folder / lora
        problem = lora_problem(lora)
        if problem:
            self._fail(problem)
        relative = _relative(lora, self.folder)
        self._save_progress(
            state="finished",
            output_files=[relative],
            message=f"Finished: {relative}.",
        )
        self.handle.event("run", state="finished", lora=relative)
        rungs = ", ".join(r["title"] for r in self.run.rungs)
        fitted = f" It fitted with {rungs}." if rungs else ""
        self._journal(
            "training.finished",
            f"Training run {self.run.number} finished after {self.last_step} steps: "
            f"{relative}.{fitted}",
        )
        return {"run": self.run.number, "lora": relative, "steps": self.last_step}

    def _fail(self, message: str, kind: str = "crash") -> None:
        self._save_progress(state="failed", message=message)
        self.handle.event("run", state="failed", kind=kind, message=message)
        self._journal("training.failed", f"Training run {self.run.number} failed: {message}")
        raise RunFailed(message)

    def _journal(self, kind: str, message: str) -> None:
        with self.ctx.workspace.db.writing() as session:
            journal.record(
                session, self.ctx.project, self.ctx.dir, kind, message, {"run": self.run.number}
            )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the trainer and everything it started (a launch script's trainer, an
    accelerate launcher's workers): SIGTERM, then SIGKILL after the grace period. They
    share the job's process group (so a Cancel or a killed job reaches them), so they
    are found as this process's descendants, not by group."""
    try:
        family = [psutil.Process(process.pid)]
        family += family[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _gone, alive = psutil.wait_procs(family, timeout=TERMINATE_GRACE)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()


def _shifted(event: TrainerEvent | None, offset: int) -> TrainerEvent | None:
    """The event with the trainer's step numbers made the run's."""
    if offset and event is not None and not isinstance(event, Finished) and event.step is not None:
        event.step += offset
    return event


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.name


def _lines(tail: list[str]) -> str:
    return " | ".join(tail[-5:]) or "(none)"


def last_stored_step(ctx: ProjectContext, run: Run) -> int:
    """The newest step event stored for the run's jobs (what the chart already has)."""
    if not run.job_ids:
        return 0
    marks = ",".join("?" * len(run.job_ids))
    sql = (
        f"SELECT data FROM jobevent WHERE job_id IN ({marks}) AND type = 'step' "
        "ORDER BY id DESC LIMIT 1"
    )
    with ctx.workspace.db.reading() as session:
        connection = session.connection().connection.dbapi_connection
        row = connection.cursor().execute(sql, list(run.job_ids)).fetchone()  # type: ignore[union-attr]
    if row is None:
        return 0
    return int(json.loads(row[0]).get("step") or 0)
