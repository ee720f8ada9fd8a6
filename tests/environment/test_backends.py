"""Trainers: the real native import check, and real kohya / SimpleTuner / ai-toolkit
folders made by the tests (with a real virtual environment inside a clone)."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

from app.environment.backend_findings import backend_findings, native_version_findings
from app.environment.backends import (
    NATIVE_KNOWN_GOOD,
    ImportCheck,
    check_imports,
    locate,
)
from app.grimoire import BackendPaths
from app.settings import REPO_ROOT

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _codes(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [finding.code for finding in findings]


def make_kohya_clone(root: Path, *, train_util: str = "import json\n") -> Path:
    clone = root / "sd-scripts"
    (clone / "library").mkdir(parents=True)
    (clone / "library" / "__init__.py").write_text("")
    (clone / "library" / "train_util.py").write_text(train_util)
    for script in ("train_network.py", "sdxl_train_network.py"):
        (clone / script).write_text("# sd-scripts training script\n")
    (clone / ".git" / "refs" / "heads").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (clone / ".git" / "packed-refs").write_text(f"# pack-refs\n{COMMIT} refs/heads/main\n")
    return clone


def test_native_known_good_versions_are_pyprojects_pins() -> None:
    pins = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for package, wanted in NATIVE_KNOWN_GOOD.items():
        match = next(p for p in pins if re.match(rf"^{package}\b", p))
        assert match.replace(" ", "") == f"{package}{wanted}", package


@pytest.mark.slow
def test_native_trainer_imports_for_real() -> None:
    setup = locate("native", BackendPaths(), "sdxl", optimizer="adamw")
    assert setup.ready and setup.python == sys.executable
    assert setup.optimizer_package is None  # AdamW is PyTorch's own: nothing more to import
    imports = check_imports(setup)
    assert imports is not None and imports.failure is None
    assert all(result["ok"] for result in imports.modules.values()), imports.modules
    assert imports.version_of("peft") == NATIVE_KNOWN_GOOD["peft"].lstrip("=")
    assert backend_findings(setup, imports, []) == []


def test_transformers_5_24_with_peft_0_21_blocks() -> None:
    imports = ImportCheck(
        "3.11.7",
        {
            "transformers:CLIPTextModel": {"ok": True, "version": "5.24.0"},
            "peft:LoraConfig": {"ok": True, "version": "0.21.2"},
            "diffusers:UNet2DConditionModel": {"ok": True, "version": "0.43.0"},
        },
    )
    findings = native_version_findings(imports)
    assert [(f.code, f.subject) for f in findings] == [
        ("backend.versions_incompatible", "transformers + peft"),
        ("backend.versions_untested", "diffusers"),
        ("backend.versions_untested", "transformers"),
    ]
    assert findings[0].severity == "block" and "'transformers<5.24'" in findings[0].fix


def test_kohya_not_configured_says_how_to_install_and_what_is_ready() -> None:
    setup = locate("kohya", BackendPaths(), "sdxl")
    (finding,) = backend_findings(setup, None, ["native"])
    assert finding.code == "backend.not_configured"
    assert "git clone https://github.com/kohya-ss/sd-scripts" in finding.fix
    assert "Ready on this machine instead: native (loragate's own trainer)" in finding.fix


def test_kohya_folder_missing_and_script_missing(tmp_path: Path) -> None:
    missing = locate("kohya", BackendPaths(kohya=str(tmp_path / "nowhere")), "sd15")
    assert _codes(missing.problems) == ["backend.folder_missing"]
    clone = make_kohya_clone(tmp_path)
    flux = locate("kohya", BackendPaths(kohya=str(clone)), "flux")
    (problem,) = flux.problems
    assert problem.code == "backend.script_missing" and "flux_train_network.py" in problem.message


def test_kohya_clone_without_venv_uses_loragates_python(tmp_path: Path) -> None:
    clone = make_kohya_clone(tmp_path)
    setup = locate("kohya", BackendPaths(kohya=str(clone)), "sdxl")
    assert setup.ready
    assert setup.python == sys.executable and "no venv inside the clone" in setup.python_source
    assert setup.version == f"main@{COMMIT[:12]}"
    imports = check_imports(setup)
    assert imports is not None and imports.modules["library.train_util"]["ok"]


def test_kohya_clone_with_its_own_venv_runs_the_check_with_it(
    tmp_path: Path, bare_venv: Path
) -> None:
    clone = make_kohya_clone(tmp_path, train_util="import toml  # an sd-scripts requirement\n")
    shutil.copytree(bare_venv.parent.parent, clone / "venv", symlinks=True)
    setup = locate("kohya", BackendPaths(kohya=str(clone)), "sdxl")
    assert setup.python == str(clone / "venv" / "bin" / "python")
    assert "virtual environment inside the clone" in setup.python_source
    imports = check_imports(setup)
    assert imports is not None
    (finding,) = backend_findings(setup, imports, ["native"])
    assert finding.code == "backend.import_failed"
    assert "No module named 'toml'" in finding.message
    assert "virtual environment inside the clone" in finding.message
    assert "venv/bin/pip install -r requirements.txt" in finding.fix


def test_a_clones_python_without_the_optimizers_package_blocks_with_its_install(
    tmp_path: Path, bare_venv: Path
) -> None:
    """sd-scripts imports prodigyopt for Prodigy; the clone's own venv lacks it."""
    clone = make_kohya_clone(tmp_path)
    shutil.copytree(bare_venv.parent.parent, clone / "venv", symlinks=True)
    setup = locate("kohya", BackendPaths(kohya=str(clone)), "sdxl", optimizer="prodigy")
    assert setup.import_specs == ("library.train_util", "prodigyopt")
    imports = check_imports(setup)
    assert imports is not None
    (finding,) = backend_findings(setup, imports, ["native"])
    assert (finding.code, finding.severity) == ("backend.optimizer_missing", "block")
    assert "No module named 'prodigyopt'" in finding.message
    assert f"`{clone / 'venv' / 'bin' / 'python'} -m pip install prodigyopt`" in finding.fix
    assert "Ready on this machine instead" not in finding.fix  # another trainer is no fix


def test_the_native_trainer_does_not_train_sd2_or_flux() -> None:
    for family, title in (("sd2", "Stable Diffusion 2.x"), ("flux", "Flux.1")):
        setup = locate("native", BackendPaths(), family, optimizer="adamw8bit")
        assert not setup.ready and setup.import_specs[-1] != "bitsandbytes"
        (finding,) = backend_findings(setup, check_imports(setup), [])
        assert (finding.code, finding.severity) == ("backend.family_unsupported", "block")
        assert finding.message == (
            f"loragate's own trainer does not train {title} LoRAs; "
            "kohya sd-scripts, SimpleTuner and ai-toolkit do."
        )
        assert "trains Stable Diffusion 1.5 and Stable Diffusion XL" in finding.why
    assert locate("native", BackendPaths(), "sd15").ready
    assert locate("kohya", BackendPaths(kohya="/nowhere"), "sd2").problems[0].code == (
        "backend.folder_missing"
    )


def test_simpletuner_from_pip_not_installed_here() -> None:
    setup = locate("simpletuner", BackendPaths(), "flux")
    imports = check_imports(setup)
    (finding,) = backend_findings(setup, imports, ["native"])
    assert finding.code == "backend.not_installed"
    assert "python3.12 -m venv .venv" in finding.fix


def test_ai_toolkit_clone_needs_run_py(tmp_path: Path) -> None:
    clone = tmp_path / "ai-toolkit"
    clone.mkdir()
    setup = locate("ai-toolkit", BackendPaths(ai_toolkit=str(clone)), "flux")
    assert _codes(setup.problems) == ["backend.script_missing"]
    (clone / "run.py").write_text("# run a job\n")
    (clone / ".git").mkdir()
    (clone / ".git" / "HEAD").write_text(COMMIT + "\n")  # a detached checkout
    ready = locate("ai-toolkit", BackendPaths(ai_toolkit=str(clone)), "flux")
    assert ready.ready and ready.version == COMMIT[:12]
    assert check_imports(ready) is None  # nothing to import: the folder and run.py are the check


def test_unknown_backend_blocks() -> None:
    setup = locate("onetrainer", BackendPaths(), "sdxl")
    assert _codes(setup.problems) == ["backend.unknown"]


@pytest.mark.parametrize("name", ["kohya", "simpletuner", "ai-toolkit"])
def test_identity_changes_with_the_clones_commit(tmp_path: Path, name: str) -> None:
    clone = make_kohya_clone(tmp_path)
    (clone / "run.py").write_text("")
    (clone / "train.py").write_text("")
    paths = BackendPaths(kohya=str(clone), simpletuner=str(clone), ai_toolkit=str(clone))
    before = locate(name, paths, "sdxl").identity
    (clone / ".git" / "refs" / "heads" / "main").write_text("f" * 40 + "\n")  # a `git pull`
    assert locate(name, paths, "sdxl").identity != before


def test_clean_import_check_is_reused_until_an_install_changes_site_packages(
    tmp_path: Path, bare_venv: Path
) -> None:
    clone = make_kohya_clone(tmp_path)
    shutil.copytree(bare_venv.parent.parent, clone / "venv", symlinks=True)
    setup = locate("kohya", BackendPaths(kohya=str(clone)), "sdxl")
    first = check_imports(setup)
    assert first is not None and first.modules["library.train_util"]["ok"]
    assert check_imports(setup) is first  # nothing changed: reused
    (site,) = (clone / "venv" / "lib").glob("python3*/site-packages")
    (site / "toml-0.10.2.dist-info").mkdir()  # what `pip install toml` leaves behind
    assert check_imports(setup) is not first


def test_failed_import_check_is_always_run_again(tmp_path: Path, bare_venv: Path) -> None:
    clone = make_kohya_clone(tmp_path, train_util="import toml\n")
    shutil.copytree(bare_venv.parent.parent, clone / "venv", symlinks=True)
    setup = locate("kohya", BackendPaths(kohya=str(clone)), "sdxl")
    first = check_imports(setup)
    assert first is not None and not first.modules["library.train_util"]["ok"]
    (clone / "library" / "train_util.py").write_text("import json\n")  # fixed by hand
    fixed = check_imports(setup)
    assert fixed is not None and fixed.modules["library.train_util"]["ok"]
