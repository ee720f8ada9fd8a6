"""ai-toolkit YAML jobs, parsed back with PyYAML and every key checked against the
config class that reads it (ai-toolkit 27a03a91): a misplaced key would be silently
ignored there."""

from __future__ import annotations

import pytest
import yaml

from app.training.backends import generate
from tests.training.backends.conftest import PlanFactory
from tests.training.backends.keys import accepted, check_keys

SECTIONS = ("network", "save", "train", "model", "sample", "logging")


def process_of(text: str) -> dict[str, object]:
    job = yaml.safe_load(text)
    keys = accepted("ai_toolkit")
    check_keys(job, keys["job"], "job")
    check_keys(job["config"], keys["config"], "config")
    (process,) = job["config"]["process"]
    return process  # type: ignore[no-any-return]


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_job_parses_back_with_keys_where_ai_toolkit_reads_them(
    make_run: PlanFactory, family: str
) -> None:
    keys = accepted("ai_toolkit")
    process = process_of(generate("ai-toolkit", make_run(family)).files["job.yaml"])
    check_keys(process, keys["process"], "process")
    for section in SECTIONS:
        if section in process:
            check_keys(process[section], keys[section], section)  # type: ignore[arg-type]
    for dataset in process["datasets"]:  # type: ignore[union-attr]
        check_keys(dataset, keys["datasets"], "datasets[]")
    train = process["train"]
    assert train["optimizer"] in keys["optimizer"] and train["lr_scheduler"] in keys["lr_scheduler"]  # type: ignore[index]
    assert process["model"]["arch"] in keys["arch"]  # type: ignore[index]


def test_steps_model_flags_and_layout(make_run: PlanFactory) -> None:
    run = make_run("sdxl")
    process = process_of(generate("ai-toolkit", run).files["job.yaml"])
    assert process["train"]["steps"] == run.plan.total_steps  # type: ignore[index]
    assert process["model"]["is_xl"] is True and process["model"]["arch"] == "sdxl"  # type: ignore[index]
    folders = {(d["folder_path"], d["num_repeats"]) for d in process["datasets"]}  # type: ignore[union-attr]
    assert folders == {(str(run.dataset_dir / "10_mira"), 10), (str(run.dataset_dir / "4_city"), 4)}


def test_schedules_are_translated(make_run: PlanFactory) -> None:
    linear = process_of(
        generate("ai-toolkit", make_run("sdxl", lr_scheduler="linear")).files["job.yaml"]
    )
    assert linear["train"]["lr_scheduler_params"] == {"start_factor": 1.0, "end_factor": 0.0}  # type: ignore[index]
    bundle = generate("ai-toolkit", make_run("sdxl", lr_scheduler="polynomial"))
    assert process_of(bundle.files["job.yaml"])["train"]["lr_scheduler"] == "linear"  # type: ignore[index]
    assert any("polynomial" in note for note in bundle.notes)
    warm = process_of(
        generate(
            "ai-toolkit", make_run("sdxl", lr_scheduler="constant_with_warmup", lr_warmup_steps=50)
        ).files["job.yaml"]
    )
    assert warm["train"]["lr_scheduler_params"] == {"num_warmup_steps": 50}  # type: ignore[index]


def test_flux_samples_use_the_flow_matching_sampler(make_run: PlanFactory) -> None:
    process = process_of(generate("ai-toolkit", make_run("flux")).files["job.yaml"])
    assert process["train"]["noise_scheduler"] == "flowmatch" == process["sample"]["sampler"]  # type: ignore[index]
    assert process["sample"]["prompts"] == ["zktrig on a beach", "zktrig in the rain"]  # type: ignore[index]


def test_the_device_is_set_where_ai_toolkit_takes_it(make_run: PlanFactory) -> None:
    """sd_trainer (27a03a91) reads no `device` key: it trains on accelerate's device. Only
    the job level has one (ExtensionJob), so it is written there, and a CPU run is
    launched with accelerate's own CPU switch."""
    cpu = generate("ai-toolkit", make_run("sd15", device="cpu"))
    job = yaml.safe_load(cpu.files["job.yaml"])
    assert job["config"]["device"] == "cpu"
    assert "device" not in process_of(cpu.files["job.yaml"])
    assert cpu.command.startswith("ACCELERATE_USE_CPU=1 python run.py ")
    assert "ACCELERATE_USE_CPU=1 python run.py" in cpu.files["launch.sh"]
    assert any("accelerate" in note for note in cpu.notes)
    gpu = generate("ai-toolkit", make_run("sd15", device="cuda"))
    assert yaml.safe_load(gpu.files["job.yaml"])["config"]["device"] == "cuda"
    assert "ACCELERATE_USE_CPU" not in gpu.command + gpu.files["launch.sh"]


def test_memory_settings_go_under_model_where_ai_toolkit_reads_them(
    make_run: PlanFactory,
) -> None:
    run = make_run("flux", quantize_base="fp8", cpu_offload=True)
    process = process_of(generate("ai-toolkit", run).files["job.yaml"])
    check_keys(process["model"], accepted("ai_toolkit")["model"], "model")  # type: ignore[arg-type]
    assert process["model"]["quantize"] is True  # type: ignore[index]
    assert process["model"]["layer_offloading"] is True  # type: ignore[index]
    plain = process_of(generate("ai-toolkit", make_run("sdxl")).files["job.yaml"])
    assert "quantize" not in plain["model"]  # type: ignore[operator]
