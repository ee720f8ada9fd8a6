"""The bundle's launch script: point the configs at the folder it was unpacked into,
install the trainer at a pinned version, run the dry run, then the training, and pack
the results for ``loragate bundle import``.

The pinned versions are the ones loragate's configs were written against: the commits
and versions recorded in app/data/backend_keys/*.json, and for loragate's own trainer
the copy of loragate inside the bundle.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from functools import cache
from importlib import resources

from app.bundle import LOGS_DIR, MANIFEST, OUTPUT_DIR, PLACEHOLDER, RESULTS_ARCHIVE
from app.training.optimizer_packages import optimizer_package

# The CUDA build of PyTorch the native trainer is installed with (the Makefile's GPU line).
TORCH_PIN = "torch==2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl/cu128"
GIT_REPOS = {"kohya": "kohya", "ai-toolkit": "ai_toolkit"}
KEYS_FILES = {"kohya": "kohya", "ai-toolkit": "ai_toolkit", "simpletuner": "simpletuner"}
LOCK_FILE = "requirements.lock"


@dataclass(frozen=True)
class Torch:
    """The PyTorch build a trainer is installed with, before its own requirements."""

    index: str
    pins: tuple[str, ...]


# Each trainer's own install instructions at the pinned commit: sd-scripts' README
# ("pip install torch==2.6.0 torchvision==0.21.0 --index-url .../cu124", then
# "pip install --upgrade -r requirements.txt" from its folder), ai-toolkit's README
# (torch 2.13.0 / torchvision 0.28.0 / torchaudio 2.11.0 from .../cu130, then
# "pip3 install -r requirements.txt" from its folder). SimpleTuner's INSTALL.md installs
# PyTorch through its ``cuda`` extra instead.
TORCHES = {
    "native": Torch(TORCH_INDEX, (TORCH_PIN,)),
    "kohya": Torch(
        "https://download.pytorch.org/whl/cu124", ("torch==2.6.0", "torchvision==0.21.0")
    ),
    "ai-toolkit": Torch(
        "https://download.pytorch.org/whl/cu130",
        ("torch==2.13.0", "torchvision==0.28.0", "torchaudio==2.11.0"),
    ),
}
# The Pythons a trainer installs on, first choice first: SimpleTuner 4.x requires
# Python >=3.12,<3.14 (its pyproject.toml), pip finds no such release on an older one.
PYTHONS = {"simpletuner": ("python3.13", "python3.12")}
# The oldest ``python3`` each other trainer takes: loragate's pyproject.toml, sd-scripts'
# README (3.10; 3.11 and 3.12 "will work"), ai-toolkit's README (>=3.10).
OLDEST_PYTHON = {"native": (3, 11), "kohya": (3, 10), "ai-toolkit": (3, 10)}
SOURCE_DIR = "loragate"
TRAINER_DIR = "trainer"


@cache
def pinned_source(backend: str) -> dict[str, str]:
    """repo, commit (and version) the backend's keys were read from."""
    text = (
        resources.files("app") / "data" / "backend_keys" / f"{KEYS_FILES[backend]}.json"
    ).read_text("utf-8")
    source: dict[str, str] = json.loads(text)["source"]
    return source


def pinned_words(backend: str) -> str:
    if backend == "native":
        return "loragate's own trainer, from the copy of loragate inside this bundle"
    source = pinned_source(backend)
    if backend == "simpletuner":
        return f"SimpleTuner {source['version']} (pip)"
    return f"{source['repo']} at commit {source['commit'][:12]} (git)"


def python_words(backend: str) -> str:
    """The Python the rented machine needs for ``backend``, in the README's words."""
    if backend in PYTHONS:
        return "Python " + " or ".join(name.removeprefix("python") for name in PYTHONS[backend])
    major, minor = OLDEST_PYTHON[backend]
    return f"Python {major}.{minor} or newer"


def _venv(backend: str) -> list[str]:
    """Open the branch that installs into the bundle's own .venv, created once with the
    first of the backend's Pythons the machine has (the plain message names them)."""
    pythons = PYTHONS.get(backend, ("python3",))
    # A versioned name is its version; a plain python3 is asked for its own.
    recent = (
        f" && \"$candidate\" -c 'import sys; sys.exit(sys.version_info < {OLDEST_PYTHON[backend]})'"
        if backend in OLDEST_PYTHON
        else ""
    )
    return [
        'if [ -z "${LORAGATE_PYTHON:-}" ]; then',
        "  if [ ! -x .venv/bin/python ]; then",
        f"    for candidate in {' '.join(pythons)}; do",
        f'      if command -v "$candidate" >/dev/null{recent}; then',
        '        "$candidate" -m venv .venv; break',
        "      fi",
        "    done",
        "    [ -x .venv/bin/python ] || { echo "
        + shlex.quote(
            f"loragate: the trainer needs {python_words(backend)} ({' or '.join(pythons)} on "
            "PATH), and this machine has none: "
            "choose a machine image that has it, or install it, then run this again."
        )
        + " >&2; exit 1; }",
        "  fi",
    ]


def _torch_pins(backend: str) -> str:
    return " ".join(shlex.quote(pin) for pin in TORCHES[backend].pins)


def _torch(backend: str) -> str:
    return f"  .venv/bin/pip install -q --index-url {TORCHES[backend].index} {_torch_pins(backend)}"


def _optimizer_install(optimizer: str, lock: str) -> list[str]:
    """The package the native trainer imports for ``optimizer`` when PyTorch lacks it:
    without it the run would stop at its first step on the rented machine."""
    package = optimizer_package("native", optimizer)
    if package is None:
        return []
    return [
        f"  # The {optimizer} optimizer's package (at the locked version where the lock has it).",
        f"  .venv/bin/pip install -q -c {lock} {shlex.quote(package.pip_name)}",
    ]


def _install(backend: str, optimizer: str) -> list[str]:
    if backend == "native":
        lock = f"{SOURCE_DIR}/{LOCK_FILE}"
        return [
            "# loragate itself, from this bundle (its trainer is part of it).",
            *_venv(backend),
            _torch(backend),
            f"  # The exact versions loragate is tested with ({LOCK_FILE}); torch is the build above.",
            f"  .venv/bin/pip install -q -c {lock} ./{SOURCE_DIR}",
            *_optimizer_install(optimizer, lock),
            "  PYTHON=$HERE/.venv/bin/python",
            "else",
            "  # An environment that has loragate's requirements already: use this bundle's code.",
            "  PYTHON=$LORAGATE_PYTHON",
            f'  export PYTHONPATH="$HERE/{SOURCE_DIR}${{PYTHONPATH:+:$PYTHONPATH}}"',
            "fi",
        ]
    source = pinned_source(backend)
    if backend == "simpletuner":
        package = shlex.quote(f"simpletuner[cuda]=={source['version']}")
        return [
            *_venv(backend),
            "  # SimpleTuner's INSTALL.md: the cuda extra brings its PyTorch build.",
            f"  .venv/bin/pip install -q {package}",
            '  export PATH="$HERE/.venv/bin:$PATH"',
            "fi",
        ]
    url = f"https://github.com/{source['repo']}.git"
    return [
        f"if [ ! -d {TRAINER_DIR}/.git ]; then",
        f"  git clone -q {url} {TRAINER_DIR}",
        "fi",
        f"git -C {TRAINER_DIR} checkout -q {source['commit']}",
        *_venv(backend),
        _torch(backend),
        # pip reads "-e ." (sd-scripts' last requirement: its own library) against the
        # folder it runs in, not the file's: the trainer's own folder, as its README does.
        # The torch pins again, so that no requirement makes pip swap the build above.
        f'  (cd {TRAINER_DIR} && "$HERE/.venv/bin/pip" install -q -r requirements.txt {_torch_pins(backend)})',
        '  export PATH="$HERE/.venv/bin:$PATH"',
        "fi",
    ]


def _run(backend: str, files_dir: str, log: str) -> str:
    if backend == "native":
        return (
            f'"$PYTHON" -m app.training.native {files_dir}/job.json '
            f"> {LOGS_DIR}/{log}-events.jsonl 2> >(tee {LOGS_DIR}/{log}.log >&2)"
        )
    return f"bash {files_dir}/launch.sh 2>&1 | tee {LOGS_DIR}/{log}.log"


def launch_script(backend: str, project: str, model_file: str, optimizer: str = "adamw") -> str:
    lines = [
        "#!/usr/bin/env bash",
        f"# Written by loragate: trains the LoRA of project “{project}” on this machine's GPU.",
        "# Run it from anywhere: bash launch.sh. It installs " + pinned_words(backend) + ",",
        f"# runs a short dry run, then the training, and packs the results into {RESULTS_ARCHIVE}.",
        "set -euo pipefail",
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        'cd "$HERE"',
        'case "$HERE" in',
        "  *[!A-Za-z0-9._/-]*)",
        '    echo "loragate: unpack the bundle into a folder whose path has only letters, digits,'
        ' dots, dashes and slashes (this one is $HERE): the configs name it." >&2',
        "    exit 1;;",
        "esac",
        "# The configs name the bundle's folder by a placeholder: point them here (once).",
        f"{{ grep -rl {PLACEHOLDER} config config-dryrun || true; }} | while read -r file; do",
        f'  sed -i "s#{PLACEHOLDER}#$HERE#g" "$file"',
        "done",
        f"if [ ! -e model/{shlex.quote(model_file)} ]; then",
        f'  echo "loragate: the base model is missing: put {model_file} into $HERE/model/'
        ' (the README says where it came from), then run this again." >&2',
        "  exit 1",
        "fi",
        f"mkdir -p {OUTPUT_DIR} {LOGS_DIR}",
        *_install(backend, optimizer),
        'echo "loragate: dry run (a few steps, to prove the whole run works before paying for it)"',
        _run(backend, "config-dryrun", "dryrun"),
        'echo "loragate: training"',
        _run(backend, "config", "train"),
        f"rm -f {RESULTS_ARCHIVE}",
        # The manifest goes home with the results: the run is recorded with its backend
        # and config.
        f'"${{PYTHON:-python3}}" -m zipfile -c {RESULTS_ARCHIVE} {OUTPUT_DIR} {LOGS_DIR} {MANIFEST}',
        f'echo "loragate: done. Bring $HERE/{RESULTS_ARCHIVE} home and import it:'
        f' loragate bundle import {project} {RESULTS_ARCHIVE}"',
    ]
    return "\n".join(lines) + "\n"
