"""Whether the chosen trainer fits this project's settings: does it train the model
family at all, and can its Python import the package the config's optimizer lives in?
A trainer that refuses the family, or stops at its first line for a missing
``bitsandbytes``, is no more usable than one that is not installed.

Which families each trainer trains comes from the config writers themselves
(``app/training/backends/``), so the gate and ``loragate config`` never disagree; which
package each optimizer needs comes from ``app/training/optimizer_packages.py``, shared
with the native trainer's own refusal.
"""

from __future__ import annotations

from app.findings import Finding
from app.intent import MODEL_FAMILIES
from app.training.backends import ai_toolkit, kohya, native, simpletuner
from app.training.optimizer_packages import NEEDS_CUDA, OptimizerPackage

FAMILIES_TRAINED: dict[str, tuple[str, ...]] = {
    "native": native.SUPPORTED,
    "kohya": tuple(kohya.SCRIPTS),
    "simpletuner": tuple(simpletuner.FAMILIES),
    "ai-toolkit": tuple(ai_toolkit.ARCH),
}
SOURCE_FAMILIES = "preflight-checklist#which-trainer-trains-which-family"
SOURCE_OPTIMIZERS = "preflight-checklist#optimizer-packages"


def _family_title(family: str) -> str:
    known = MODEL_FAMILIES.get(family)
    return known.title if known else family


def _names(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def trains(backend: str, family: str) -> bool:
    return family in FAMILIES_TRAINED.get(backend, ())


def family_problem(backend: str, family: str | None, titles: dict[str, str]) -> Finding | None:
    """A block when ``backend`` does not train ``family``, naming those that do."""
    if family is None or backend not in FAMILIES_TRAINED or trains(backend, family):
        return None
    title = titles[backend]
    others = [titles[name] for name in FAMILIES_TRAINED if name != backend and trains(name, family)]
    families = _names([_family_title(f) for f in FAMILIES_TRAINED[backend]])
    verb = "does" if len(others) == 1 else "do"
    return Finding(
        code="backend.family_unsupported",
        severity="block",
        subject=title,
        message=f"{title} does not train {_family_title(family)} LoRAs; "
        + (f"{_names(others)} {verb}." if others else "no trainer loragate drives does."),
        why=f"{title} trains {families}; it would refuse this job the moment it starts.",
        fix="Create a project for this base model with one of those trainers (a project's "
        "trainer is chosen when it is created) and name its folder in grimoire/studio.md.",
        source=SOURCE_FAMILIES,
    )


def optimizer_missing(
    title: str,
    python: str,
    python_source: str,
    optimizer: str,
    package: OptimizerPackage,
    error: str,
) -> Finding:
    return Finding(
        code="backend.optimizer_missing",
        severity="block",
        subject=f"optimizer {optimizer}",
        message=f"The config's optimizer {optimizer} needs the {package.module} package, "
        f"which {title} cannot import with {python_source}: {error}",
        why="The trainer imports it when it builds the optimizer: loragate's own trainer "
        "refuses the job at once, other trainers stop after minutes of loading the model.",
        fix=f"Install it into that Python: `{package.install_command(python)}`; or choose "
        "the adamw optimizer in the config, which needs nothing besides PyTorch.",
        source=SOURCE_OPTIMIZERS,
    )


def optimizer_device_problem(backend: str, optimizer: str, device: str) -> Finding | None:
    """loragate's own trainer refuses bitsandbytes' 8-bit AdamW on the CPU."""
    if backend != "native" or optimizer not in NEEDS_CUDA or device == "cuda":
        return None
    return Finding(
        code="backend.optimizer_needs_cuda",
        severity="block",
        subject=f"optimizer {optimizer}",
        message=f"The config trains on the {device} with the {optimizer} optimizer, which "
        "keeps its 8-bit states on a CUDA GPU.",
        why="loragate's own trainer refuses this combination when it starts.",
        fix="Choose the adamw optimizer for a CPU run, or set device to cuda.",
        source=SOURCE_OPTIMIZERS,
    )
