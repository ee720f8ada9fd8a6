"""The kinds of job, and which exclude each other: the one place that decides it.

A kind names its work function as ``module:function`` (imported only in the child, so
that starting a caption job never imports a captioner into the server), whether it
needs a GPU (at most one GPU job per GPU; later ones wait in line), and the project
resources it uses: two jobs of one project exclude each other when they are of the
same kind or share a resource. Everything that reads or writes a project's images and
captions (import, audit, training folder, auto-captioning) uses "dataset", so an
import and an audit can never run at once on one project.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class JobKind:
    entry: str  # "package.module:function", called in the child with a JobHandle
    gpu: bool = False
    uses: frozenset[str] = field(default_factory=frozenset)


DATASET = frozenset({"dataset"})

KINDS: dict[str, JobKind] = {
    "dataset.import": JobKind("app.curation.tasks:import_job", uses=DATASET),
    "dataset.audit": JobKind("app.curation.tasks:audit_job", uses=DATASET),
    "dataset.layout": JobKind("app.curation.tasks:layout_job", uses=DATASET),
    "captions.sample": JobKind("app.captions.autocaption:sample_job", gpu=True, uses=DATASET),
    "captions.auto": JobKind("app.captions.autocaption:run_job", gpu=True, uses=DATASET),
    # Builds the demo's tiny model, then is the import job (app/demo/tasks.py).
    "demo.setup": JobKind("app.demo.tasks:setup_job", uses=DATASET),
    "bundle.export": JobKind("app.bundle.tasks:export_job", uses=DATASET),
    "bundle.import": JobKind("app.bundle.tasks:import_job", uses=frozenset({"runs"})),
    "environment.check": JobKind("app.gates.environment_job:environment_job"),
    # Not a project's: one download at a time (two jobs of one kind exclude each other).
    "models.pull": JobKind("app.hub.jobs:pull_job"),
    # Reads the training folder the layout writes: never while an import changes it.
    "training.dryrun": JobKind("app.gates.dryrun_job:dryrun_job", gpu=True, uses=DATASET),
    # A training run reads the training folder: no import or audit while it trains.
    "training.run": JobKind("app.runs.supervise:run_job", gpu=True, uses=DATASET),
    # Reads the project's LoRA files and writes only under <project>/evaluation/: it
    # shares nothing with the dataset's jobs; one GPU job at a time.
    "evaluation.grid": JobKind("app.evaluation.job:grid_job", gpu=True),
}


class UnknownKind(ValueError):
    pass


def kind_of(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"“{name}” is not a kind of job loragate runs.") from None


def register_kind(name: str, kind: JobKind) -> None:
    """Add a kind (the tests' own test-only kinds use this)."""
    KINDS[name] = kind


def exclude_each_other(a: str, b: str) -> bool:
    """Two jobs of one project that may not run (or wait) at the same time. A kind this
    process does not know (a job started by another version of loragate, or by a
    test) is taken to touch everything."""
    if a == b or a not in KINDS or b not in KINDS:
        return True
    return bool(KINDS[a].uses & KINDS[b].uses)
