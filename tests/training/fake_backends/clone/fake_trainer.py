"""The engine of loragate's stand-ins for external trainers (tests only). Each fake clone
holds a copy of this file beside the backend's entry file (``train_network.py``,
``run.py``, ``simpletuner-train``), which calls one of ``kohya``, ``simpletuner``,
``ai_toolkit``.

A fake reads the config file it is given as the real trainer does (enough to find the
base model, output folder, step count and save/sample intervals), prints that trainer's
real progress bar (tqdm on stderr, same desc and postfix keys) and log lines (copied
from its source: kohya-ss/sd-scripts train_network.py at 48d368fa, SimpleTuner
helpers/training/trainer.py at bc8e6ab7, ai-toolkit BaseSDTrainProcess.py at 27a03a91),
writes a small safetensors file where the trainer writes its LoRA, and follows
``scenario.json`` beside it: {"scenario": NAME, "step": K, "seconds_per_step": S} with
NAME one of ok, oom_at_step, nan_at_step, missing_file, bad_argument,
crash_mid_checkpoint, hang, exit1_after_complete, and three that exit 0 and say they
finished but leave out what the dry run must prove: no_save (no checkpoint during
training), no_sample (no sample image), broken_save (a checkpoint cut in half).

One difference, on purpose: real bars redraw at most every 0.1 s; these redraw at every
step, so that a test can count steps. The format of a redraw is the same.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import math
import os
import struct
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tqdm import tqdm

HERE = Path(__file__).resolve().parent
SCENARIOS = (
    "ok",
    "oom_at_step",
    "nan_at_step",
    "missing_file",
    "bad_argument",
    "crash_mid_checkpoint",
    "hang",
    "exit1_after_complete",
    "no_save",
    "no_sample",
    "broken_save",
)
TIME = "2026-01-01 10:00:00"


class OutOfMemoryError(RuntimeError):
    """Printed as torch prints its own: ``torch.OutOfMemoryError: CUDA out of memory...``."""


OutOfMemoryError.__module__ = "torch"
OOM_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB "
    "of which 1.12 GiB is free. Of the allocated memory 20.80 GiB is allocated by PyTorch."
)


@dataclass
class Scenario:
    name: str
    step: int
    seconds_per_step: float

    @classmethod
    def read(cls) -> Scenario:
        path = HERE / "scenario.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        name = data.get("scenario", "ok")
        if name not in SCENARIOS:
            raise SystemExit(f"fake trainer: unknown scenario {name!r}")
        return cls(name, int(data.get("step", 0)), float(data.get("seconds_per_step", 0.002)))

    def at(self, name: str, step: int) -> bool:
        return self.name == name and step == self.step


@dataclass
class Plan:
    base_model: str
    steps: int
    save_every: int | None
    sample_every: int | None


def loss_at(step: int) -> float:
    """The loss a fake reports at ``step``: falling, and known to the tests."""
    return 0.1 + 0.2 / step


def write_lora(path: Path, fault: str = "") -> None:
    """A small real safetensors file with one kohya-style LoRA pair; with ``fault``
    "crash", half of it and then the error a full disk raises; with "cut", half of it
    and nothing said."""
    tensors = {
        "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": [0.5],
        "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": [0.25],
    }
    header: dict[str, object] = {"__metadata__": {"ss_network_module": "networks.lora"}}
    offset = 0
    for name in tensors:
        header[name] = {"dtype": "F32", "shape": [1, 1], "data_offsets": [offset, offset + 4]}
        offset += 4
    head = json.dumps(header).encode()
    data = struct.pack("<Q", len(head)) + head
    data += b"".join(struct.pack("<f", v) for values in tensors.values() for v in values)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fault:
        path.write_bytes(data[: len(data) // 2])
        if fault == "crash":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return
    path.write_bytes(data)


def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A 1×1 PNG: signature, IHDR, IDAT, IEND.
    path.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
        )
    )


def say(text: str = "", stream=None) -> None:  # type: ignore[no-untyped-def]
    print(text, file=stream or sys.stdout, flush=True)


def hang() -> None:
    while True:
        time.sleep(3600)


def train(
    plan: Plan,
    scenario: Scenario,
    bar: tqdm,  # type: ignore[type-arg]
    show: Callable[[int, float], None],
    save: Callable[[int, str], None],
    sample: Callable[[int], None],
    oom: Callable[[int], None],
) -> None:
    """The step loop every fake shares: what differs is how each shows a step, saves,
    samples and fails."""
    fault = {"crash_mid_checkpoint": "crash", "broken_save": "cut"}.get(scenario.name, "")
    for step in range(1, plan.steps + 1):
        time.sleep(scenario.seconds_per_step)
        if scenario.at("hang", step):
            hang()
        if scenario.at("oom_at_step", step):
            oom(step)
        nan = scenario.name == "nan_at_step" and step >= scenario.step
        show(step, math.nan if nan else loss_at(step))
        saves = plan.save_every and step % plan.save_every == 0 and step < plan.steps
        if saves and scenario.name != "no_save":
            save(step, fault)
        samples = plan.sample_every and step % plan.sample_every == 0
        if samples and scenario.name != "no_sample":
            sample(step)
    bar.close()


def final_fault(scenario: Scenario) -> str:
    """The final save's fault: only a full disk reaches it; the other faults are in the
    checkpoint saved during training."""
    return "crash" if scenario.name == "crash_mid_checkpoint" else ""


def finish(scenario: Scenario) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if scenario.name == "exit1_after_complete":
        # fluxgym#465: everything printed says complete, and the exit status is 1.
        os._exit(1)


def _missing(path: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)


# kohya sd-scripts -------------------------------------------------------------------


def _rich(level: str, message: str, where: str) -> None:
    """kohya's console log: rich's RichHandler on stderr, date format %Y-%m-%d %H:%M:%S."""
    say(f"{TIME} {level:<8} {message:<60} {where}", sys.stderr)


def kohya(script: str) -> None:
    parser = argparse.ArgumentParser(prog=script)
    parser.add_argument("--config_file")
    parser.add_argument("--dataset_config")
    args = parser.parse_args()
    scenario = Scenario.read()
    if scenario.name == "bad_argument":
        parser.error("unrecognized arguments: --fp8_base_unet")
    config = tomllib.loads(Path(args.config_file).read_text())
    _rich("INFO", f"Loading settings from {args.config_file}...", "train_util.py:4651")
    _rich("INFO", f"Loading dataset config from {args.dataset_config}", "train_network.py:519")
    plan = Plan(
        config["pretrained_model_name_or_path"],
        int(config.get("max_train_steps", 1600)),
        config.get("save_every_n_steps"),
        config.get("sample_every_n_steps") if config.get("sample_prompts") else None,
    )
    if scenario.name == "missing_file" or not Path(plan.base_model).exists():
        raise _missing(plan.base_model)
    output = Path(config["output_dir"])
    name = config.get("output_name") or "last"
    say("running training / 学習開始")
    say(f"  total optimization steps / 学習ステップ数: {plan.steps}")
    bar = tqdm(range(plan.steps), smoothing=0, desc="steps", mininterval=0)
    say("\nepoch 1/1\n")
    losses: list[float] = []

    def show(step: int, loss: float) -> None:
        bar.update(1)
        losses.append(loss)
        bar.set_postfix(avr_loss=sum(losses) / len(losses))

    def save(step: int, fault: str) -> None:
        ckpt = output / f"{name}-step{step:08d}.safetensors"
        say(f"\nsaving checkpoint: {ckpt}")
        write_lora(ckpt, fault)

    def sample(step: int) -> None:
        _rich("INFO", "", "train_util.py:6395")
        _rich("INFO", f"generating sample images at step / サンプル画像生成 ステップ: {step}", "")
        write_png(output / "sample" / f"{name}_{step:06d}_00_20260101100000_42.png")

    def oom(step: int) -> None:
        raise OutOfMemoryError(OOM_MESSAGE)

    train(plan, scenario, bar, show, save, sample, oom)
    last = output / f"{name}.safetensors"
    say(f"\nsaving checkpoint: {last}")
    write_lora(last, final_fault(scenario))
    _rich("INFO", "model saved.", "train_network.py:1729")
    finish(scenario)


# SimpleTuner --------------------------------------------------------------------------


class _SimpleTunerFormat(logging.Formatter):
    """helpers/log_format.py ColorizedFormatter: rank first, colour around the rest."""

    colours: ClassVar[dict[int, str]] = {
        logging.INFO: "\x1b[32m",
        logging.WARNING: "\x1b[33m",
        logging.ERROR: "\x1b[31m",
    }

    def format(self, record: logging.LogRecord) -> str:
        colour = self.colours.get(record.levelno, "")
        return f"[RANK 0] {colour}{super().format(record)}\x1b[0m"


def _simpletuner_logger() -> logging.Logger:
    handler = logging.StreamHandler(sys.stdout)
    handler.setLevel(os.environ.get("SIMPLETUNER_LOG_LEVEL", "ERROR").upper())
    handler.setFormatter(_SimpleTunerFormat("%(asctime)s [%(levelname)s] %(message)s"))
    logger = logging.getLogger("SimpleTuner")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger


def simpletuner() -> None:
    logger = _simpletuner_logger()
    scenario = Scenario.read()
    if os.environ.get("CONFIG_BACKEND") != "json" or "CONFIG_PATH" not in os.environ:
        raise SystemExit("fake SimpleTuner: set CONFIG_BACKEND=json and CONFIG_PATH")
    config = json.loads(Path(os.environ["CONFIG_PATH"]).read_text())
    if scenario.name == "bad_argument":
        parser = argparse.ArgumentParser(prog="simpletuner-train")
        parser.add_argument("--optimizer", choices=["bnb-adamw8bit", "torch-adamw", "prodigy"])
        parser.parse_args(["--optimizer", "adamw8bit"])
    plan = Plan(
        config["--pretrained_model_name_or_path"],
        int(config["--max_train_steps"]),
        config.get("--checkpoint_step_interval"),
        None if config.get("--validation_disable") else config.get("--validation_step_interval"),
    )
    output = Path(config["--output_dir"])
    try:
        if scenario.name == "missing_file" or not Path(plan.base_model).exists():
            raise _missing(plan.base_model)
        logger.info(f"Training for {plan.steps} steps.")
        bar = tqdm(
            range(0, plan.steps),
            initial=0,
            desc="Epoch 1/1 Steps",
            dynamic_ncols=True,
            mininterval=0,
        )

        def show(step: int, loss: float) -> None:
            bar.set_description("Epoch 1/1, Steps")
            bar.update(1)
            bar.set_postfix(step_loss=loss, lr=1e-4)

        def save(step: int, fault: str) -> None:
            print("\n", flush=True)  # checkpoint_state_save, before its webhook-only event
            write_lora(output / f"checkpoint-{step}" / "pytorch_lora_weights.safetensors", fault)

        def sample(step: int) -> None:
            write_png(output / "validation_images" / f"step_{step}_validation.png")

        def oom(step: int) -> None:
            raise OutOfMemoryError(OOM_MESSAGE)

        train(plan, scenario, bar, show, save, sample, oom)
        logger.info(
            "Training has completed."
            f"\n -> global_step = {plan.steps}, max_train_steps = {plan.steps}, epoch = 1, "
            "num_train_epochs = 1"
        )
        write_lora(output / "pytorch_lora_weights.safetensors")
    except Exception as e:
        import traceback

        logger.error(f"Failed to run training: {e}, traceback: {traceback.format_exc()}")
        raise
    finish(scenario)


# ai-toolkit ---------------------------------------------------------------------------


def _toolkit_end(completed: int, failed: int) -> None:
    """run.py print_end_message."""
    say("")
    say("========================================")
    say("Result:")
    say(f" - {completed} completed job{'' if completed == 1 else 's'}")
    if failed:
        say(f" - {failed} failure{'' if failed == 1 else 's'}")
    say("========================================")


def ai_toolkit() -> None:
    import yaml

    parser = argparse.ArgumentParser()
    parser.add_argument("config_file_list", nargs="+", type=str)
    parser.add_argument("-r", "--recover", action="store_true")
    scenario = Scenario.read()
    args = parser.parse_args([] if scenario.name == "bad_argument" else None)
    say(f"Running {len(args.config_file_list)} job")
    try:
        document = yaml.safe_load(Path(args.config_file_list[0]).read_text())
        _toolkit_job(document["config"], scenario)
    except Exception as e:
        say(f"Error running job: {e}")
        _toolkit_end(0, 1)
        raise
    finish(scenario)


def _toolkit_job(config: dict, scenario: Scenario) -> None:  # type: ignore[type-arg]
    name = config["name"]
    process = config["process"][0]
    sampling = process.get("sample")
    plan = Plan(
        process["model"]["name_or_path"],
        int(process["train"]["steps"]),
        process["save"].get("save_every"),
        None if process["train"].get("disable_sampling") else (sampling or {}).get("sample_every"),
    )
    save_root = Path(process["training_folder"]) / name
    say("")
    say("#############################################")
    say(f"# Running job: {name}")
    say("#############################################")
    say("")
    say("Running  1 process")
    if scenario.name == "missing_file" or not Path(plan.base_model).exists():
        raise _missing(plan.base_model)
    bar = tqdm(total=plan.steps, desc=name, leave=True, initial=0, smoothing=0.7, mininterval=0)
    skipped = {"oom": 0}

    def show(step: int, loss: float) -> None:
        if math.isnan(loss):
            say("loss is nan")  # SDTrainer zeroes it and trains on (ai-toolkit#503)
            loss = 0.0
        bar.set_postfix_str(f"lr: {1e-4:.1e} loss: {loss:.3e}")
        bar.update(1)

    def save_file(path: Path, fault: str) -> None:
        write_lora(path, fault)
        say(f"Saved checkpoint to {path}")
        say(f"Saved optimizer to {save_root / 'optimizer.pt'}")

    def save(step: int, fault: str) -> None:
        say(f"\nSaving at step {step}")
        save_file(save_root / f"{name}_{step:09d}.safetensors", fault)

    def sample(step: int) -> None:
        write_png(save_root / "samples" / f"1767261600000__{step:09d}_0.jpg")

    def oom(step: int) -> None:
        # Three batches skipped, then the fourth out-of-memory error ends the run.
        while skipped["oom"] < 3:
            skipped["oom"] += 1
            say("")
            say("################################################")
            say(f"# OOM during training step, skipping batch {skipped['oom']}/3 #")
            say("################################################")
            say("")
        raise RuntimeError("OOM during training step 3 times in a row, aborting training")

    train(plan, scenario, bar, show, save, sample, oom)
    save_file(save_root / f"{name}.safetensors", final_fault(scenario))
    if plan.sample_every and scenario.name != "no_sample":
        sample(plan.steps)
    say("")
