"""``loragate bundle import``: a rented GPU's results (the ``results.zip`` the bundle's
launch script packs: ``output/`` and ``logs/``) come home into
``<project>/runs/imported-<n>/``, laid out as a local run: the final LoRA at the top,
``checkpoints/``, ``samples/``, the logs and the loss history under ``logs/``.

The archive comes from a machine loragate does not control, so it is judged whole before
anything lands: the zip guards of app/dataset/staging.py (entry count, total size,
compression ratio, paths that leave the folder), then links and special files are refused
rather than skipped. It is unpacked into a temporary folder beside the runs, checked,
and renamed into place: a refused or failed import writes nothing.
"""

from __future__ import annotations

import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app import journal
from app.bundle import LOGS_DIR, OUTPUT_DIR
from app.dataset.staging import ArchiveRefused, check_archive, unpack_zip
from app.workspace import ProjectContext

RUNS_DIRNAME = "runs"
IMPORTED_PREFIX = "imported-"
LORA_SUFFIX = ".safetensors"


class ResultsRefused(ValueError):
    """The archive is refused whole; nothing was written. The message says why."""


@dataclass
class ImportedRun:
    path: Path
    loras: list[str] = field(default_factory=list)  # at the top: the final LoRA
    checkpoints: int = 0
    files: int = 0

    def summary(self) -> str:
        return (
            f"Imported a rented GPU's run into {self.path.name}: "
            f"{', '.join(self.loras) or 'no final LoRA'}, {self.checkpoints} checkpoint file(s), "
            f"{self.files} files in all."
        )


def runs_dir(ctx: ProjectContext) -> Path:
    return ctx.dir / RUNS_DIRNAME


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


def _next_name(runs: Path) -> str:
    numbers = [
        int(child.name[len(IMPORTED_PREFIX) :])
        for child in runs.iterdir()
        if child.name.startswith(IMPORTED_PREFIX) and child.name[len(IMPORTED_PREFIX) :].isdigit()
    ]
    return f"{IMPORTED_PREFIX}{max(numbers, default=0) + 1}"


def _arrange(root: Path, run: Path) -> None:
    """``output/*`` becomes the run's top (the native trainer's own layout), ``logs/`` stays."""
    run.mkdir()
    for child in (root / OUTPUT_DIR).iterdir():
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


def import_results(ctx: ProjectContext, archive_path: Path) -> ImportedRun:
    """Bring a results archive into ``runs/imported-<n>/``, or ResultsRefused."""
    runs = runs_dir(ctx)
    runs.mkdir(parents=True, exist_ok=True)
    # On the same disk as the runs, so the last step is a rename.
    work = runs / f".importing-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        try:
            archive = zipfile.ZipFile(archive_path)
        except (zipfile.BadZipFile, OSError):
            raise ResultsRefused(
                f"{archive_path.name} is not a zip archive (or it is damaged). Import the "
                "results.zip the bundle's launch script packed. Nothing was imported."
            ) from None
        with archive:
            try:
                check_archive(archive, work / "unpacked", ctx.settings)
            except ArchiveRefused as exc:
                raise ResultsRefused(f"{exc} Nothing was imported.") from None
            _refuse_links_and_special(archive)
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
        staged = work / "run"
        _arrange(root, staged)
        described = _describe(staged)
        if not described.loras and not described.checkpoints:
            raise ResultsRefused(
                f"The archive's {OUTPUT_DIR}/ holds no LoRA (.safetensors): the run may have "
                "stopped early; its logs are in the archive. Nothing was imported."
            )
        name = _next_name(runs)
        target = runs / name
        staged.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    imported = _describe(target)
    record_imported_run(ctx, imported, archive_path.name)
    return imported


def record_imported_run(ctx: ProjectContext, imported: ImportedRun, source: str) -> None:
    """The one place an imported run is recorded: the journal for now; the run registry
    (a Run row, evaluated like a local run) is wired here once it exists."""
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "run.imported",
            imported.summary(),
            {
                "folder": imported.path.name,
                "source": source,
                "loras": imported.loras,
                "checkpoints": imported.checkpoints,
                "files": imported.files,
            },
        )
