"""requirements.lock pins what `make run` and `make test` install: every requirement in
pyproject.toml at a version it allows, nothing of the torch build (chosen per machine),
and `make lock-check` (CI) notices an install that drifted from it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
TOOL = ROOT / "tools" / "lock.py"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def lock_pins(path: Path = LOCK) -> dict[str, str]:
    pins = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def requirements(*extras: str) -> list[Requirement]:
    texts = list(PROJECT["dependencies"])
    for extra in extras:
        texts += PROJECT["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def test_every_requirement_is_locked_at_a_version_pyproject_allows() -> None:
    pins = lock_pins()
    for requirement in requirements("dev", "captioners", "optimizers"):
        name = canonicalize_name(requirement.name)
        if name in ("torch", "loragate"):
            continue
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, pyproject asks {requirement}"
        )


def test_the_torch_build_is_left_to_the_machine_and_what_every_build_needs_is_pinned() -> None:
    pins = lock_pins()
    assert not {"torch", "triton"} & set(pins)
    cuda_libraries = [n for n in pins if n.startswith(("nvidia-", "cuda-")) and n != "nvidia-ml-py"]
    assert not cuda_libraries  # nvidia-ml-py is loragate's own (pynvml), not torch's
    # torch's own requirements, the same for its CPU and CUDA builds, are pinned: the
    # Makefile installs torch with the lock (a fresh sympy could otherwise break it).
    torch = metadata.distribution("torch")
    needed = {
        canonicalize_name(Requirement(text).name)
        for text in torch.requires or []
        if Requirement(text).marker is None
    }
    assert needed and needed <= set(pins), needed - set(pins)


def test_make_run_installs_no_package_only_an_optional_part_uses() -> None:
    base = {canonicalize_name(r.name) for r in requirements()}
    assert not {"onnxruntime", "prodigyopt", "lion-pytorch", "wordfreq"} & base
    assert "wordfreq" not in lock_pins()  # gone: app/data/common_words.txt replaces it
    extras = PROJECT["optional-dependencies"]
    assert any(r.startswith("onnxruntime") for r in extras["captioners"])
    assert {Requirement(r).name for r in extras["optimizers"]} == {"prodigyopt", "lion-pytorch"}


def test_lock_check_names_a_package_installed_at_another_version(tmp_path: Path) -> None:
    installed = metadata.version("packaging")
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"# a lock\npackaging=={installed}\nruff==0.0.1\n", "utf-8")
    drifted = subprocess.run(
        [sys.executable, str(TOOL), "check", str(lock)], capture_output=True, text=True
    )
    assert drifted.returncode == 1
    assert f"ruff: locked at 0.0.1, installed {metadata.version('ruff')}" in drifted.stdout
    assert "packaging" not in drifted.stdout.split("\n", 1)[1]

    lock.write_text(f"packaging=={installed}\n", "utf-8")
    matched = subprocess.run(
        [sys.executable, str(TOOL), "check", str(lock)], capture_output=True, text=True
    )
    assert matched.returncode == 0, matched.stdout
