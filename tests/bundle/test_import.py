"""Importing a rented GPU's results: a good results.zip becomes the project's next run (a
finished Run record, its folder runs/<number>/ laid out as a local run's, its loss
history stored), and is journaled; every kind of hostile archive is refused whole
with a plain message, and nothing is written (no run folder, no temporary folder)."""

from __future__ import annotations

import io
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.bundle.import_ import ResultsRefused, import_results
from app.journal import recent
from app.runs.records import get_run, list_runs
from app.settings import REPO_ROOT, Settings
from app.workspace import ProjectContext, Workspace
from tests.training.helpers import new_project

LORA = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "  # an empty safetensors file


@pytest.fixture
def ctx(workspace: Workspace, tmp_path: Path) -> ProjectContext:
    return workspace.context(new_project(workspace, tmp_path, training_folder=False))


def _zip(path: Path, entries: dict[str, bytes], *, modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (modes or {}).get(name, stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


GOOD = {
    "output/ink-wash.safetensors": LORA,
    "output/checkpoints/step-00000010/lora.safetensors": LORA,
    "output/checkpoints/step-00000010/COMPLETE": b"",
    "logs/train-events.jsonl": b'{"event": "step", "step": 1, "loss": 0.1}\n',
    "logs/loss.csv": b"step,loss\n1,0.1\n",
}


def test_a_results_zip_becomes_the_next_run_and_a_journal_line(
    ctx: ProjectContext, tmp_path: Path, workspace: Workspace
) -> None:
    imported = import_results(ctx, _zip(tmp_path / "results.zip", GOOD))
    run = ctx.dir / "runs" / "1"
    assert imported.path == run and imported.number == 1
    assert imported.loras == ["ink-wash.safetensors"]
    assert (run / "checkpoints" / "step-00000010" / "lora.safetensors").read_bytes() == LORA
    assert (run / "logs" / "loss.csv").is_file()
    record = get_run(ctx, 1)
    assert record is not None and record.state == "finished" and record.backend == "native"
    assert record.output_files == ["ink-wash.safetensors"] and record.last_loss == 0.1
    assert [c["step"] for c in record.checkpoints] == [10]
    second = import_results(ctx, _zip(tmp_path / "again.zip", GOOD))
    assert second.path.name == "2" and [r.number for r in list_runs(ctx)] == [2, 1]
    assert not [p.name for p in (ctx.dir / "runs").iterdir() if p.name.startswith(".")]
    with workspace.db.reading() as session:
        assert recent(session, ctx.project)[0].kind == "run.imported"


def test_the_readme_names_the_folder_an_imported_run_lands_in(
    ctx: ProjectContext, tmp_path: Path
) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## No GPU big enough? Rent one")[1].split("\n## ")[0]
    named = re.findall(r"`runs/([^`]*)/`", section)
    assert named == ["<number>"]
    imported = import_results(ctx, _zip(tmp_path / "results.zip", GOOD))
    assert imported.path == ctx.dir / "runs" / str(imported.number)


def _slip(tmp: Path, settings: Settings) -> Path:
    return _zip(tmp / "a.zip", GOOD | {"../../escaped.txt": b"x"})


def _absolute(tmp: Path, settings: Settings) -> Path:
    return _zip(tmp / "a.zip", GOOD | {"/etc/owned.txt": b"x"})


def _symlink(tmp: Path, settings: Settings) -> Path:
    link = "output/link.safetensors"
    return _zip(tmp / "a.zip", GOOD | {link: b"/etc/passwd"}, modes={link: stat.S_IFLNK | 0o777})


def _device(tmp: Path, settings: Settings) -> Path:
    device = "output/null"
    return _zip(tmp / "a.zip", GOOD | {device: b""}, modes={device: stat.S_IFCHR | 0o666})


def _ratio_bomb(tmp: Path, settings: Settings) -> Path:
    return _zip(tmp / "a.zip", GOOD | {"logs/zeros.log": bytes(8 * 1024**2)})


def _too_large(tmp: Path, settings: Settings) -> Path:
    settings.max_zip_uncompressed_bytes = 64
    return _zip(tmp / "a.zip", GOOD)


def _too_many(tmp: Path, settings: Settings) -> Path:
    settings.max_zip_entries = 3
    return _zip(tmp / "a.zip", GOOD)


def _tar(tmp: Path, settings: Settings) -> Path:
    path = tmp / "a.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("output/ink-wash.safetensors")
        info.size = len(LORA)
        archive.addfile(info, io.BytesIO(LORA))
    return path


def _no_lora(tmp: Path, settings: Settings) -> Path:
    return _zip(tmp / "a.zip", {"output/notes.txt": b"x", "logs/train.log": b"crashed"})


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_slip, "zip slip"),
        (_absolute, "zip slip"),
        (_symlink, "a link"),
        (_device, "a special file"),
        (_ratio_bomb, "zip bombs"),
        (_too_large, "would unpack to"),
        (_too_many, "holds 5 entries"),
        (_tar, "not a zip archive"),
        (_no_lora, "holds no LoRA"),
    ],
)
def test_a_hostile_or_wrong_archive_is_refused_and_nothing_is_written(
    ctx: ProjectContext,
    tmp_path: Path,
    make: Callable[[Path, Settings], Path],
    words: str,
) -> None:
    archive = make(tmp_path, ctx.settings)
    before = _contents(ctx.dir)
    with pytest.raises(ResultsRefused, match=words) as refused:
        import_results(ctx, archive)
    assert "Nothing was imported." in str(refused.value)
    assert _contents(ctx.dir) == before  # not even an empty runs/ folder
    assert not (tmp_path / "escaped.txt").exists()


def _contents(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder``, with each file's bytes (None for a folder)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
        for path in folder.rglob("*")
    }
