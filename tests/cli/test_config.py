"""`loragate config` and `loragate vram` as real subprocesses: files written, exit codes,
JSON."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from app.models import Project
from app.settings import Settings
from tests.cli.conftest import CliRunner, json_of
from tests.training.helpers import project_on_a_4090


@pytest.fixture
def project(settings: Settings, tmp_path: Path) -> Project:
    return project_on_a_4090(settings, tmp_path)


def test_config_writes_the_backend_files_and_passes(
    cli: CliRunner, project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = cli("config", project.slug, "--backend", "kohya", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {"config.toml", "dataset.toml", "launch.sh"}
    steps = tomllib.loads((out / "config.toml").read_text())["max_train_steps"]
    assert f"= {steps} steps" in result.stdout
    # The project trains natively: a look at kohya's files does not replace its verdict.
    assert "Gate 2 passes for kohya sd-scripts." in result.stdout
    assert "not recorded: the project trains with loragate (native)" in result.stdout


def test_config_json_reports_gate2_files_and_estimates(
    cli: CliRunner, project: Project, tmp_path: Path
) -> None:
    result = cli(
        "config",
        project.slug,
        "--backend",
        "ai-toolkit",
        "--out",
        str(tmp_path / "o"),
        "--preset",
        "quick",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json_of(result)
    assert isinstance(data, dict)
    assert (
        data["gate"] == "config" and data["verdict"] == "pass" and data["backend"] == "ai-toolkit"
    )
    assert any(path.endswith("job.yaml") for path in data["files"])
    assert data["vram"]["total_gb"] > 0 and data["time"]["currency"] == "USD"
    assert data["stats"]["steps"] > 0


def test_config_exits_1_when_gate2_blocks(
    cli: CliRunner, project: Project, settings: Settings, tmp_path: Path
) -> None:
    config_path = settings.training_dir / project.slug / "training.json"
    cli("config", project.slug, "--out", str(tmp_path / "first"))
    data = json.loads(config_path.read_text())
    data["train_batch_size"] = 32
    config_path.write_text(json.dumps(data))
    result = cli("config", project.slug, "--out", str(tmp_path / "o"), "--json")
    assert result.returncode == 1
    payload = json_of(result)
    assert isinstance(payload, dict) and payload["verdict"] == "block"
    assert "config.vram_overflow" in {f["code"] for f in payload["findings"]}
    plain = cli("config", project.slug, "--out", str(tmp_path / "o2"))
    assert (
        plain.returncode == 1
        and "Gate 2 blocks training" in plain.stdout
        and "why:" in plain.stdout
    )


def test_config_usage_errors_exit_2(cli: CliRunner, project: Project, tmp_path: Path) -> None:
    assert cli("config", "nobody", "--out", str(tmp_path)).returncode == 2
    assert (
        cli("config", project.slug, "--backend", "onetrainer", "--out", str(tmp_path)).returncode
        == 2
    )
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = cli("config", project.slug, "--out", str(a_file))
    assert result.returncode == 2 and "not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_vram_json_and_exit_codes(cli: CliRunner) -> None:
    args = [
        "vram",
        "--family",
        "sdxl",
        "--resolution",
        "1024",
        "--batch",
        "1",
        "--rank",
        "16",
        "--optimizer",
        "adamw8bit",
    ]
    result = cli(*args, "--gradient-checkpointing", "--cache-latents", "--json")
    assert result.returncode == 0
    data = json_of(result)
    assert isinstance(data, dict) and set(data) >= {"total_gb", "breakdown"}
    assert data["total_gb"] == pytest.approx(sum(data["breakdown"].values()), abs=0.05)
    heavy = cli(*args, "--batch", "8", "--gpu-vram", "24")
    assert heavy.returncode == 1 and "does NOT fit in 24 GB" in heavy.stdout
    assert cli(*args, "--batch", "0").returncode == 2
    assert cli("vram", "--family", "sd9").returncode == 2


def test_vram_takes_the_attention_kernel_and_the_memory_settings(cli: CliRunner) -> None:
    args = ["vram", "--family", "flux", "--resolution", "1024", "--batch", "1", "--rank", "16"]
    args += ["--optimizer", "adamw8bit", "--gradient-checkpointing", "--cache-latents"]
    args += ["--cache-text-encoder-outputs", "--json"]
    full = json_of(cli(*args))["total_gb"]  # type: ignore[index]
    fp8 = json_of(cli(*args, "--quantize", "fp8"))["total_gb"]  # type: ignore[index]
    swapped = cli(*args, "--quantize", "fp8", "--blocks-to-swap", "16", "--gpu-vram", "12")
    assert fp8 < full - 10 and swapped.returncode == 0
    sd15 = ["vram", "--family", "sd15", "--resolution", "512", "--batch", "2", "--rank", "8"]
    sd15 += ["--optimizer", "adamw8bit", "--precision", "fp16", "--cache-latents", "--json"]
    sdpa = json_of(cli(*sd15))["total_gb"]  # type: ignore[index]
    eager = json_of(cli(*sd15, "--attention", "eager"))["total_gb"]  # type: ignore[index]
    assert eager > sdpa + 4
    assert cli(*sd15, "--attention", "flash").returncode == 2


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--resolution", "100000", "--resolution must be between 64 and 4096 pixels."),
        ("--batch", "1000", "--batch must be between 1 and 256 images."),
        ("--rank", "5000", "--rank must be between 1 and 1024."),
        ("--gpu-vram", "inf", "--gpu-vram must be a number of GB above 0"),
        ("--gpu-vram", "nan", "--gpu-vram must be a number of GB above 0"),
        ("--gpu-vram", "-24", "--gpu-vram must be a number of GB above 0"),
        ("--blocks-to-swap", "99", "--blocks-to-swap must be between 0 and 35 blocks."),
    ],
)
def test_vram_refuses_absurd_settings(cli: CliRunner, flag: str, value: str, says: str) -> None:
    args = ["--family", "sdxl", "--resolution", "1024", "--batch", "1", "--rank", "16"]
    args += ["--optimizer", "adamw"]
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    result = cli("vram", *args)
    assert result.returncode == 2 and says in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_config_json_says_when_the_verdict_is_recorded(
    cli: CliRunner, project: Project, tmp_path: Path
) -> None:
    own = json_of(cli("config", project.slug, "--out", str(tmp_path / "a"), "--json"))
    other = cli("config", project.slug, "--backend", "kohya", "--out", str(tmp_path / "b"))
    assert isinstance(own, dict) and own["recorded"] is True and own["backend"] == "native"
    assert other.returncode == 0 and "not recorded" in other.stdout


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("beneath-a-file", "a part of that path is a file, not a folder"),
        ("/sys/loragate-test-out", "cannot create the folder /sys/loragate-test-out"),
    ],
)
def test_config_out_that_cannot_be_written_is_a_usage_error(
    cli: CliRunner, project: Project, tmp_path: Path, out: str, says: str
) -> None:
    if out == "beneath-a-file":
        (tmp_path / "a-file").write_text("x")
        out = str(tmp_path / "a-file" / "configs")
    result = cli("config", project.slug, "--out", out)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "choose another --out" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("broken", ['"unet_lr": null', '"unet_lr": Infinity', '"epochs": 1e30'])
def test_an_unreadable_config_says_how_to_start_over_and_preset_does(
    cli: CliRunner, project: Project, settings: Settings, tmp_path: Path, broken: str
) -> None:
    """The state the review found (``null`` saved for an infinite rate): the CLI says why
    and how to get out, and ``--preset`` gets out, keeping the broken file."""
    project_dir = settings.training_dir / project.slug
    config_path = project_dir / "training.json"
    config_path.write_text("{" + broken + "}")
    failed = cli("config", project.slug, "--out", str(tmp_path / "o"))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "training.json has values loragate cannot use" in failed.stderr
    assert f"loragate config {project.slug} --preset standard --out DIR" in failed.stderr

    fixed = cli("config", project.slug, "--preset", "standard", "--out", str(tmp_path / "o"))
    assert fixed.returncode == 0, fixed.stderr
    data = json.loads(config_path.read_text())
    assert data["preset"] == "standard" and data["unet_lr"] > 0
    [kept] = project_dir.glob("training-unreadable-*.json")
    assert kept.read_text() == "{" + broken + "}"
    journal = (project_dir / "journal.md").read_text()
    assert f"training.json could not be read; it was kept as {kept.name}" in journal


def saved(settings: Settings, project: Project) -> dict[str, object]:
    path = settings.training_dir / project.slug / "training.json"
    return json.loads(path.read_text()) if path.exists() else {}  # type: ignore[no-any-return]


def test_set_changes_settings_journals_them_and_checks_gate2(
    cli: CliRunner, project: Project, settings: Settings
) -> None:
    result = cli(
        "config", project.slug,
        "--set", "resolution=768", "--set", "optimizer=prodigy", "--set", "unet_lr=1",
        "--set", "bucket-no-upscale=false", "--set", "min_snr_gamma=",
        "--set", "sample_prompts=zktrig, a fox", "--set", "sample_prompts=zktrig at night",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json_of(result)
    assert isinstance(report, dict) and report["recorded"] is True
    assert report["changed"]["resolution"] == {"old": 1024, "new": 768}
    values = saved(settings, project)
    assert values["optimizer"] == "prodigy" and values["unet_lr"] == 1.0
    assert values["bucket_no_upscale"] is False and values["min_snr_gamma"] is None
    assert values["sample_prompts"] == ["zktrig, a fox", "zktrig at night"]
    assert values["preset"] == "custom"
    # Written where the Config page writes them, since no --out was given.
    job = settings.training_dir / project.slug / "configs" / "native" / "job.json"
    assert json.loads(job.read_text())["config"]["resolution"] == 768
    journal = (settings.training_dir / project.slug / "journal.md").read_text()
    assert "Training config changed: " in journal and "resolution 1024 → 768" in journal

    plain = cli("config", project.slug, "--set", "resolution=768")
    assert "The config already had these values; nothing changed." in plain.stdout


def test_set_names_every_bad_key_and_value_and_saves_nothing(
    cli: CliRunner, project: Project, settings: Settings
) -> None:
    result = cli(
        "config", project.slug, "--preset", "quick",
        "--set", "resolution=huge", "--set", "optimizer=sgd", "--set", "resolutin=512",
        "--set", "cache_latents=maybe", "--set", "epochs=0", "--set", "device=tpu",
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for line in (
        "nothing was saved; --set has values loragate cannot use:",
        "  resolution: “huge” is not a whole number.",
        "  optimizer: Choose one of adamw, adamw8bit, prodigy, lion, adafactor.",
        "  resolutin: There is no setting “resolutin”. Did you mean “resolution”?",
        "  cache_latents: “maybe” is neither on nor off: use true or false.",
        "  epochs: Must be at least 1.",
        "  device: Choose one of cuda, cpu.",
    ):
        assert line in result.stderr
    assert saved(settings, project) == {}  # not even the preset was applied
    assert cli("config", project.slug, "--set", "resolution").returncode == 2


def test_every_setting_of_the_config_page_can_be_set(
    cli: CliRunner, project: Project, settings: Settings
) -> None:
    """Each field the page shows, given as text its current value: the CLI reads them
    all back to the same config (so every one can be set from a shell)."""
    from app.training.config_input import SETTABLE_FIELDS

    cli("config", project.slug)  # saves the preset
    values = saved(settings, project)
    args: list[str] = []
    for key in SETTABLE_FIELDS:
        value = values[key]
        if isinstance(value, list):
            args += [arg for line in value for arg in ("--set", f"{key}={line}")]
        else:
            text = "" if value is None else str(value).lower() if isinstance(value, bool) else value
            args += ["--set", f"{key}={text}"]
    result = cli("config", project.slug, *args)
    assert result.returncode != 2, result.stderr
    assert "The config already had these values; nothing changed." in result.stdout
    assert saved(settings, project) == values


def test_a_blocked_config_writes_nothing_not_even_the_folder(
    cli: CliRunner, project: Project, settings: Settings, tmp_path: Path
) -> None:
    config_path = settings.training_dir / project.slug / "training.json"
    cli("config", project.slug, "--out", str(tmp_path / "first"))
    data = json.loads(config_path.read_text())
    data["train_batch_size"] = 32  # far beyond the 4090's memory: Gate 2 blocks
    config_path.write_text(json.dumps(data))
    out = tmp_path / "blocked"
    plain = cli("config", project.slug, "--out", str(out))
    assert plain.returncode == 1 and "Gate 2 blocks training" in plain.stdout
    assert f"Nothing was written to {out}" in plain.stdout
    machine = json_of(cli("config", project.slug, "--out", str(out), "--json"))
    assert isinstance(machine, dict) and machine["files"] == [] and machine["command"] is None
    assert not out.exists()


def test_out_creates_only_its_last_folder(cli: CliRunner, project: Project, tmp_path: Path) -> None:
    deep = tmp_path / "missing" / "deep" / "out"
    refused = cli("config", project.slug, "--out", str(deep))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"{tmp_path / 'missing' / 'deep'} does not exist" in refused.stderr
    assert not (tmp_path / "missing").exists()
    made = cli("config", project.slug, "--out", str(tmp_path / "out"))
    assert made.returncode == 0, made.stderr
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written and all(f"  {name}\n" in made.stdout for name in written)
