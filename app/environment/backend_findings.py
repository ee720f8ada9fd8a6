"""What the trainer check found, as findings: a trainer that is missing, broken, at
versions that do not work together, unable to train the family, or without the
config's optimizer package, each with the exact way to install or fix it, and which
other trainer is ready instead."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from app.environment.backends import (
    INSTALL,
    NATIVE_KNOWN_GOOD,
    TITLES,
    BackendSetup,
    ImportCheck,
    locate,
    package_version,
)
from app.environment.trainer_fit import optimizer_missing
from app.findings import Finding
from app.grimoire import BackendPaths
from app.intent import BACKENDS

SOURCE = "preflight-checklist#the-trainer-backend"


def installed_now(setup: BackendSetup) -> bool:
    """Ready as far as files and package metadata tell (nothing is run)."""
    if not setup.ready:
        return False
    if setup.name == "native":
        return all(package_version(package) for package in NATIVE_KNOWN_GOOD)
    if setup.name == "simpletuner" and setup.folder is None:
        return setup.version is not None
    return True


def ready_alternatives(chosen: str, paths: BackendPaths, family: str | None) -> list[str]:
    return [
        name for name in BACKENDS if name != chosen and installed_now(locate(name, paths, family))
    ]


def _alternatives_words(alternatives: list[str]) -> str:
    if not alternatives:
        return ""
    names = ", ".join(f"{name} ({TITLES[name]})" for name in alternatives)
    return f" Ready on this machine instead: {names}; a project created with that trainer can use it now."


def backend_findings(
    setup: BackendSetup, imports: ImportCheck | None, alternatives: list[str]
) -> list[Finding]:
    others = _alternatives_words(alternatives)
    findings = [
        problem.model_copy(update={"fix": problem.fix + others}) for problem in setup.problems
    ]
    if imports is None:
        return findings
    if imports.failure:
        findings.append(
            Finding(
                code="backend.check_failed",
                severity="block",
                subject=setup.title,
                message=f"Checking {setup.title} with {setup.python} failed: {imports.failure}",
                why="The trainer starts the same way; it would fail the same way.",
                fix="Run the checks again; if it repeats, reinstall the trainer. "
                + INSTALL[setup.name]
                + others,
                source=SOURCE,
            )
        )
        return findings
    for spec, result in imports.modules.items():
        if result.get("ok"):
            continue
        error = str(result.get("error") or "unknown error")
        module = spec.split(":")[0]
        top = module.split(".")[0]
        package = setup.optimizer_package
        if package is not None and setup.optimizer and module == package.module:
            findings.append(
                optimizer_missing(
                    setup.title, setup.python, setup.python_source, setup.optimizer, package, error
                )
            )
            continue
        if setup.name == "simpletuner" and setup.folder is None and f"'{top}'" in error:
            findings.append(
                Finding(
                    code="backend.not_installed",
                    severity="block",
                    subject=setup.title,
                    message=f"SimpleTuner is not installed in {setup.python}, and studio.md names "
                    "no SimpleTuner clone.",
                    why="The project trains with SimpleTuner.",
                    fix=INSTALL["simpletuner"] + others,
                    source=SOURCE,
                )
            )
            continue
        findings.append(
            Finding(
                code="backend.import_failed",
                severity="block",
                subject=setup.title,
                message=f"{setup.title} cannot import {module} with {setup.python_source}: {error}",
                why="A trainer that cannot import its own code stops at once, or worse, after "
                "the model has loaded. Updates of one package often break another.",
                fix=f"Install the trainer's requirements into that Python. {INSTALL[setup.name]}"
                + others,
                source=SOURCE,
            )
        )
    if setup.name == "native":
        findings += native_version_findings(imports)
    return findings


def native_version_findings(imports: ImportCheck) -> list[Finding]:
    versions = {package: imports.version_of(package) for package in NATIVE_KNOWN_GOOD}
    findings: list[Finding] = []
    transformers, peft = _parse(versions.get("transformers")), _parse(versions.get("peft"))
    if transformers and peft and transformers >= Version("5.24") and peft < Version("0.22"):
        findings.append(
            Finding(
                code="backend.versions_incompatible",
                severity="block",
                subject="transformers + peft",
                message=f"transformers {transformers} needs peft 0.22 or newer to attach a "
                f"LoRA to the text encoder; peft {peft} is installed.",
                why="Training the text encoder would fail at its first step with an error from "
                "transformers' add_adapter.",
                fix="Install the tested pair: `.venv/bin/pip install 'transformers<5.24' "
                "'peft==0.21.2'`.",
                source="preflight-checklist#loragates-own-trainer",
            )
        )
    for package, wanted in NATIVE_KNOWN_GOOD.items():
        version = _parse(versions.get(package))
        if version is None or version in SpecifierSet(wanted):
            continue
        findings.append(
            Finding(
                code="backend.versions_untested",
                severity="warn",
                subject=package,
                message=f"{package} {version} is installed; loragate is tested with "
                f"{package}{wanted}.",
                why="diffusers, peft and transformers change their APIs between releases; an "
                "untested combination can fail mid-run or save LoRAs other tools misread.",
                fix=f"Install the tested version: `.venv/bin/pip install '{package}{wanted}'`, "
                "or keep it and let the dry run (Gate 4) prove it works.",
                source="preflight-checklist#loragates-own-trainer",
            )
        )
    return findings


def _parse(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
