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
one stored are passed on.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import journal
from app.gates.state import training_allowed
from app.models import Run
from app.models.base import utcnow
from app.training.backends import BackendUnsupported
from app.training.config import TrainingConfig
from app.training.runs import ladder
from app.training.runs.gpu_sampler import GpuSampler
from app.training.runs.launch import Launch, prepare_launch
from app.training.runs.lora_check import lora_problem
from app.training.runs.output import mentions_oom, native_events
from app.training.runs.records import run_by_id, run_dir, update_run
from app.training.runs.start import TrainingRefused, check_run_may_start
from app.worker import JobCancelled, JobHandle
from app.workspace import ProjectContext

STALL_SECONDS = float(os.environ.get("LORAGATE_TRAINING_STALL_SECONDS", 1800))
ROW_INTERVAL = 2.0  # seconds between writes of the run's step, loss and cost
LINES_PER_SECOND = 20  # log lines passed on as events; the job's log keeps them all
TAIL_LINES = 40
TERMINATE_GRACE = 10.0


@dataclass
class Outcome:
    kind: str  # finished | oom | nan | missing_file | bad_config | crash | stalled | cancelled
    message: str = ""
    step: int = 0
    done: dict[str, Any] | None = None


@dataclass
class Attempt:
    events: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    done: dict[str, Any] | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    last_output: float = field(default_factory=time.monotonic)


def run_job(handle: JobHandle) -> dict[str, Any]:
    ctx: ProjectContext = handle.ctx
    run = run_by_id(ctx, int(handle.params.get("run_id", 0)))
    if run is None:
        raise RuntimeError("This training run no longer exists.")
    resuming = bool(handle.params.get("resume")) and run.started_at is not None
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
    return RunSupervisor(handle, ctx, run).supervise(resume=resuming)


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

    # -- the whole run --------------------------------------------------------------
    def supervise(self, *, resume: bool) -> dict[str, Any]:
        run = self.run
        self.run = update_run(
            self.ctx,
            run.id or 0,
            state="running",
            message="",
            started_at=run.started_at or utcnow(),
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
        self.attempt_started = time.monotonic()
        self.handle.log(f"Launching: {launch.command}")
        attempt = Attempt()
        process = subprocess.Popen(
            launch.argv,
            cwd=launch.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None and process.stderr is not None
        reader = threading.Thread(
            target=self._read_stderr, args=(process.stderr, attempt), daemon=True
        )
        reader.start()
        stalled = cancelled = False
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            buffer = b""
            while True:
                ready = selector.select(timeout=0.5)
                if ready:
                    chunk = os.read(process.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    attempt.last_output = time.monotonic()
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for raw in lines:
                        for event in native_events(raw.decode("utf-8", "replace")):
                            self._on_event(event, attempt)
                if self.handle.cancelled and not cancelled:
                    cancelled = True
                    _stop(process)
                elif time.monotonic() - attempt.last_output > STALL_SECONDS and not stalled:
                    stalled = True
                    _stop(process)
        # stdout closed; the trainer may still be ending (or stuck ending).
        while process.poll() is None:
            if self.handle.cancelled and not cancelled:
                cancelled = True
                _stop(process)
            elif time.monotonic() - attempt.last_output > STALL_SECONDS and not stalled:
                stalled = True
                _stop(process)
            time.sleep(0.2)
        returncode = process.returncode
        reader.join(5)
        self._add_seconds()
        tail = list(attempt.tail)
        if cancelled or self.handle.cancelled:
            return Outcome("cancelled")
        if stalled:
            return Outcome(
                "stalled",
                f"The trainer printed nothing for {STALL_SECONDS / 60:g} minutes and was "
                f"stopped at step {self.last_step}. Its last lines: {_lines(tail)}",
                self.last_step,
            )
        if attempt.error is not None:
            error = attempt.error
            kind = str(error.get("kind", "crash"))
            return Outcome(kind, str(error.get("message", "")), int(error.get("step") or 0))
        if returncode != 0:
            if mentions_oom(tail):
                return Outcome("oom", "The GPU ran out of memory.", self.last_step)
            said = " It had said it finished: that is not trusted." if attempt.done else ""
            return Outcome(
                "crash",
                f"The trainer exited with status {returncode} at step {self.last_step}.{said} "
                f"Its last lines: {_lines(tail)}",
                self.last_step,
            )
        if attempt.done is None:
            return Outcome(
                "crash",
                f"The trainer exited at step {self.last_step} without saying it finished. "
                f"Its last lines: {_lines(tail)}",
                self.last_step,
            )
        return Outcome("finished", "", self.last_step, attempt.done)

    def _read_stderr(self, stream: Any, attempt: Attempt) -> None:
        buffer = b""
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            attempt.last_output = time.monotonic()
            buffer += chunk
            *lines, buffer = buffer.replace(b"\r", b"\n").split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._on_log_line(line, attempt)

    def _on_log_line(self, line: str, attempt: Attempt) -> None:
        attempt.tail.append(line)
        print(line, flush=True)  # the job's log keeps every line
        second, count = self.lines_window
        now = time.monotonic()
        if now - second >= 1.0:
            second, count = now, 0
        if count < LINES_PER_SECOND:
            self.handle.event("line", text=line[:2000])
        self.lines_window = (second, count + 1)

    # -- the trainer's events ---------------------------------------------------------
    def _on_event(self, event: dict[str, Any], attempt: Attempt) -> None:
        kind = event.get("event")
        if kind == "step":
            self._on_step(event)
        elif kind == "start":
            self.total = int(event.get("total") or self.total)
            self.handle.event(
                "start",
                total=self.total,
                resumed_from=event.get("resumed_from"),
                device=event.get("device"),
            )
        elif kind == "checkpoint":
            self._on_checkpoint(event)
        elif kind == "sample":
            path = Path(str(event.get("path", "")))
            self.handle.event(
                "sample",
                step=event.get("step"),
                index=event.get("index"),
                prompt=event.get("prompt"),
                path=_relative(path, self.folder),
            )
        elif kind == "done":
            attempt.done = event
        elif kind == "error":
            attempt.error = event

    def _on_step(self, event: dict[str, Any]) -> None:
        step = int(event.get("step") or 0)
        if step <= self.last_step:
            return  # redone after a relaunch from an earlier checkpoint: already stored
        self.last_step = step
        self.total = int(event.get("total") or self.total)
        seconds_per_step = event.get("seconds_per_step")
        eta = (
            (self.total - step) * float(seconds_per_step)
            if isinstance(seconds_per_step, int | float)
            else None
        )
        sample = self.gpu.sample()
        loss = event.get("loss")
        self.last_loss = float(loss) if isinstance(loss, int | float) else self.last_loss
        elapsed = self._seconds()
        self.handle.event(
            "step",
            step=step,
            total=self.total,
            epoch=event.get("epoch"),
            loss=loss,
            smoothed_loss=event.get("smoothed_loss"),
            lr=event.get("lr"),
            seconds_per_step=seconds_per_step,
            eta_seconds=None if eta is None else round(eta, 1),
            vram_used_gb=sample.used_gb if sample else event.get("peak_vram_gb"),
            vram_total_gb=sample.total_gb if sample else event.get("vram_total_gb"),
            gpu_util=sample.utilisation if sample else None,
            elapsed_seconds=round(elapsed, 1),
            cost=round(self._cost(elapsed), 4),
            currency=self.run.currency,
        )
        self.handle.progress(step, self.total)
        if time.monotonic() - self.last_row >= ROW_INTERVAL:
            self._save_progress()

    def _on_checkpoint(self, event: dict[str, Any]) -> None:
        entry = {
            "step": int(event.get("step") or 0),
            "path": _relative(Path(str(event.get("path", ""))), self.folder),
            "lora": _relative(Path(str(event.get("lora_path", ""))), self.folder),
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
        from app.training.native.checkpoint import newest_complete

        newest = newest_complete(self.folder / "checkpoints")
        record = {
            "rung": rung.key,
            "title": rung.title,
            "changes": ladder.described(changes, self.config),
            "at_step": outcome.step + 1,
            "resumed_from": int(newest.name.split("-")[1]) if newest else 0,
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
        done = outcome.done or {}
        lora = Path(str(done.get("lora_path", "")))
        if not done.get("complete"):
            self._fail(
                f"The trainer stopped at step {self.last_step} of {self.total} before the end."
            )
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
        raise RuntimeError(message)

    def _journal(self, kind: str, message: str) -> None:
        with self.ctx.workspace.db.writing() as session:
            journal.record(
                session, self.ctx.project, self.ctx.dir, kind, message, {"run": self.run.number}
            )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(TERMINATE_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()


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
