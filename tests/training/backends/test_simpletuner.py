"""SimpleTuner config.json and multidatabackend.json, parsed back and checked against
SimpleTuner 4.8.0's argument registry (bc8e6ab7)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from app.training.backends import generate
from tests.training.backends.conftest import PlanFactory
from tests.training.backends.keys import accepted, check_keys


def as_argparse_would(config: dict[str, object]) -> dict[str, object]:
    """Strip the ``--`` SimpleTuner's mapping_to_cli_args adds or keeps."""
    assert all(key.startswith("--") for key in config)
    return {key[2:]: value for key, value in config.items()}


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_files_parse_back_with_only_accepted_keys_and_types(
    make_run: PlanFactory, family: str
) -> None:
    run = make_run(
        family, train_text_encoder=family == "sd15", min_snr_gamma=5.0 if family != "flux" else None
    )
    bundle = generate("simpletuner", run)
    config = as_argparse_would(json.loads(bundle.files["config.json"]))
    check_keys(config, accepted("simpletuner")["config"], f"config.json ({family})")
    assert config["optimizer"] in accepted("simpletuner")["optimizer"]
    assert config["model_family"] in accepted("simpletuner")["model_family"]
    backends = json.loads(bundle.files["multidatabackend.json"])
    for backend in backends:
        check_keys(
            backend,
            accepted("simpletuner")["multidatabackend"],
            f"multidatabackend.json ({family})",
        )
    assert (
        sum(1 for b in backends if b.get("dataset_type") == "text_embeds" and b.get("default")) == 1
    )


def test_steps_epochs_and_repeats(make_run: PlanFactory) -> None:
    run = make_run("sdxl")
    bundle = generate("simpletuner", run)
    config = json.loads(bundle.files["config.json"])
    assert config["--max_train_steps"] == run.plan.total_steps
    assert config["--num_train_epochs"] == 0  # SimpleTuner refuses max_train_steps otherwise
    repeats = {
        b["instance_data_dir"]: b["repeats"]
        for b in json.loads(bundle.files["multidatabackend.json"])
        if "instance_data_dir" in b
    }
    assert repeats == {str(run.dataset_dir / "10_mira"): 9, str(run.dataset_dir / "4_city"): 3}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("adamw", "torch-adamw"),
        ("adamw8bit", "bnb-adamw8bit"),
        ("prodigy", "prodigy"),
        ("lion", "optimi-lion"),
        ("adafactor", "torch-adafactor"),
    ],
)
def test_optimizer_names_are_simpletuners(make_run: PlanFactory, ours: str, theirs: str) -> None:
    config = json.loads(
        generate("simpletuner", make_run("sdxl", optimizer=ours)).files["config.json"]
    )
    assert config["--optimizer"] == theirs and theirs != "adamw8bit"


def test_whole_number_options_stay_whole_and_notes_say_why(make_run: PlanFactory) -> None:
    run = make_run("sd15", train_text_encoder=True, min_snr_gamma=5.5)
    bundle = generate("simpletuner", run)
    config = json.loads(bundle.files["config.json"])
    assert "--text_encoder_lr" not in config  # parsed as int by SimpleTuner 4.8
    assert config["--snr_gamma"] == 6 and isinstance(config["--snr_gamma"], int)
    assert any("text_encoder_lr" in note for note in bundle.notes)


def test_prompts_and_launch(make_run: PlanFactory) -> None:
    bundle = generate("simpletuner", make_run("sdxl", num_gpus=2))
    config = json.loads(bundle.files["config.json"])
    assert config["--validation_prompt"] == "zktrig on a beach"
    assert json.loads(bundle.files["prompt_library.json"]) == {"prompt_1": "zktrig in the rain"}
    argv = shlex.split(bundle.command)
    assert argv[0] == "CONFIG_BACKEND=json" and argv[1].startswith("CONFIG_PATH=")
    assert "simpletuner.train" in argv and argv[argv.index("--num_processes") + 1] == "2"
    # Its "Training has completed." is an INFO line, hidden at its default level (ERROR).
    assert "SIMPLETUNER_LOG_LEVEL=INFO" in argv[: argv.index("accelerate")]
    assert config["--logging_dir"] == str(Path(config["--output_dir"]) / "logs")


def test_the_note_names_the_images_simpletuner_would_leave_out(make_run: PlanFactory) -> None:
    """Per data backend (one per folder): 10_mira has 6 × 10 = 60 samples, 4_city 3 × 4 =
    12, short of batch 8 × accumulation 4 = 32."""
    bundle = generate(
        "simpletuner", make_run("sdxl", train_batch_size=8, gradient_accumulation_steps=4)
    )
    (note,) = [note for note in bundle.notes if "aspect buckets" in note]
    assert "(32): 3 images in 1 aspect bucket would not be trained on" in note
    assert not any(
        "aspect buckets" in note for note in generate("simpletuner", make_run("sdxl")).notes
    )


@pytest.mark.parametrize(("ours", "theirs"), [("fp8", "fp8-quanto"), ("nf4", "nf4-bnb")])
def test_memory_settings_use_simpletuner_options(
    make_run: PlanFactory, ours: str, theirs: str
) -> None:
    run = make_run("flux", quantize_base=ours, cpu_offload=True, min_snr_gamma=None)
    config = as_argparse_would(json.loads(generate("simpletuner", run).files["config.json"]))
    check_keys(config, accepted("simpletuner")["config"], "config.json (flux)")
    assert config["base_model_precision"] == theirs and config["enable_group_offload"] is True
    plain = json.loads(generate("simpletuner", make_run("sdxl")).files["config.json"])
    assert "--base_model_precision" not in plain and "--enable_group_offload" not in plain
