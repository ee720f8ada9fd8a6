"""``loragate bundle import``: a rented GPU's results (the ``results.zip`` the bundle's
launch script packs: ``output/``, ``logs/`` and the bundle's ``manifest.json``) come home
as a run of the project: a Run record numbered as local runs are, its folder
``<project>/runs/<number>/`` laid out as a local run's (the final LoRA at the top,
``checkpoints/``, ``samples/``, the logs under ``logs/``), finished, with the backend and
config the manifest names and the loss history read from the trainer's own log by the
one trainer-output parser (app/training/trainer_output.py). The Runs page, the run's
page and evaluation then treat it as a local run.

The archive comes from a machine loragate does not control, so it is judged whole before
anything lands: the zip guards of app/dataset/staging.py (entry count, total size,
compression ratio, paths that leave the folder), then links and special files are refused
rather than skipped. It is unpacked into a hidden folder of the project, checked,
and renamed into place: a refused or failed import writes nothing.
"""

from __future__ import annotations

import json
import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from app import journal
from app.bundle import LOGS_DIR, MANIFEST, OUTPUT_DIR
from app.dataset.staging import ArchiveRefused, check_archive, unpack_zip
from app.run_folders import runs_root
from app.runs.imported import RunFolderTaken, add_finished_run
from app.training.trainer_output import BACKEND_NAMES, Progress, parse_line, split_output
from app.workspace import ProjectContext

LORA_SUFFIX = ".safetensors"
# The training's own log, as the launch script writes it (the dry run's beside it is
# not the run): the native trainer's JSON lines, an external trainer's console.
TRAIN_LOGS = {"native": "train-events.jsonl"}
TRAIN_LOG = "train.log"


class ResultsRefused(ValueError):
    """The archive is refused whole; nothing was written. The message says why."""


@dataclass
class ImportedRun:
    path: Path
    loras: list[str] = field(default_factory=list)  # at the top: the final LoRA
    checkpoints: int = 0
    files: int = 0
    number: int = 0  # the Run record's

    def summary(self) -> str:
        return (
            f"Imported a rented GPU's run as run {self.number} (runs/{self.number}): "
            f"{', '.join(self.loras) or 'no final LoRA'}, {self.checkpoints} checkpoint file(s), "
            f"{self.files} files in all."
        )


def _refuse_links_and_special(archive: zipfile.ZipFile) -> None:
    for entry in archive.infolist():
        mode = entry.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            what = "a link" if stat.S_ISLNK(mode) else "a special file (device, pipe or socket)"
            raise ResultsRefused(
                f"The archive holds “{entry.filename}”, {what}. A run's results are plain "
                "files only. Nothing was imported."
            )


def _content_root(unpacked: Path) -> Path:
    """The folder holding ``output/`` (the archive's top, or one folder down when it was
    packed with its bundle folder around it)."""
    if (unpacked / OUTPUT_DIR).is_dir():
        return unpacked
    children = [child for child in unpacked.iterdir() if child.is_dir()]
    if len(children) == 1 and (children[0] / OUTPUT_DIR).is_dir():
        return children[0]
    raise ResultsRefused(
        f"The archive has no {OUTPUT_DIR}/ folder: it is not the results a loragate bundle "
        "packs (results.zip, with output/ and logs/). Nothing was imported."
    )


def _manifest(root: Path) -> dict[str, Any]:
    """The bundle's manifest the launch script packs beside the results; {} when the
    archive has none (packed by hand): the run is then recorded without a config."""
    try:
        data = json.loads((root / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _backend(manifest: dict[str, Any], run: Path) -> str:
    backend = manifest.get("backend")
    if isinstance(backend, str) and backend in BACKEND_NAMES:
        return backend
    return "native" if (run / LOGS_DIR / TRAIN_LOGS["native"]).is_file() else "unknown"


def loss_history(backend: str, logs: Path) -> list[dict[str, Any]]:
    """The training's steps (step, total, epoch, loss, smoothed loss, lr, s/step) read
    from its log by the same parser the supervisor reads a live trainer with; a step
    printed again (a progress bar redrawn) counts once."""
    path = logs / TRAIN_LOGS.get(backend, TRAIN_LOG)
    if backend not in BACKEND_NAMES or not path.is_file():
        return []
    steps: dict[int, dict[str, Any]] = {}
    for line in split_output(path.read_bytes()):
        try:
            event = parse_line(backend, line)
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(event, Progress) and event.step > 0:
            steps[event.step] = {
                "step": event.step,
                "total": event.total,
                "epoch": event.epoch,
                "loss": event.loss,
                "smoothed_loss": event.smoothed_loss,
                "lr": event.lr,
                "seconds_per_step": event.seconds_per_step,
            }
    return [steps[step] for step in sorted(steps)]


def _outputs(root: Path, manifest: dict[str, Any]) -> Path:
    """The folder whose files are the run's: ``output/``, or for ai-toolkit the folder
    named after its job inside it (ai-toolkit writes ``output/<name>/<name>.safetensors``
    and its saves beside it), so that its LoRAs are at the run's top as every run's are."""
    output = root / OUTPUT_DIR
    children = list(output.iterdir())
    if (
        manifest.get("backend") == "ai-toolkit"
        and len(children) == 1
        and children[0].is_dir()
        and any(children[0].glob(f"*{LORA_SUFFIX}"))
    ):
        return children[0]
    return output


def _arrange(root: Path, run: Path, manifest: dict[str, Any]) -> None:
    """``output/*`` becomes the run's top (the native trainer's own layout), ``logs/`` stays."""
    run.mkdir()
    for child in _outputs(root, manifest).iterdir():
        child.rename(run / child.name)
    logs = root / LOGS_DIR
    if logs.is_dir():
        target = run / LOGS_DIR
        if target.exists():
            for child in logs.iterdir():
                child.rename(target / child.name)
        else:
            logs.rename(target)


def _describe(run: Path) -> ImportedRun:
    imported = ImportedRun(run)
    for path in sorted(run.rglob("*")):
        if not path.is_file():
            continue
        imported.files += 1
        relative = PurePosixPath(path.relative_to(run).as_posix())
        if relative.suffix == LORA_SUFFIX and len(relative.parts) == 1:
            imported.loras.append(relative.name)
        elif relative.parts[0] == "checkpoints":
            imported.checkpoints += 1
    return imported


def _judge(archive_path: Path, target: Path, ctx: ProjectContext) -> None:
    """The whole archive judged from its listing, before anything is written."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError):
        raise ResultsRefused(
            f"{archive_path.name} is not a zip archive (or it is damaged). Import the "
            "results.zip the bundle's launch script packed. Nothing was imported."
        ) from None
    with archive:
        try:
            check_archive(archive, target, ctx.settings)
        except ArchiveRefused as exc:
            raise ResultsRefused(f"{exc} Nothing was imported.") from None
        _refuse_links_and_special(archive)


def import_results(ctx: ProjectContext, archive_path: Path) -> ImportedRun:
    """Bring a results archive in as the project's next run, or ResultsRefused."""
    # Unpacked in the project folder (the disk of its runs, so the last step is a
    # rename), in a hidden folder removed whatever happens: runs/ itself is made only
    # when the run lands, so a refused import leaves the project as it was.
    work = ctx.dir / f".importing-{uuid.uuid4().hex}"
    _judge(archive_path, work / "unpacked", ctx)
    work.mkdir()
    try:
        try:
            unpacked = unpack_zip(archive_path, work / "unpacked", ctx.settings)
        except ArchiveRefused as exc:
            raise ResultsRefused(f"{exc} Nothing was imported.") from None
        if unpacked.skipped:
            first = unpacked.skipped[0]
            raise ResultsRefused(
                f"“{first['path']}” in the archive could not be unpacked ({first['why']}); "
                "a run is imported whole or not at all. Nothing was imported."
            )
        root = _content_root(work / "unpacked")
        manifest = _manifest(root)
        staged = work / "run"
        _arrange(root, staged, manifest)
        described = _describe(staged)
        if not described.loras and not described.checkpoints:
            raise ResultsRefused(
                f"The archive's {OUTPUT_DIR}/ holds no LoRA (.safetensors): the run may have "
                "stopped early; its logs are in the archive. Nothing was imported."
            )
        return record_imported_run(ctx, staged, manifest, archive_path.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def record_imported_run(
    ctx: ProjectContext,
    staged: Path,
    manifest: dict[str, Any],
    source: str,
) -> ImportedRun:
    """The one place an imported run is recorded: a finished Run record (its folder
    moved to runs/<number>/) and the journal line."""
    backend = _backend(manifest, staged)
    config = manifest.get("config")
    gpu = manifest.get("gpu")
    where = gpu.get("title") if isinstance(gpu, dict) else None
    try:
        run = add_finished_run(
            ctx,
            staged,
            backend=backend,
            config=config if isinstance(config, dict) else {},
            steps=loss_history(backend, staged / LOGS_DIR),
            message=f"Trained on a rented GPU ({where or 'not named'}), imported from {source}.",
        )
    except RunFolderTaken as exc:
        raise ResultsRefused(f"{exc} Nothing was imported.") from None
    imported = _describe(runs_root(ctx.dir) / str(run.number))
    imported.number = run.number
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "run.imported",
            imported.summary(),
            {
                "run": run.number,
                "backend": backend,
                "source": source,
                "loras": imported.loras,
                "checkpoints": imported.checkpoints,
                "files": imported.files,
                "steps": run.step,
            },
        )
    return imported
