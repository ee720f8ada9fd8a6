"""The Config page and Gate 2 page over HTTP.

HTMX contract (app/web/config.py):
- POST /projects/{slug}/config/preview with HX-Request: the form's values → the live
  panel partial (steps, VRAM, time, findings, files); nothing is saved.
- POST /projects/{slug}/config → 303 back to the page; bad values → 422 with the page,
  a message at the field, the typed values kept, nothing saved.
- POST …/preset, …/confirm, /projects/{slug}/gates/config → 303.
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.models import Project
from app.settings import Settings
from app.training.calibration import record_measurement
from app.training.config import load_config
from app.training.project_config import current_config
from app.training.vram import VramInputs, estimate_vram
from app.workspace import Workspace
from tests.training.helpers import project_on_a_4090


@pytest.fixture
def project(settings: Settings, tmp_path: Path) -> Project:
    return project_on_a_4090(settings, tmp_path)


def form_of(config_values: dict[str, object], **changes: object) -> dict[str, str]:
    data: dict[str, str] = {"_checkboxes": "1"}
    for key, value in {**config_values, **changes}.items():
        if isinstance(value, bool):
            if value:
                data[key] = "true"
        elif isinstance(value, list):
            data[key] = "\n".join(value)
        elif value is None:
            data[key] = ""
        else:
            data[key] = str(value)
    return data


def saved_values(settings: Settings, project: Project) -> dict[str, object]:
    config = load_config(settings.training_dir / project.slug)
    assert config is not None
    return config.model_dump()


def test_page_shows_presets_fields_with_help_and_the_live_panel(
    client: TestClient, project: Project
) -> None:
    page = client.get(f"/projects/{project.slug}/config")
    assert page.status_code == 200
    html = page.text
    for preset in ("Quick", "Standard", "Thorough"):
        assert f"Use {preset}" in html
    assert 'name="network_rank"' in html and "Usual range:" in html
    assert "how much detail the LoRA can hold" in html  # from app/docs/parameters-guide.md
    assert 'id="live-panel"' in html and 'id="total-steps"' in html and 'id="vram-total"' in html
    assert "/static/config.js" in html and "<script>" not in html  # no inline script (CSP)


def test_preview_follows_the_form_without_saving(
    client: TestClient, project: Project, settings: Settings
) -> None:
    client.get(f"/projects/{project.slug}/config")
    defaults = client.post(
        f"/projects/{project.slug}/config/preview",
        data={"_checkboxes": "1"},
        headers={"HX-Request": "true"},
    )
    assert defaults.status_code == 200 and "<html" not in defaults.text
    big = client.post(
        f"/projects/{project.slug}/config/preview",
        data={"_checkboxes": "1", "train_batch_size": "32", "gradient_checkpointing": "true"},
        headers={"HX-Request": "true"},
    )
    assert 'data-code="config.vram_overflow"' in big.text and "of 24 GB" in big.text
    assert load_config(settings.training_dir / project.slug) is None  # preview saves nothing
    bad = client.post(
        f"/projects/{project.slug}/config/preview",
        data={"network_rank": "lots"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 200 and "is not a whole number" in bad.text


def test_preview_of_each_backend_shows_its_files(client: TestClient, project: Project) -> None:
    for backend, name in (
        ("kohya", "dataset.toml"),
        ("simpletuner", "multidatabackend.json"),
        ("ai-toolkit", "job.yaml"),
        ("native", "job.json"),
    ):
        panel = client.post(
            f"/projects/{project.slug}/config/preview",
            data={"preview_backend": backend},
            headers={"HX-Request": "true"},
        )
        assert f'data-file="{name}"' in panel.text, backend


def test_saving_journals_each_change_and_writes_the_trainers_files(
    client: TestClient, project: Project, settings: Settings
) -> None:
    client.post(
        f"/projects/{project.slug}/config", data={"_checkboxes": "1"}
    )  # first save: the preset
    values = saved_values(settings, project)
    response = client.post(
        f"/projects/{project.slug}/config",
        data=form_of(values, network_rank="32", sample_prompts="zktrig, a fox\nzktrig at night"),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert saved_values(settings, project)["network_rank"] == 32
    assert saved_values(settings, project)["sample_prompts"] == ["zktrig, a fox", "zktrig at night"]
    journal = (settings.training_dir / project.slug / "journal.md").read_text()
    assert "network_rank 16 → 32" in journal
    assert (settings.training_dir / project.slug / "configs" / "native" / "job.json").is_file()
    overview = client.get(f"/projects/{project.slug}").text
    assert "network_rank 16 → 32" in overview


def test_bad_values_keep_what_was_typed_and_save_nothing(
    client: TestClient, project: Project, settings: Settings
) -> None:
    response = client.post(
        f"/projects/{project.slug}/config",
        data={
            "_checkboxes": "1",
            "network_rank": "0",
            "unet_lr": "fast",
            "output_name": "kept-name",
        },
    )
    assert response.status_code == 422
    assert "Nothing was saved" in response.text and 'id="error-unet_lr"' in response.text
    assert 'value="kept-name"' in response.text
    assert load_config(settings.training_dir / project.slug) is None


def test_picking_a_preset(client: TestClient, project: Project, settings: Settings) -> None:
    response = client.post(f"/projects/{project.slug}/config/preset", data={"preset": "thorough"})
    assert response.status_code == 200
    assert 'class="preset-card current" data-preset="thorough"' in response.text
    assert saved_values(settings, project)["preset"] == "thorough"
    assert (
        "Thorough preset applied"
        in (settings.training_dir / project.slug / "journal.md").read_text()
    )
    bad = client.post(
        f"/projects/{project.slug}/config/preset",
        data={"preset": "turbo"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400 and "Quick, Standard or Thorough" in bad.text


def test_confirming_the_estimate(client: TestClient, project: Project, settings: Settings) -> None:
    client.post(f"/projects/{project.slug}/config", data={"_checkboxes": "1"})
    page = client.get(f"/projects/{project.slug}/config").text
    digest = page.split('name="config_digest" value="')[1].split('"')[0]
    stale = client.post(
        f"/projects/{project.slug}/config/confirm",
        data={"config_digest": "old"},
        headers={"HX-Request": "true"},
    )
    assert stale.status_code == 409 and "changed since" in stale.text
    confirmed = client.post(
        f"/projects/{project.slug}/config/confirm", data={"config_digest": digest}
    )
    assert confirmed.status_code == 200 and 'id="estimate-confirmed"' in confirmed.text
    assert (
        "You confirmed the estimate:"
        in (settings.training_dir / project.slug / "journal.md").read_text()
    )


def test_downloads(client: TestClient, project: Project) -> None:
    toml_file = client.get(f"/projects/{project.slug}/config/files/kohya/config.toml")
    assert toml_file.status_code == 200 and "attachment" in toml_file.headers["content-disposition"]
    assert tomllib.loads(toml_file.text)["max_train_steps"] > 0
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/projects/{project.slug}/config/files/simpletuner.zip").content)
    )
    assert {"config.json", "multidatabackend.json", "launch.sh"} <= set(archive.namelist())
    assert (
        client.get(f"/projects/{project.slug}/config/files/kohya/../../etc/passwd").status_code
        == 404
    )
    assert client.get(f"/projects/{project.slug}/config/files/nope/config.toml").status_code == 404
    assert client.get(f"/projects/{project.slug}/config/files/kohya/secret.txt").status_code == 404


def test_gate_page_runs_and_records_gate2(
    client: TestClient, project: Project, settings: Settings
) -> None:
    assert ">not run yet<" in client.get(f"/projects/{project.slug}/gates/config").text
    result = client.post(f"/projects/{project.slug}/gates/config")
    assert result.status_code == 200 and 'data-status="pass"' in result.text
    overview = client.get(f"/projects/{project.slug}").text
    assert (
        f"/projects/{project.slug}/config" in overview
        and f"/projects/{project.slug}/gates/config" in overview
    )
    assert "Gate 2 · Config passes" in overview
    client.post(
        f"/projects/{project.slug}/config",
        data=form_of(saved_values_or_default(settings, project), network_rank="64"),
    )
    assert 'data-status="stale"' in client.get(f"/projects/{project.slug}/gates/config").text


def saved_values_or_default(settings: Settings, project: Project) -> dict[str, object]:
    config = load_config(settings.training_dir / project.slug)
    return config.model_dump() if config else {}


def test_unknown_project_and_broken_config(
    client: TestClient, project: Project, settings: Settings
) -> None:
    assert client.get("/projects/nobody/config").status_code == 404
    (settings.training_dir / project.slug / "training.json").write_text("{broken")
    response = client.get(f"/projects/{project.slug}/config")
    assert response.status_code == 200 and "not valid JSON" in response.text
    assert "Start over with Standard" in response.text


def test_non_finite_and_absurd_numbers_are_refused_at_the_field(
    client: TestClient, project: Project, settings: Settings
) -> None:
    """The review's path to a broken file: "inf" was accepted and saved as null."""
    for field, value, says in (
        ("unet_lr", "inf", "not “inf”, “nan”"),
        ("text_encoder_lr", "nan", "not “inf”, “nan”"),
        ("network_alpha", "1e400", "too large to store"),
        ("epochs", "99999999999999999999", "Must be at most 10000."),
        ("train_batch_size", "100000", "Must be at most 256."),
        ("resolution", "100000", "Must be at most 4096."),
        ("output_name", "../../../escaped", "cannot be a file name"),
        ("output_name", "/etc/cron.d/x", "cannot be a file name"),
        ("output_name", ".hidden", "cannot be a file name"),
    ):
        response = client.post(
            f"/projects/{project.slug}/config", data={"_checkboxes": "1", field: value}
        )
        assert response.status_code == 422, (field, value)
        error = response.text.split(f'id="error-{field}">')[1].split("</p>")[0]
        assert says in error.replace("&#34;", '"'), (field, error)
        assert load_config(settings.training_dir / project.slug) is None  # nothing saved
    preview = client.post(
        f"/projects/{project.slug}/config/preview",
        data={"_checkboxes": "1", "unet_lr": "inf"},
        headers={"HX-Request": "true"},
    )
    assert preview.status_code == 200 and 'id="form-problems"' in preview.text


@pytest.mark.parametrize("broken", ['{"unet_lr": null}', '{"unet_lr": Infinity}', "{oops"])
def test_a_broken_config_file_has_a_way_out_on_every_path(
    client: TestClient, project: Project, settings: Settings, broken: str
) -> None:
    project_dir = settings.training_dir / project.slug
    (project_dir / "training.json").write_text(broken)
    base = f"/projects/{project.slug}/config"

    page = client.get(base)
    assert page.status_code == 200 and 'id="config-unreadable"' in page.text
    assert page.text.count('/config/preset" class="preset-card"') == 3
    preview = client.post(
        f"{base}/preview", data={"_checkboxes": "1"}, headers={"HX-Request": "true"}
    )
    assert preview.status_code == 200 and "training.json" in preview.text
    for path, data in ((base, {"_checkboxes": "1"}), (f"{base}/confirm", {"config_digest": "x"})):
        stale_tab = client.post(path, data=data)
        assert stale_tab.status_code == 409 and 'id="config-unreadable"' in stale_tab.text
    download = client.get(f"{base}/files/kohya/config.toml")
    assert download.status_code == 409 and "start over from a preset" in download.text
    gate = client.post(f"/projects/{project.slug}/gates/config")
    assert gate.status_code == 200 and 'data-code="config.unreadable"' in gate.text
    assert "Start over from a preset" in gate.text

    started_over = client.post(f"{base}/preset", data={"preset": "standard"})
    assert started_over.status_code == 200 and 'id="config-form"' in started_over.text
    assert saved_values(settings, project)["preset"] == "standard"
    [kept] = project_dir.glob("training-unreadable-*.json")
    assert kept.read_text() == broken


def test_the_page_says_when_dry_runs_on_this_gpu_calibrated_the_estimate(
    client: TestClient, project: Project, settings: Settings
) -> None:
    before = client.get(f"/projects/{project.slug}/config").text
    assert 'id="vram-calibrated"' not in before
    workspace = Workspace(settings)
    try:
        ctx = workspace.context(project)
        inputs = VramInputs.from_config(current_config(ctx), project.model_family, project.backend)
        estimate = estimate_vram(inputs).total_gb
        for _ in range(3):  # three dry runs that each measured 20% more
            record_measurement(
                workspace.db,
                gpu_name="NVIDIA GeForce RTX 4090",
                backend=project.backend,
                project=project.slug,
                inputs=inputs,
                estimated_vram_gb=estimate,
                measured_vram_gb=estimate * 1.2,
            )
    finally:
        workspace.close()
    html = client.get(f"/projects/{project.slug}/config").text
    assert "Calibrated on your GPU from 3 dry runs" in html
    shown = float(html.split('id="vram-total">')[1].split(" GB")[0])
    assert estimate * 1.1 < shown < estimate * 1.2 + 0.05
