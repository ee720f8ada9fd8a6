"""kohya sd-scripts files, parsed back with tomllib and checked against the options
sd-scripts' own parsers accept (recorded from commit 48d368fa)."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from app.training.backends import BackendUnsupported, generate
from tests.training.backends.conftest import PlanFactory
from tests.training.backends.keys import accepted, check_keys, type_ok
from tests.training.helpers import write_checkpoint

SCRIPTS = {
    "sd15": "train_network.py",
    "sdxl": "sdxl_train_network.py",
    "flux": "flux_train_network.py",
}


def options_for(script: str) -> dict[str, dict[str, object]]:
    scripts = accepted("kohya")["scripts"]
    allowed = dict(scripts["train_network.py"])
    if script != "train_network.py":
        allowed.update(scripts[script])
    return allowed


def check_dataset_schema(dataset: dict[str, object]) -> None:
    """What library/config_util.py's voluptuous schema does: no unknown keys, exact types."""
    schema = accepted("kohya")["dataset_config"]
    assert set(dataset) <= {"general", "datasets"}
    for key, value in dataset.get("general", {}).items():  # type: ignore[union-attr]
        assert key in schema["general"] and type_ok(value, schema["general"][key]), key
    for entry in dataset["datasets"]:  # type: ignore[union-attr]
        for key, value in entry.items():
            if key == "subsets":
                continue
            assert key in schema["general"] and type_ok(value, schema["general"][key]), key
        for subset in entry["subsets"]:
            for required in schema["required_in_subset"]:
                assert required in subset
            for key, value in subset.items():
                assert key in schema["subsets"] and type_ok(value, schema["subsets"][key]), key


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_files_parse_back_with_only_accepted_keys_and_types(
    make_run: PlanFactory, family: str
) -> None:
    run = make_run(family)
    bundle = generate("kohya", run)
    config = tomllib.loads(bundle.files["config.toml"])
    check_keys(config, options_for(SCRIPTS[family]), f"config.toml ({family})")
    assert config["optimizer_type"] in accepted("kohya")["optimizer_type"]
    assert config["lr_scheduler"] in accepted("kohya")["lr_scheduler"]
    check_dataset_schema(tomllib.loads(bundle.files["dataset.toml"]))
    # the launch command runs the family's script through accelerate with both files
    argv = shlex.split(bundle.command)
    assert argv[:2] == ["accelerate", "launch"] and SCRIPTS[family] in argv
    assert argv[argv.index("--config_file") + 1].endswith("config.toml")
    assert argv[argv.index("--dataset_config") + 1].endswith("dataset.toml")


def test_steps_are_explicit_and_epochs_never_override_them(make_run: PlanFactory) -> None:
    run = make_run("sdxl")
    config = tomllib.loads(generate("kohya", run).files["config.toml"])
    assert config["max_train_steps"] == run.plan.total_steps > 0
    assert "max_train_epochs" not in config  # it would replace max_train_steps (train_network.py)


def test_dataset_points_at_the_kohya_layout_with_repeats(make_run: PlanFactory) -> None:
    run = make_run("sd15")
    dataset = tomllib.loads(generate("kohya", run).files["dataset.toml"])
    subsets = dataset["datasets"][0]["subsets"]
    assert {(s["image_dir"], s["num_repeats"]) for s in subsets} == {
        (str(run.dataset_dir / "10_mira"), 10),
        (str(run.dataset_dir / "4_city"), 4),
    }
    assert dataset["general"]["caption_extension"] == ".txt"
    assert isinstance(dataset["general"]["caption_dropout_rate"], float)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("adamw", "AdamW"),
        ("adamw8bit", "AdamW8bit"),
        ("prodigy", "Prodigy"),
        ("lion", "Lion"),
        ("adafactor", "Adafactor"),
    ],
)
def test_optimizer_spellings(make_run: PlanFactory, ours: str, theirs: str) -> None:
    config = tomllib.loads(generate("kohya", make_run("sdxl", optimizer=ours)).files["config.toml"])
    assert config["optimizer_type"] == theirs
    if ours == "adafactor":
        assert "relative_step=False" in config["optimizer_args"]


def test_sample_prompts_file_and_text_encoder_options(make_run: PlanFactory) -> None:
    run = make_run("sd15")
    bundle = generate("kohya", run)
    config = tomllib.loads(bundle.files["config.toml"])
    assert (
        config["sample_prompts"].endswith("prompts.txt") and config["sample_every_n_steps"] == 100
    )
    lines = bundle.files["prompts.txt"].splitlines()
    assert lines[0].startswith("zktrig on a beach --w 512 --h 512 --d 42")
    assert config["text_encoder_lr"] > 0 and "network_train_unet_only" not in config
    sdxl = tomllib.loads(generate("kohya", make_run("sdxl")).files["config.toml"])
    assert sdxl["network_train_unet_only"] is True and sdxl["cache_text_encoder_outputs"] is True


def test_several_gpus_launch_several_processes(make_run: PlanFactory) -> None:
    argv = shlex.split(generate("kohya", make_run("sdxl", num_gpus=4)).command)
    assert "--multi_gpu" in argv and argv[argv.index("--num_processes") + 1] == "4"


def test_flux_needs_its_component_files(make_run: PlanFactory) -> None:
    run = make_run("flux")
    config = tomllib.loads(generate("kohya", run).files["config.toml"])
    assert config["clip_l"].endswith("clip_l.safetensors") and config["ae"].endswith(
        "ae.safetensors"
    )
    assert config["network_module"] == "networks.lora_flux" and "min_snr_gamma" not in config
    (run.base_model.parent / "ae.safetensors").unlink()
    with pytest.raises(BackendUnsupported, match="ae"):
        generate("kohya", run)


def test_flux_takes_the_parts_studio_md_names_before_the_files_beside_it(
    make_run: PlanFactory, tmp_path: Path
) -> None:
    # As `loragate models pull flux-dev` leaves them: each part in its own repository's
    # snapshot folder of the Hugging Face cache, none beside the checkpoint.
    run = make_run("flux")
    for name in ("clip_l.safetensors", "t5xxl_fp16.safetensors", "ae.safetensors"):
        (run.base_model.parent / name).unlink()
    cache = tmp_path / "hub"
    parts = {
        "clip_l": write_checkpoint(cache / "encoders" / "clip_l.safetensors", "unknown"),
        "t5xxl": write_checkpoint(cache / "encoders" / "t5xxl_fp16.safetensors", "unknown"),
        "ae": write_checkpoint(cache / "flux" / "ae.safetensors", "unknown"),
    }
    config = tomllib.loads(generate("kohya", replace(run, base_parts=parts)).files["config.toml"])
    assert {key: config[key] for key in parts} == {k: str(v) for k, v in parts.items()}
    with pytest.raises(BackendUnsupported, match="clip_l, t5xxl, ae"):
        generate("kohya", run)


def test_memory_settings_are_written_with_sd_scripts_own_options(make_run: PlanFactory) -> None:
    run = make_run("flux", quantize_base="fp8", full_bf16=True, blocks_to_swap=16)
    config = tomllib.loads(generate("kohya", run).files["config.toml"])
    check_keys(config, options_for("flux_train_network.py"), "config.toml (flux)")
    assert (config["fp8_base"], config["full_bf16"], config["blocks_to_swap"]) == (True, True, 16)
    plain = tomllib.loads(generate("kohya", make_run("sdxl")).files["config.toml"])
    assert not {"fp8_base", "full_bf16", "blocks_to_swap"} & set(plain)
    assert plain["sdpa"] is True  # the attention kernel the estimate assumes for sd-scripts
