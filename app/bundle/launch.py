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
from functools import cache
from importlib import resources

from app.bundle import LOGS_DIR, MANIFEST, OUTPUT_DIR, PLACEHOLDER, RESULTS_ARCHIVE

# The CUDA build of PyTorch the native trainer is installed with (the Makefile's GPU line).
TORCH_PIN = "torch==2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl/cu128"
GIT_REPOS = {"kohya": "kohya", "ai-toolkit": "ai_toolkit"}
KEYS_FILES = {"kohya": "kohya", "ai-toolkit": "ai_toolkit", "simpletuner": "simpletuner"}
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


def _install(backend: str) -> list[str]:
    venv = [
        'if [ -z "${LORAGATE_PYTHON:-}" ]; then',
        "  [ -x .venv/bin/python ] || python3 -m venv .venv",
        f"  .venv/bin/pip install -q --index-url {TORCH_INDEX} {shlex.quote(TORCH_PIN)}",
    ]
    if backend == "native":
        return [
            "# loragate itself, from this bundle (its trainer is part of it).",
            *venv,
            f"  .venv/bin/pip install -q ./{SOURCE_DIR}",
            "  PYTHON=$HERE/.venv/bin/python",
            "else",
            "  # An environment that has loragate's requirements already: use this bundle's code.",
            "  PYTHON=$LORAGATE_PYTHON",
            f'  export PYTHONPATH="$HERE/{SOURCE_DIR}${{PYTHONPATH:+:$PYTHONPATH}}"',
            "fi",
        ]
    source = pinned_source(backend)
    if backend == "simpletuner":
        return [
            *venv,
            f"  .venv/bin/pip install -q {shlex.quote('simpletuner==' + source['version'])}",
            '  export PATH="$HERE/.venv/bin:$PATH"',
            "fi",
        ]
    url = f"https://github.com/{source['repo']}.git"
    return [
        f"if [ ! -d {TRAINER_DIR}/.git ]; then",
        f"  git clone -q {url} {TRAINER_DIR}",
        "fi",
        f"git -C {TRAINER_DIR} checkout -q {source['commit']}",
        *venv,
        f"  .venv/bin/pip install -q -r {TRAINER_DIR}/requirements.txt",
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


def launch_script(backend: str, project: str, model_file: str) -> str:
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
        *_install(backend),
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
