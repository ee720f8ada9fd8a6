"""Stand-ins for the network installers a bundle's launch script calls on a rented GPU
(``git``, ``python3 -m venv``, ``pip``), for tests that run the real launch.sh here.

The real tools would reach GitHub, PyPI and download.pytorch.org, which a test cannot;
everything else the script does runs for real. Each stand-in writes one JSON line per
call (the tool, its arguments, the folder it ran in) to ``$STUB_LOG``, and does what the
real tool would leave behind:

- ``git clone URL DIR``: a clone of the trainer: the fake trainer of
  tests/training/fake_backends, with the requirements files the real repository has at
  the pinned commit (sd-scripts' ends with ``-e .`` beside its setup.py; ai-toolkit's
  is ``-r requirements_base.txt``) and a ``.git`` folder. ``git -C DIR checkout`` needs
  that ``.git``.
- ``python3 -m venv DIR`` (and ``python3.12``/``python3.13``): ``DIR/bin/python``,
  which runs this interpreter with what pip "installed" on its path, and ``DIR/bin/pip``.
  Any other ``python3`` call runs this interpreter (the script packs its results with
  ``python3 -m zipfile``).
- ``pip install``: resolves paths as pip does: ``-r``/``-c`` files and ``-e``/local
  project paths against the folder pip runs in, a ``-r`` inside a requirements file
  against that file's folder. A project path with neither setup.py nor pyproject.toml
  fails with pip's own words. Installing ``accelerate`` or ``simpletuner`` puts their
  commands (the fake backends' stand-ins, logged too) into the venv's ``bin``; a local
  project goes onto the venv python's path.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKES = "STUB_FAKES"  # the folder with one fake clone per backend (install_fake_backend)
LOG = "STUB_LOG"

# The requirements files of the real clones at the commits loragate pins (their first
# lines, enough for pip's path handling; the rest are names pip would fetch).
KOHYA_REQUIREMENTS = (
    "accelerate==1.6.0\ntransformers==4.54.1\ndiffusers[torch]==0.32.1\n"
    "toml==0.10.2\nvoluptuous==0.15.2\n# for kohya_ss library\n-e .\n"
)
KOHYA_SETUP = 'from setuptools import setup, find_packages\n\nsetup(name = "library", packages = find_packages())\n'
AI_TOOLKIT_REQUIREMENTS = "-r requirements_base.txt\nscipy==1.12.0\n"
AI_TOOLKIT_BASE = "torchao==0.10.0\nsafetensors\ntransformers==5.5.3\naccelerate\npyyaml\n"
CLONES = {
    "https://github.com/kohya-ss/sd-scripts.git": (
        "kohya",
        {"requirements.txt": KOHYA_REQUIREMENTS, "setup.py": KOHYA_SETUP},
    ),
    "https://github.com/ostris/ai-toolkit.git": (
        "ai-toolkit",
        {"requirements.txt": AI_TOOLKIT_REQUIREMENTS, "requirements_base.txt": AI_TOOLKIT_BASE},
    ),
}
# The commands a package brings, and which fake clone has the stand-in for each.
COMMANDS = {
    "accelerate": ("accelerate", "kohya"),
    "simpletuner": ("simpletuner-train", "simpletuner"),
}
SITE_PATHS = "stub-site-paths"  # in the venv: the local projects pip "installed"


def log(tool: str, args: list[str]) -> None:
    with open(os.environ[LOG], "a", encoding="utf-8") as out:
        out.write(json.dumps({"tool": tool, "args": args, "cwd": os.getcwd()}) + "\n")


def read_log(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_script(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)


def _call(function: str, tool: str) -> str:
    return (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        f"from tests.bundle.stub_tools import {function}\n{function}({tool!r}, sys.argv[1:])\n"
    )


def install_stubs(bin_dir: Path) -> Path:
    """``git``, ``python3``, ``python3.12`` and ``python3.13`` stand-ins in ``bin_dir``
    (to put first on PATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    _write_script(bin_dir / "git", _call("git", "git"))
    for name in ("python3", "python3.12", "python3.13"):
        _write_script(bin_dir / name, _call("python", name))
    return bin_dir


def git(tool: str, args: list[str]) -> None:
    log(tool, args)
    if args[:1] == ["clone"]:
        url, target = [arg for arg in args[1:] if not arg.startswith("-")]
        backend, files = CLONES[url]
        shutil.copytree(Path(os.environ[FAKES]) / backend, target)
        for name, text in files.items():
            Path(target, name).write_text(text)
        Path(target, ".git").mkdir()
        return
    if args[:1] == ["-C"] and args[2] == "checkout":
        if not Path(args[1], ".git").is_dir():
            sys.exit(f"fatal: not a git repository: {args[1]}")
        return
    sys.exit(f"git stand-in: {' '.join(args)} is not something the launch script runs")


def python(tool: str, args: list[str]) -> None:
    if args[:2] == ["-m", "venv"]:
        log(tool, args)
        venv_bin = Path(args[2]).resolve() / "bin"
        venv_bin.mkdir(parents=True)
        _write_script(venv_bin / "pip", _call("pip", "pip"))
        _write_script(venv_bin / "python", _call("venv_python", "python"))
        return
    os.execv(sys.executable, [sys.executable, *args])


def venv_python(tool: str, args: list[str]) -> None:
    """The venv's python: this interpreter, with the local projects pip put in the venv."""
    log(tool, args)
    site = Path(sys.argv[0]).parent / SITE_PATHS
    if site.is_file():
        paths = site.read_text().split()
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])
    os.execv(sys.executable, [sys.executable, *args])


def _not_a_project(path: Path) -> None:
    sys.exit(
        f"ERROR: file://{path.resolve()} does not appear to be a Python project: "
        "neither 'setup.py' nor 'pyproject.toml' found."
    )


def _project(path: Path, venv_bin: Path) -> None:
    if not (path / "setup.py").is_file() and not (path / "pyproject.toml").is_file():
        _not_a_project(path)
    with open(venv_bin / SITE_PATHS, "a", encoding="utf-8") as out:
        out.write(f"{path.resolve()}\n")


def _named(requirement: str, venv_bin: Path) -> None:
    name = requirement.split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower()
    if name in COMMANDS:
        command, backend = COMMANDS[name]
        stand_in = Path(os.environ[FAKES]) / backend / "bin" / command
        _write_script(
            venv_bin / command,
            "import os, sys\nsys.path.insert(0, {repo!r})\n"
            "from tests.bundle.stub_tools import log\nlog({command!r}, sys.argv[1:])\n"
            "os.execv({stand_in!r}, [{stand_in!r}, *sys.argv[1:]])\n".format(
                repo=str(REPO), command=command, stand_in=str(stand_in)
            ),
        )


def _requirements_file(path: Path, venv_bin: Path) -> None:
    if not path.is_file():
        sys.exit(f"ERROR: Could not open requirements file: No such file: '{path}'")
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            _requirements_file(path.parent / line[3:].strip(), venv_bin)  # the file's folder
        elif line.startswith("-e "):
            _project(Path(line[3:].strip()), venv_bin)  # the folder pip runs in
        else:
            _named(line, venv_bin)


def pip(tool: str, args: list[str]) -> None:
    log(tool, args)
    venv_bin = Path(sys.argv[0]).parent
    if args[:1] != ["install"]:
        sys.exit("pip stand-in: only pip install")
    rest = args[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "-q":
            continue
        if arg in ("--index-url", "--extra-index-url"):
            rest.pop(0)
        elif arg == "-c":
            constraints = Path(rest.pop(0))
            if not constraints.is_file():
                sys.exit(f"ERROR: Could not open requirements file: '{constraints}'")
        elif arg == "-r":
            _requirements_file(Path(rest.pop(0)), venv_bin)
        elif arg == "-e" or arg.startswith((".", "/")):
            _project(Path(rest.pop(0) if arg == "-e" else arg), venv_bin)
        else:
            _named(arg, venv_bin)
