"""Long work never runs in the server process: after an audit and an auto-caption
sample through the app, the server's interpreter has imported no captioner runtime
(onnxruntime, transformers) and has not initialised CUDA; the jobs ran in children."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from app.settings import REPO_ROOT


def test_the_server_never_loads_a_captioner_or_cuda(tmp_path: Path) -> None:
    shutil.copytree(
        REPO_ROOT / "grimoire", tmp_path / "grimoire", ignore=shutil.ignore_patterns("training")
    )
    (tmp_path / "grimoire" / "training").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "tests.worker.server_process", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["audit"] == "done" and report["sample"] == "done" and report["raw"] == 2
    assert report["captioner_modules"] == []
    assert report["cuda_initialised"] is False
