"""``python -m app.training.native JOB.json``: train, reporting on stdout as JSON lines.

Exit status 0 when the run finished (or stopped where the job asked), 1 after an
``error`` event, 2 for wrong usage. stdout carries the JSON lines and nothing else
(``events.claim_stdout``); every other output goes to stderr. The hub is switched off before diffusers or
transformers are imported: a base model is only ever read from local files.

For several GPUs, launch one process per GPU:
``accelerate launch --multi_gpu --num_processes N -m app.training.native JOB.json``.
"""

from __future__ import annotations

import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


USAGE = "usage: python -m app.training.native JOB.json\n"


def main(argv: list[str]) -> int:
    # Asked for help, the usage goes to stdout and nothing is trained; no job file is ever
    # named "-h" or "--help", so this cannot hide a real job.
    if argv in (["-h"], ["--help"]):
        sys.stdout.write(USAGE + "\n" + (__doc__ or "").split("\n", 1)[1].lstrip())
        return 0
    if len(argv) != 1:
        sys.stderr.write(USAGE)
        return 2
    from app.training.native.events import ProgressWriter, claim_stdout

    # Before anything else is imported: torch and its friends may print when loaded.
    stdout = claim_stdout()
    from pathlib import Path

    from app.training.native.distributed import from_environment
    from app.training.native.errors import TrainingError
    from app.training.native.jobfile import load_job

    cluster = from_environment()  # several processes under accelerate launch / torchrun
    events = ProgressWriter(stdout, only=None if cluster.main else frozenset({"error"}))
    try:
        job = load_job(Path(argv[0]))
    except TrainingError as error:
        events.emit("error", kind=error.kind, message=error.message, step=0, details=error.details)
        return 1
    # diffusers and peft take seconds to import: only once the job is known to be sound.
    from app.training.native.trainer import Trainer

    try:
        Trainer(job, events, cluster).train()
    except TrainingError:
        return 1  # the trainer has reported it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
