"""What went wrong in a dry run, as findings: one per failure, in plain words, with the
trainer's own message (never a traceback; its last log lines go with the result)."""

from __future__ import annotations

from dataclasses import dataclass

from app.findings import Finding
from app.training.dryrun.process import TrainerRun
from app.training.trainer_output import Failure as TrainerFailure

DOC = "dry-run"


@dataclass(frozen=True)
class Failure:
    code: str
    anchor: str
    why: str
    fix: str


FAILURES = {
    "oom": Failure(
        "dryrun.oom",
        "out-of-memory",
        "The real run would stop the same way, usually minutes in, with the GPU time spent.",
        "Turn on gradient checkpointing, cache latents, use an 8-bit optimizer, or lower the "
        "batch size or resolution on the Config page; then run the dry run again.",
    ),
    "nan": Failure(
        "dryrun.nan",
        "the-loss-is-not-a-number",
        "A loss that is not a number spreads into every weight: the LoRA would draw "
        "black or noisy images.",
        "Lower the learning rate (or check the images named), then run the dry run again.",
    ),
    "missing_file": Failure(
        "dryrun.missing_file",
        "a-missing-file",
        "The real run needs the same file and would stop at the same place.",
        "Check the path named: the base model on the project or in studio.md, the training "
        "folder on the Curate page.",
    ),
    "bad_argument": Failure(
        "dryrun.bad_argument",
        "a-bad-setting",
        "The trainer refuses this setting as written, so the real run could not start.",
        "Change the setting the message names on the Config page, then run the dry run again.",
    ),
    "sample": Failure(
        "dryrun.sample_failed",
        "a-sample-prompt-cannot-be-drawn",
        "The real run would stop at its first sample image, after training that far.",
        "Fix or remove that line of the sample prompts on the Config page.",
    ),
    "unwritable": Failure(
        "dryrun.output_unwritable",
        "the-output-folder-cannot-be-written",
        "The real run would fail at its first save, often an hour in, and keep nothing.",
        "Fix the folder's permissions, free space, or move what stands in the way.",
    ),
    "no_save": Failure(
        "dryrun.no_checkpoint",
        "the-trainer-saved-no-checkpoint",
        "A run that cannot save loses everything if it stops, and its checkpoints are "
        "what the real run would save every few hundred steps; a save that fails there "
        "fails hours in.",
        "Read the trainer's last lines below; check its save settings (save every N "
        "steps) on the Config page and that the trainer's version saves with them.",
    ),
    "bad_save": Failure(
        "dryrun.checkpoint_unreadable",
        "the-saved-checkpoint-cannot-be-read",
        "A checkpoint that cannot be read back cannot be resumed from or used: the real "
        "run would write its LoRA the same way.",
        "Check free disk space where the run writes and the trainer's last lines below, "
        "then run the dry run again.",
    ),
    "no_sample": Failure(
        "dryrun.no_sample",
        "the-trainer-drew-no-sample-image",
        "Without sample images you cannot see the LoRA learn during the real run, and a "
        "sampler that fails quietly here may crash there at its first sample.",
        "Read the trainer's last lines below for a sampling error; check the sample "
        "prompts on the Config page, or clear them to train without samples.",
    ),
    "crash": Failure(
        "dryrun.crash",
        "the-trainer-crashed",
        "Whatever stopped the trainer here would stop the real run too.",
        "Read the trainer's last lines below; reinstall the trainer if they name a package, "
        "or report it with the job's log.",
    ),
    "timeout": Failure(
        "dryrun.timeout",
        "it-took-too-long",
        "A trainer that cannot finish a few steps in this time is stuck, or would take far "
        "longer than estimated.",
        "Check the log for a download or a wait; make sure the GPU is free and used.",
    ),
    "no_steps": Failure(
        "dryrun.no_steps",
        "the-trainer-did-not-train",
        "Without two steps there is nothing to measure, and the real run may not train.",
        "Check the training folder and the trainer's last lines below.",
    ),
}


# The native trainer's own word for a setting it refuses ("bad_config") is the external
# trainers' "bad_argument": the same finding.
ARGUMENT_KINDS = {"bad_config": "bad_argument"}


def finding(kind: str, message: str, subject: str = "trainer") -> Finding:
    failure = FAILURES[kind]
    return Finding(
        code=failure.code,
        severity="block",
        subject=subject,
        message=message,
        why=failure.why,
        fix=failure.fix,
        source=f"{DOC}#{failure.anchor}",
    )


def from_failure(failure: TrainerFailure) -> Finding:
    """The trainer's own failure report as a finding."""
    details = failure.details or {}
    if "sample_prompt" in details:
        return finding("sample", failure.message, subject=str(details["sample_prompt"]))
    kind = ARGUMENT_KINDS.get(failure.kind, failure.kind)
    kind = kind if kind in FAILURES else "crash"
    if kind == "bad_argument" and "cannot write" in failure.message:
        kind = "unwritable"
    return finding(kind, failure.message or "The trainer stopped with an error.")


def from_run(
    run: TrainerRun, failure: TrainerFailure | None, steps: int, finished: bool
) -> list[Finding]:
    """Every finding of a dry run that reached its trainer (empty: it passed).

    A failure line counts when the trainer then exits with an error, or when it is one
    a trainer survives but the real run must not (a loss that is not a number: every
    external trainer trains on; an out-of-memory error: ai-toolkit skips the batch).
    The exit status decides the rest: a trainer that said it finished and exits with an
    error failed (fluxgym#465)."""
    if run.timed_out:
        return [finding("timeout", "The trainer did not finish its few steps in time.")]
    failed = run.returncode not in (0, None) or run.stopped
    if failure is not None and (failed or failure.kind in ("nan", "oom")):
        return [from_failure(failure)]
    last = run.tail[-1] if run.tail else "no output"
    if failed:
        after = " after saying it had finished" if finished else ""
        return [
            finding(
                "crash",
                f"The trainer stopped with exit status {run.returncode}{after} (“{last}”).",
            )
        ]
    if steps < 2:
        return [finding("no_steps", f"The trainer reported {steps} step(s), not at least two.")]
    if not finished:
        return [finding("crash", f"The trainer ended without saying it had finished (“{last}”).")]
    return []
