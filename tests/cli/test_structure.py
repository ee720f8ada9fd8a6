"""`loragate structure PROJECT --out DIR` as a real subprocess: refused with reasons while
Gate 1 blocks (exit 1), the kohya layout once it passes (exit 0), usage errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.dataset.inventory import dataset_dir, layout_dir
from app.workspace import Workspace
from tests.captions.approve import approve_all
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent
from tests.cli.conftest import CliRunner, json_of
from tests.dataset import builders as b


@pytest.mark.slow
def test_structure_refuses_then_writes_the_layout(
    cli: CliRunner,
    workspace: Workspace,
    make_intent,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    ctx = caption_project(
        workspace, mira_intent(make_intent, name="Teapot", training_type="object"), []
    )
    for seed in range(10):
        root = dataset_dir(ctx) / "3_teapot"
        b.save(b.photo(900 + seed, (576, 512)), root / f"{seed:02}.png")
        (root / f"{seed:02}.txt").write_text(f"{TRIGGER}, on a table {seed}")

    refused = cli("structure", "teapot")
    assert refused.returncode == 1, refused.stderr
    assert "Nothing was written." in refused.stderr
    assert "Gate 1 blocks, so the training folder was not written:" in refused.stderr
    assert "is a draft: nobody has approved it yet." in refused.stderr
    assert "Traceback" not in refused.stderr and not layout_dir(ctx).exists()

    approve_all(ctx)
    out = tmp_path / "for-kohya"
    written = cli("structure", "teapot", "--out", str(out), "--json")
    assert written.returncode == 0, written.stderr
    report = json_of(written)
    assert report["written"] is True and report["folders"] == {"3_teapot": 10}  # type: ignore[index]
    assert sorted(p.name for p in (out / "3_teapot").iterdir())[:2] == ["00.png", "00.txt"]
    assert (out / "3_teapot" / "00.txt").read_text() == f"{TRIGGER}, on a table 0"

    default = cli("structure", "teapot")
    assert default.returncode == 0 and "Wrote the training folder" in default.stdout
    assert (layout_dir(ctx) / "3_teapot" / "09.png").is_file()

    unknown = cli("structure", "nope")
    assert unknown.returncode == 2 and "there is no project “nope”" in unknown.stderr
