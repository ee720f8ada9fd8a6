"""The trainer (backend) the project uses: is it installed, which Python runs it, which
version is it, and can that Python import it?

- native (loragate's own trainer): diffusers, peft, transformers, accelerate and
  safetensors importable, at versions known to work together.
- every trainer: it trains the project's model family, and its Python imports the
  package of the config's optimizer (``trainer_fit``).
- kohya sd-scripts: the clone named in studio.md, the family's training script, and
  its ``library`` package importable by the Python sd-scripts would use.
- SimpleTuner: the clone named in studio.md, or the pip package.
- ai-toolkit: the clone named in studio.md and its ``run.py``.

``locate`` is cheap (files and package metadata only) and serves the fingerprint and
"which other trainer is ready"; ``check_imports`` runs the import in a child process.
"""

from __future__ import annotations

import sys
import sysconfig
import threading
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from app.environment.child import ChildOutcome, run_child, script
from app.environment.gitref import head_commit
from app.environment.torch_info import describe_failure, is_own_python
from app.environment.trainer_fit import family_problem
from app.findings import Finding
from app.grimoire import BackendPaths
from app.intent import BACKENDS
from app.paths import UnsafePathError, user_path
from app.training.backends import BACKEND_TITLES
from app.training.backends.kohya import SCRIPTS as KOHYA_SCRIPTS
from app.training.optimizer_packages import OptimizerPackage, optimizer_package

IMPORT_TIMEOUT = 180.0
TITLES = BACKEND_TITLES | {"native": "loragate's own trainer"}
# The versions loragate's native trainer is tested with: pyproject.toml's pins
# (tests/environment/test_backends.py keeps the two in step).
NATIVE_KNOWN_GOOD = {
    "diffusers": "==0.42.1",
    "peft": "==0.21.2",
    "transformers": ">=5.0,<5.24",
    "accelerate": ">=1.0",
    "safetensors": ">=0.4",
}
NATIVE_IMPORTS = (
    "diffusers:UNet2DConditionModel",
    "peft:LoraConfig",
    "transformers:CLIPTextModel",
    "accelerate:Accelerator",
    "safetensors.torch:save_file",
)
# A virtual environment inside a clone, where the trainers' READMEs put it.
VENV_PYTHONS = (
    "venv/bin/python",
    ".venv/bin/python",
    "venv/Scripts/python.exe",
    ".venv/Scripts/python.exe",
)

INSTALL = {
    "native": "Reinstall loragate's requirements: `make install`, or "
    "`.venv/bin/pip install -e .` in loragate's folder.",
    "kohya": "Clone it and install it in its own virtual environment: "
    "`git clone https://github.com/kohya-ss/sd-scripts && cd sd-scripts && "
    "python3.10 -m venv venv && venv/bin/pip install torch --index-url "
    "https://download.pytorch.org/whl/cu128 && venv/bin/pip install -r requirements.txt`, "
    "then set `backends: kohya:` in grimoire/studio.md to that folder.",
    "simpletuner": "Clone it with its own Python 3.12 environment: "
    "`git clone https://github.com/bghira/SimpleTuner && cd SimpleTuner && "
    "python3.12 -m venv .venv && .venv/bin/pip install -e .`, then set "
    "`backends: simpletuner:` in grimoire/studio.md to that folder.",
    "ai-toolkit": "Clone it and install it in its own virtual environment: "
    "`git clone https://github.com/ostris/ai-toolkit && cd ai-toolkit && "
    "git submodule update --init --recursive && python3 -m venv venv && "
    "venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cu128 && "
    "venv/bin/pip install -r requirements.txt`, then set `backends: ai_toolkit:` in "
    "grimoire/studio.md to that folder.",
}


@dataclass(frozen=True)
class BackendSetup:
    """Where a trainer is and what runs it, found without running anything."""

    name: str
    python: str
    python_source: str  # plain words: which Python and why
    folder: Path | None = None
    version: str | None = None
    import_specs: tuple[str, ...] = ()
    problems: tuple[Finding, ...] = field(default=())
    # The config's optimizer when it lives outside PyTorch, and the package it needs
    # (its module is among import_specs).
    optimizer: str | None = None
    optimizer_package: OptimizerPackage | None = None

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    @property
    def ready(self) -> bool:
        return not any(problem.severity == "block" for problem in self.problems)

    @property
    def identity(self) -> str:
        """What the fingerprint records: name, version, place and Python."""
        return (
            f"{self.name} {self.version or 'unknown version'} · {self.folder or ''} · {self.python}"
        )


def _problem(setup_name: str, code: str, message: str, why: str) -> Finding:
    return Finding(
        code=f"backend.{code}",
        severity="block",
        subject=TITLES.get(setup_name, setup_name),
        message=message,
        why=why,
        fix=INSTALL.get(setup_name, "Choose native, kohya, simpletuner or ai-toolkit."),
        source="preflight-checklist#the-trainer-backend",
    )


def _unusable(
    name: str, code: str, message: str, why: str, folder: Path | None = None
) -> BackendSetup:
    return BackendSetup(
        name, sys.executable, "none", folder=folder, problems=(_problem(name, code, message, why),)
    )


def clone_python(folder: Path) -> tuple[str, str]:
    """The Python a clone's trainer runs with: its own virtual environment when there is
    one, else the one running loragate."""
    for relative in VENV_PYTHONS:
        candidate = folder / relative
        if candidate.exists():
            return str(candidate), f"the virtual environment inside the clone ({candidate})"
    return sys.executable, f"loragate's own Python ({sys.executable}): no venv inside the clone"


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def locate(
    name: str, paths: BackendPaths, family: str | None, optimizer: str | None = None
) -> BackendSetup:
    """The trainer ``name`` as it would run this project: ``family`` (when known) must
    be one it trains, and ``optimizer`` (when given) adds its package to the imports."""
    setup = _locate(name, paths, family)
    unfit = family_problem(name, family, TITLES)
    if unfit is not None:
        setup = replace(setup, problems=(*setup.problems, unfit))
    package = optimizer_package(name, optimizer or "")
    if package is None or not setup.ready:
        return setup
    version = setup.version
    if name == "native":
        # Installing the package changes the fingerprint, so the gate asks to run again.
        version = f"{version}, {package.pip_name} {package_version(package.pip_name) or 'missing'}"
    return replace(
        setup,
        version=version,
        import_specs=(*setup.import_specs, package.module),
        optimizer=optimizer,
        optimizer_package=package,
    )


def _locate(name: str, paths: BackendPaths, family: str | None) -> BackendSetup:
    if name == "native":
        versions = ", ".join(
            f"{pkg} {package_version(pkg) or 'missing'}" for pkg in NATIVE_KNOWN_GOOD
        )
        return BackendSetup(
            name,
            sys.executable,
            f"loragate's own Python ({sys.executable})",
            version=versions,
            import_specs=NATIVE_IMPORTS,
        )
    if name == "simpletuner" and not paths.simpletuner:
        return BackendSetup(
            name,
            sys.executable,
            f"loragate's own Python ({sys.executable}), where pip installs SimpleTuner",
            version=package_version("simpletuner"),
            import_specs=("simpletuner",),
        )
    if name not in BACKENDS:
        return _unusable(
            name,
            "unknown",
            f"The project names a trainer loragate does not know: “{name}”.",
            "loragate can only check and drive native, kohya, simpletuner and ai-toolkit.",
        )
    configured = {
        "kohya": paths.kohya,
        "simpletuner": paths.simpletuner,
        "ai-toolkit": paths.ai_toolkit,
    }[name]
    if not configured:
        key = name.replace("-", "_")
        return _unusable(
            name,
            "not_configured",
            f"The project trains with {TITLES[name]}, but grimoire/studio.md names no "
            f"folder for it (backends: {key}).",
            "loragate runs the trainer from your clone; without its folder there is "
            "nothing to run.",
        )
    try:
        folder = user_path(configured)
    except UnsafePathError as exc:
        return _unusable(
            name,
            "folder_missing",
            f"studio.md points {TITLES[name]} at {configured}, which cannot be a folder: {exc}",
            "The trainer's code has to be on this machine to run.",
        )
    if not folder.is_dir():
        return _unusable(
            name,
            "folder_missing",
            f"studio.md points {TITLES[name]} at {folder}, which is not a folder on this computer.",
            "The trainer's code has to be on this machine to run.",
            folder,
        )
    python, source = clone_python(folder)
    return _locate_clone(name, folder, python, source, family)


def _locate_clone(
    name: str, folder: Path, python: str, source: str, family: str | None
) -> BackendSetup:
    version = head_commit(folder)
    problems: list[Finding] = []
    specs: tuple[str, ...] = ()
    if name == "kohya":
        needed = KOHYA_SCRIPTS.get(family or "", "train_network.py")
        if not (folder / needed).is_file():
            problems.append(
                _problem(
                    name,
                    "script_missing",
                    f"{folder} has no {needed}, the sd-scripts script for this model family.",
                    "Either the folder is not an sd-scripts clone (kohya_ss, the GUI, keeps it "
                    "in its sd-scripts/ subfolder), or the clone is too old for this family.",
                )
            )
        specs = ("library.train_util",)
    elif name == "simpletuner":
        if (folder / "simpletuner" / "__init__.py").is_file():
            specs = ("simpletuner",)
        elif (folder / "train.py").is_file():
            specs = ("helpers",)
        else:
            problems.append(
                _problem(
                    name,
                    "script_missing",
                    f"{folder} holds neither simpletuner/ nor train.py: it is not a SimpleTuner clone.",
                    "loragate starts SimpleTuner from its clone.",
                )
            )
    elif name == "ai-toolkit" and not (folder / "run.py").is_file():
        problems.append(
            _problem(
                name,
                "script_missing",
                f"{folder} has no run.py: it is not an ai-toolkit clone.",
                "ai-toolkit jobs are started with its run.py.",
            )
        )
    return BackendSetup(name, python, source, folder, version, specs, tuple(problems))


@dataclass(frozen=True)
class ImportCheck:
    python_version: str | None = None
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: str | None = None  # the check itself hung, crashed or could not start

    def version_of(self, package: str) -> str | None:
        for spec, result in self.modules.items():
            if spec.split(":")[0].split(".")[0] == package and result.get("ok"):
                return result.get("version")
        return None


def import_command(setup: BackendSetup) -> list[str]:
    command = [setup.python, script("import_check.py")]
    if setup.folder is not None:
        command += ["--path", str(setup.folder)]
    return command + list(setup.import_specs)


def check_imports(setup: BackendSetup, timeout: float = IMPORT_TIMEOUT) -> ImportCheck | None:
    """Import the trainer's packages in a child with its Python. Importing the whole
    stack takes seconds, so a clean result is reused while nothing it depends on has
    changed on disk (see ``install_stamp``); a failure is always checked afresh."""
    if not setup.import_specs or not setup.ready:
        return None
    command = import_command(setup)
    stamp = install_stamp(setup)
    key = (tuple(command), stamp)
    with _cache_lock:
        cached = _clean_imports.get(key) if stamp is not None else None
    if cached is not None:
        return cached
    result = parse_imports(run_child(command, timeout, cwd=setup.folder))
    clean = result.failure is None and all(r.get("ok") for r in result.modules.values())
    if clean and stamp is not None:
        with _cache_lock:
            _clean_imports[key] = result
    return result


_cache_lock = threading.Lock()
_clean_imports: dict[tuple[tuple[str, ...], tuple[tuple[str, int], ...]], ImportCheck] = {}


def site_dirs(python: str) -> list[Path]:
    """Where ``python`` installs packages: pip adds or removes a ``*.dist-info`` folder
    there on every install, upgrade or uninstall, which changes the folder's mtime."""
    if is_own_python(python):
        paths = sysconfig.get_paths()
        return sorted({Path(paths["purelib"]), Path(paths["platlib"])})
    root = Path(python).parent.parent
    return sorted(root.glob("lib/python3*/site-packages")) + sorted(root.glob("Lib/site-packages"))


def install_stamp(setup: BackendSetup) -> tuple[tuple[str, int], ...] | None:
    """What an import check's result depends on, as (path, mtime) pairs plus the clone's
    commit; None when it cannot be told (then nothing is reused)."""
    places = site_dirs(setup.python)
    if not places:
        return None
    if setup.folder is not None:
        places += [setup.folder] + [
            setup.folder / spec.split(".")[0] for spec in setup.import_specs
        ]
    stamp = []
    for place in places:
        try:
            stamp.append((str(place), place.stat().st_mtime_ns))
        except OSError:
            stamp.append((str(place), -1))
    stamp.append((setup.version or "", 0))
    return tuple(stamp)


def parse_imports(outcome: ChildOutcome) -> ImportCheck:
    payload = outcome.payload
    if payload is None:
        return ImportCheck(failure=describe_failure(outcome, "importing the trainer"))
    return ImportCheck(payload.get("python"), dict(payload.get("modules") or {}))
