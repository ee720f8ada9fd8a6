"""Run by ``test_server_process.py`` in a fresh interpreter (so no other test's imports
count): the app, in this process, audits a project and captions a sample with the tiny
WD14 tagger; then prints which heavy modules this process holds, as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from app.dataset.inventory import dataset_dir
from app.main import create_app
from app.projects import Intent, create_project
from app.settings import Settings
from tests.captions.autocaption_setup import build_tagger, coloured_images, use_tagger

CAPTIONER_MODULES = ("onnxruntime", "transformers")


def main(root: Path) -> None:
    settings = Settings(grimoire_dir=root / "grimoire", data_dir=root / "data")
    base = root / "base.safetensors"
    base.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        workspace = app.state.workspace
        intent = Intent(
            name="Mira",
            training_type="character",
            trigger_word="zkmira",
            base_model=str(base),
            model_family="sd15",
            caption_format="booru",
            must_vary="",
            must_stay="",
        )
        project, _ = create_project(workspace, intent)
        coloured_images(dataset_dir(workspace.context(project)) / "10_mira", 4)
        use_tagger(workspace, build_tagger(root / "wd-tiny"))
        jobs = app.state.jobs
        client.post("/projects/mira/audit/run")
        audit = jobs.wait(jobs.latest("dataset.audit", project.id).id, 120)
        client.post("/projects/mira/captions/auto/sample", data={"kind": "wd14", "sample_size": 2})
        sample = jobs.wait(jobs.latest("captions.sample", project.id).id, 120)
    torch = sys.modules.get("torch")
    print(
        json.dumps(
            {
                "audit": audit.state,
                "sample": sample.state,
                "raw": len(sample.result.get("raw", [])),
                "captioner_modules": [m for m in CAPTIONER_MODULES if m in sys.modules],
                "cuda_initialised": bool(torch and torch.cuda.is_initialized()),
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
