"""Stand-ins for the clones of the external trainers, for tests: ``install_fake_backend``
copies one into a folder (the folder to name in studio.md's ``backends:``), with the
scenario it should follow, and ``fake_backend_env`` gives the environment to run the
trainer's launch script in.

What each clone holds is what loragate's command for that backend names
(app/training/backends): sd-scripts' ``train_network.py`` / ``sdxl_train_network.py`` /
``flux_train_network.py`` run through ``accelerate launch``, ai-toolkit's ``run.py`` run
by ``python``, SimpleTuner's ``simpletuner-train`` command. The commands found on PATH in
a trainer's environment (``accelerate``, ``python``, ``simpletuner-train``) are stand-ins
in the clone's ``bin/``, run by the Python running the tests. The behaviour is in
``clone/fake_trainer.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from tests.training.fake_backends.clone.fake_trainer import SCENARIOS

HERE = Path(__file__).resolve().parent
BACKENDS = ("kohya", "simpletuner", "ai-toolkit")

# ``accelerate launch [options] SCRIPT ARGS`` runs SCRIPT ARGS; with one process that is
# all it does that a test can see.
_ACCELERATE = '''\
"""Stand-in for accelerate's launcher (tests only)."""
import os
import sys

args = sys.argv[1:]
if not args or args[0] != "launch":
    sys.exit("accelerate stand-in: only 'accelerate launch' is there")
args = args[1:]
while args and args[0].startswith("--"):
    option = args.pop(0)
    if option != "--multi_gpu" and "=" not in option:
        args.pop(0)
os.execv(sys.executable, [sys.executable, *args])
'''
_SIMPLETUNER = '''\
"""Stand-in for SimpleTuner's simpletuner-train command (tests only)."""
import sys

sys.path.insert(0, {clone!r})
import fake_trainer

fake_trainer.simpletuner()
'''


def install_fake_backend(dest: Path, backend: str, scenario: dict[str, Any]) -> Path:
    """A fake clone of ``backend`` in ``dest`` that follows ``scenario`` ({"scenario":
    name, "step": k, "seconds_per_step": s}); returns the folder for studio.md."""
    if backend not in BACKENDS:
        raise ValueError(f"no fake for {backend!r}: choose one of {', '.join(BACKENDS)}")
    if scenario.get("scenario", "ok") not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    dest.mkdir(parents=True, exist_ok=True)
    for entry in (HERE / backend).iterdir():
        if entry.is_file():
            shutil.copy2(entry, dest / entry.name)
    shutil.copy2(HERE / "clone" / "fake_trainer.py", dest / "fake_trainer.py")
    (dest / "scenario.json").write_text(json.dumps(scenario))
    bin_dir = dest / "bin"
    bin_dir.mkdir(exist_ok=True)
    _script(bin_dir / "accelerate", _ACCELERATE)
    _script(bin_dir / "simpletuner-train", _SIMPLETUNER.format(clone=str(dest.resolve())))
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return dest


def fake_backend_env(clone: Path, **extra: str) -> dict[str, str]:
    """This process's environment with the clone's commands first on PATH."""
    path = f"{clone / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, **extra}


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
