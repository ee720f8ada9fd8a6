"""A trainer's raw output turned into events: progress, saves, samples, failures and the
trainer's own "finished" line, for loragate's native trainer and the three external
backends (kohya sd-scripts, SimpleTuner, ai-toolkit).

Two steps, both pure:
- ``LineSplitter`` cuts the bytes a subprocess writes into lines. tqdm redraws its bar
  with ``\\r`` and no newline, so ``\\r`` ends a line as ``\\n`` does; ANSI escape codes
  (colours, cursor moves) are removed; a line may arrive in pieces and a UTF-8 character
  may be cut between two reads.
- ``parse_line(backend, line)`` reads one line as that backend prints it.

What each backend prints (read from their sources; the commits are in
``app/training/backends/*.py``):
- native: JSON lines on stdout (``app/training/native/events.py``); its ``error`` event
  names the failure kind itself. Its stderr is read like an external trainer's, for a
  crash before the trainer could report.
- kohya sd-scripts (train_network.py): a tqdm bar on stderr, desc ``steps``, postfix
  ``avr_loss=`` (a moving average; no learning rate); ``saving checkpoint: PATH`` on
  stdout at every save (``-stepNNNNNNNN`` or ``-NNNNNN`` for epochs, no suffix for the
  last); ``model saved.`` when training is over. Sample images are written to
  ``OUTPUT/sample`` without a log line, and ``epoch N/M`` stands on a line of its own.
- SimpleTuner (helpers/training/trainer.py): a tqdm bar, desc ``Epoch N/M, Steps``,
  postfix ``step_loss=..., lr=...``; ``Training has completed.`` when training is over,
  but its console shows INFO lines only with ``SIMPLETUNER_LOG_LEVEL=INFO`` (the default
  is ERROR). Checkpoints (``OUTPUT/checkpoint-N``) and validation images are written
  without a console line.
- ai-toolkit (jobs/process/BaseSDTrainProcess.py): a tqdm bar whose desc is the job's
  name and whose postfix is ``lr: 1.0e-04 loss: 1.234e-01``; ``Saved checkpoint to PATH``
  at every save (``NAME_NNNNNNNNN.safetensors``, no step number for the final one).
  It prints no completion line (run.py's Result block appears only after a failure), so
  its final save stands for it. It zeroes a NaN loss and trains on after printing
  ``loss is nan``, and skips three out-of-memory batches before it fails.

A ``Failure`` says what the output shows, not that the run failed: trainers log
exceptions they survive, and an accelerate launcher repeats a child's failure as its own
``CalledProcessError``. The first Failure of a run that then exits non-zero is its cause;
the exit status decides whether it failed (fluxgym#465: "Training Complete" on exit 1).
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.training.failures import OOM_SIGNATURES, FailureKind

BACKEND_NAMES = ("native", "kohya", "simpletuner", "ai-toolkit")
# A process that writes without a line break is cut into lines of this many characters,
# so one runaway line cannot grow without bound.
MAX_LINE = 65_536


# Not frozen: a frozen dataclass sets each field through object.__setattr__, a cost
# that shows at a hundred thousand redraws.
@dataclass(slots=True)
class Progress:
    step: int  # optimizer steps done
    total: int | None = None
    loss: float | None = None  # this step's loss
    smoothed_loss: float | None = None  # a moving average, where the backend prints one
    lr: float | None = None
    seconds_per_step: float | None = None
    eta_seconds: float | None = None
    epoch: int | None = None
    peak_vram_gb: float | None = None


@dataclass(slots=True)
class Saved:
    """sd-scripts prints its line before it writes the file, ai-toolkit after: a Saved
    followed by a failure may name a partial file (check it before resuming from it)."""

    path: str  # the LoRA file written (native: the checkpoint's LoRA)
    step: int | None = None  # None where the file name carries no step


@dataclass(slots=True)
class Sample:
    path: str
    step: int | None = None


@dataclass(slots=True)
class Failure:
    kind: FailureKind
    message: str  # the trainer's own words (the exception line), or the native message
    step: int | None = None  # where the output names it
    # native only: what its error event adds (the sample prompt that failed, the batch's
    # images for nan, the settings in force for oom)
    details: dict[str, Any] | None = None


@dataclass(slots=True)
class Finished:
    path: str | None = None  # the final LoRA, where the line names it
    complete: bool = True  # native: false when the job's stop_after_steps ended it early


TrainerEvent = Progress | Saved | Sample | Failure | Finished


# Splitting ---------------------------------------------------------------------------

_BREAK = re.compile(r"\r\n?|\n")
# CSI sequences (colours, cursor moves), OSC sequences (titles, links), and the
# two-character escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


class LineSplitter:
    """Lines out of a stream of chunks. ``feed`` returns the lines a chunk completed;
    ``close`` the last, unterminated one. Blank lines are dropped; bytes that are not
    UTF-8 become U+FFFD rather than stopping the run's log."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, chunk: bytes | str) -> list[str]:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            return []
        parts = _BREAK.split(_strip_ansi(self._partial + text))
        partial = parts.pop()
        if len(partial) > MAX_LINE:
            parts.append(partial)
            partial = ""
        self._partial = partial
        # rstrip: tqdm pads a shorter redraw with blanks.
        return [line for line in (part.rstrip() for part in parts) if line]

    def close(self) -> list[str]:
        tail = _strip_ansi(self._partial + self._decoder.decode(b"", final=True))
        self._partial = ""
        return [line for line in (part.rstrip() for part in _BREAK.split(tail)) if line]


def _strip_ansi(text: str) -> str:
    """Without ANSI codes. A code cut by the end of a read is left whole in the partial
    line (an unfinished code does not match) and removed once its end arrives."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def split_output(data: bytes | str) -> list[str]:
    """All the lines of a finished output."""
    splitter = LineSplitter()
    return splitter.feed(data) + splitter.close()


# Progress bars -----------------------------------------------------------------------

# tqdm's default format: "{desc}: {pct}%|{bar}| {n}/{total} [{elapsed}<{remaining},
# {rate}{postfix}]", where the rate is "2.50it/s", or "1.23s/it" below one step a
# second, and "?it/s" before the first step.
_BAR = re.compile(
    r"\|\s*(\d+)/(\d+)\s*\[[\d:]+<([\d:?]+),\s*([\d.]+|\?)(it/s|s/it)(?:,\s*(.*))?\]$"
)
_SIMPLETUNER_DESC = re.compile(r"Epoch (\d+)/\d+,? Steps$")
# One value of a postfix: tqdm's set_postfix writes "key=value, key=value";
# ai-toolkit's set_postfix_str "lr: 1.0e-04 loss: 1.234e-01".
_AVR_LOSS = re.compile(r"(?:^|, )avr_loss=([^,]+)")
_STEP_LOSS = re.compile(r"(?:^|, )step_loss=([^,]+)")
_TQDM_LR = re.compile(r"(?:^|, )lr=([^,]+)")
_TOOLKIT_LOSS = re.compile(r"(?:^| )loss: (\S+)")
_TOOLKIT_LR = re.compile(r"^lr: (\S+)")


def _seconds(interval: str) -> float | None:
    """tqdm's "MM:SS" or "H:MM:SS"."""
    if "?" in interval:
        return None
    seconds = 0
    for part in interval.split(":"):
        seconds = seconds * 60 + int(part)
    return float(seconds)


def _value(pattern: re.Pattern[str], postfix: str) -> float | None:
    match = pattern.search(postfix)
    if match is None:
        return None
    try:
        return float(match[1])
    except ValueError:
        return None


def _bar(backend: str, line: str) -> Progress | Failure | None:
    percent = line.find("%|")
    bar_end = line.find("|", percent + 2)
    match = _BAR.match(line, bar_end) if bar_end > 0 else None
    if match is None:
        return None
    desc = line[: line.rfind(":", 0, percent)]
    postfix = match[6] or ""
    epoch = loss = smoothed = lr = None
    if backend == "kohya":
        if not desc.endswith("steps") or desc.endswith("validation steps"):
            return None
        smoothed = _value(_AVR_LOSS, postfix)
    elif backend == "simpletuner":
        epoch_match = _SIMPLETUNER_DESC.search(desc)
        if epoch_match is None:
            return None
        epoch = int(epoch_match[1])
        loss, lr = _value(_STEP_LOSS, postfix), _value(_TQDM_LR, postfix)
    else:  # ai-toolkit: the desc is the job's name; only the training bar has this postfix
        if not postfix.startswith("lr: "):
            return None
        loss, lr = _value(_TOOLKIT_LOSS, postfix), _value(_TOOLKIT_LR, postfix)
    step = int(match[1])
    for value in (loss, smoothed):
        if value is not None and not math.isfinite(value):
            return Failure("nan", f"The loss became {value} by step {step}.", step)
    rate = match[4]
    per_step = None
    if rate != "?" and float(rate):
        per_step = float(rate) if match[5] == "s/it" else 1 / float(rate)
    return Progress(step, int(match[2]), loss, smoothed, lr, per_step, _seconds(match[3]), epoch)


# Failure signatures ------------------------------------------------------------------

# The last line of a Python traceback: "module.ErrorName: message".
_EXCEPTION = re.compile(
    r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Invalid))(?::\s*(?P<text>.*))?$"
)
# argparse's refusal: "prog: error: unrecognized arguments: --x" / "... invalid choice".
_ARGPARSE = re.compile(r"^(?P<prog>[^:]+): error: (?P<text>.+)$")
# What launchers and loggers put before a line: torchrun's "[rank0]: ", SimpleTuner's
# "[RANK 0] 2024-01-01 10:00:00,000 [ERROR] ", rich's "2024-01-01 10:00:00 ERROR    ".
_PREFIX = re.compile(
    r"^\s*(?:\[rank\d+\]:\s*)?(?:\[RANK \d+\]\s*)?"
    r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?\s*)?(?:\[?(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\]?\s+)?"
)
# Traceback frames ("  File ...", then the source line indented by four) and rich's
# continuation lines say nothing new, and a frame's source line may well contain a
# signature ("except torch.cuda.OutOfMemoryError:"). rich's own lines start with blanks
# too, where it leaves out a repeated time, but a level name follows.
_RICH_LEVEL = re.compile(r"\s+(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\s")
_MISSING = ("FileNotFoundError", "No such file or directory", "no file named")


@dataclass(frozen=True)
class Signature:
    """A line that means one thing: ``needle`` must occur in it (a cheap test that rules
    out almost every line), then ``read`` makes the event or declines."""

    needle: str
    read: Callable[[str], TrainerEvent | None]


def _fixed(kind: FailureKind) -> Callable[[str], Failure]:
    return lambda line: Failure(kind, line)


def _exception(line: str) -> Failure | None:
    match = _EXCEPTION.match(line)
    if match is None:
        return None
    if any(needle in line for needle in _MISSING):
        return Failure("missing_file", line)
    return Failure("crash", line)


def _argparse(line: str) -> Failure | None:
    match = _ARGPARSE.match(line)
    return Failure("bad_argument", line) if match else None


def _saved(marker: str, pattern: str, final: bool) -> Signature:
    """A save line, ``marker`` then the file's path, whose step number ``pattern``
    captures; with ``final``, a file without one is the last save: the trainer's
    completion."""
    regex = re.compile(pattern)

    def read(line: str) -> TrainerEvent | None:
        path = line.split(marker, 1)[1].strip()
        number = regex.search(path)
        if number is None and final:
            return Finished(path=path)
        return Saved(path=path, step=int(number[1]) if number else None)

    return Signature(marker, read)


_OOM = tuple(Signature(needle, _fixed("oom")) for needle in OOM_SIGNATURES)
_SHARED_LAST = (
    Signature(": error: ", _argparse),
    *(Signature(needle, _exception) for needle in ("Error", "Exception", "Invalid")),
)
_SIGNATURES: dict[str, tuple[Signature, ...]] = {
    "kohya": (
        *_OOM,
        _saved("saving checkpoint: ", r"-step(\d{8})\.\w+$", final=False),
        Signature("model saved.", lambda line: Finished()),
        # library/train_util.py checks cached latents and text-encoder outputs.
        Signature("NaN detected in ", _fixed("nan")),
        # library/config_util.py: the dataset config failed its schema.
        Signature("Invalid user config", _fixed("bad_argument")),
        Signature("MultipleInvalid", _fixed("bad_argument")),
        *_SHARED_LAST,
    ),
    "simpletuner": (
        *_OOM,
        Signature("Training has completed.", lambda line: Finished()),
        Signature("Could not parse command line arguments", _fixed("bad_argument")),
        *_SHARED_LAST,
    ),
    "ai-toolkit": (
        *_OOM,
        Signature("OOM during training step 3 times", _fixed("oom")),
        _saved("Saved checkpoint to ", r"_(\d{9})\.\w+$", final=True),
        Signature("loss is nan", _fixed("nan")),
        *_SHARED_LAST,
    ),
}
_SIGNATURES["native"] = (*_OOM, *_SHARED_LAST)


def parse_line(backend: str, line: str) -> TrainerEvent | None:
    """The event one line of ``backend``'s output stands for, or None. ``line`` is one
    line as ``LineSplitter`` gives it."""
    if backend == "native" and line.startswith("{"):
        return _native(line)
    if line.startswith("  ") and not _RICH_LEVEL.match(line):
        return None
    if "%|" in line and backend != "native":
        return _bar(backend, line)
    signatures = _SIGNATURES.get(backend)
    if signatures is None:
        raise ValueError(f"Unknown trainer “{backend}”: choose one of {', '.join(BACKEND_NAMES)}.")
    stripped: str | None = None
    for signature in signatures:
        if signature.needle in line:
            if stripped is None:
                stripped = _PREFIX.sub("", line, count=1)
            event = signature.read(stripped)
            if event is not None:
                return event
    return None


# Native ------------------------------------------------------------------------------


def _native(line: str) -> TrainerEvent | None:
    try:
        record: dict[str, Any] = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    kind = record.get("event")
    if kind == "step":
        step, total = record["step"], record.get("total")
        per_step = record.get("seconds_per_step")
        return Progress(
            step=step,
            total=total,
            loss=record.get("loss"),
            smoothed_loss=record.get("smoothed_loss"),
            lr=record.get("lr"),
            seconds_per_step=per_step,
            eta_seconds=per_step * (total - step) if per_step is not None and total else None,
            epoch=record.get("epoch"),
            peak_vram_gb=record.get("peak_vram_gb"),
        )
    if kind == "start":
        return Progress(step=record.get("resumed_from") or 0, total=record.get("total"))
    if kind == "checkpoint":
        return Saved(path=record.get("lora_path") or record["path"], step=record.get("step"))
    if kind == "sample":
        return Sample(path=record["path"], step=record.get("step"))
    if kind == "error":
        details = record.get("details")
        return Failure(
            record["kind"],
            record.get("message", ""),
            record.get("step"),
            details if isinstance(details, dict) and details else None,
        )
    if kind == "done":
        return Finished(path=record.get("lora_path"), complete=bool(record.get("complete", True)))
    return None
