"""The engine of loragate's stand-ins for external trainers (tests only). Each fake clone
holds a copy of this file beside the backend's entry file (``train_network.py``,
``run.py``, ``simpletuner-train``), which calls one of ``kohya``, ``simpletuner``,
``ai_toolkit``.

A fake reads the config file it is given as the real trainer does (enough to find the
base model, output folder, step count and save/sample intervals), prints that trainer's
real progress bar (tqdm on stderr, same desc and postfix keys) and log lines (copied
from its source: kohya-ss/sd-scripts train_network.py at 48d368fa, SimpleTuner
helpers/training/trainer.py at bc8e6ab7, ai-toolkit BaseSDTrainProcess.py at 27a03a91),
writes a small safetensors file where the trainer writes its LoRA, its resume state
where the trainer writes it (sd-scripts' ``NAME-stepNNNNNNNN-state`` folders with
``save_state``, SimpleTuner's ``checkpoint-N`` folders with their ``.guard``, ai-toolkit's
step files with the step in their metadata), its sample images where the trainer writes
them, resumes as the trainer does (sd-scripts from ``resume``, SimpleTuner from
``--resume_from_checkpoint``, ai-toolkit from the newest file in its folder), and follows
``scenario.json`` beside it: {"scenario": NAME, "step": K, "seconds_per_step": S,
"fixed_by": KEY} with NAME one of ok, oom_at_step, nan_at_step, missing_file,
bad_argument, crash_mid_checkpoint, hang, exit1_after_complete, lora_missing (exit 0
after saying it saved a final LoRA it never wrote), lora_cut_off (exit 0 with half of
it written), and three that exit 0 and say they finished but leave out what the dry
run must prove: no_save (no checkpoint during training), no_sample (no sample image),
broken_save (a checkpoint during training cut in half). With ``fixed_by`` (a setting such as gradient_checkpointing), the
out-of-memory failure happens only while that setting is off, as a real one would.

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
import shutil
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
    "lora_missing",
    "lora_cut_off",
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
    fixed_by: str = ""  # a setting that, when on, makes the out-of-memory failure go away
    torn_save: int = 0  # the save at this step runs out of memory half written

    @classmethod
    def read(cls) -> Scenario:
        path = HERE / "scenario.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        name = data.get("scenario", "ok")
        if name not in SCENARIOS:
            raise SystemExit(f"fake trainer: unknown scenario {name!r}")
        return cls(
            name,
            int(data.get("step", 0)),
            float(data.get("seconds_per_step", 0.002)),
            str(data.get("fixed_by", "")),
            int(data.get("torn_save", 0)),
        )

    def at(self, name: str, step: int) -> bool:
        return self.name == name and step == self.step


@dataclass
class Plan:
    base_model: str
    steps: int
    save_every: int | None
    sample_every: int | None
    first: int = 1  # the first step this launch trains (after a resume: the one after)
    # how far the trainer's own count is behind the step trained (sd-scripts after a
    # resume counts from 0 again): saves follow the trainer's count
    offset: int = 0
    settings: dict[str, object] | None = None  # what ``fixed_by`` is looked up in

    def fixed(self, scenario: Scenario) -> bool:
        return bool(scenario.fixed_by and (self.settings or {}).get(scenario.fixed_by))

    def oom_at(self, scenario: Scenario, step: int) -> bool:
        return scenario.at("oom_at_step", step) and not self.fixed(scenario)

    def torn_at(self, scenario: Scenario, step: int) -> bool:
        """The save at ``step`` is cut off by an out-of-memory error (a kill mid-save
        leaves the same)."""
        return scenario.torn_save == step and not self.fixed(scenario)


def loss_at(step: int) -> float:
    """The loss a fake reports at ``step``: falling, and known to the tests."""
    return 0.1 + 0.2 / step


def write_lora(path: Path, fault: str = "", step: int | None = None) -> None:
    """A small real safetensors file with one kohya-style LoRA pair; with ``fault``
    "crash", half of it and then the error a full disk raises; with "cut", half of it
    and no error. ``step`` goes into the metadata as ai-toolkit writes it
    (``training_info``)."""
    tensors = {
        "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": [0.5],
        "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": [0.25],
    }
    metadata = {"ss_network_module": "networks.lora"}
    if step is not None:
        metadata["training_info"] = json.dumps({"step": step, "epoch": 0})
    header: dict[str, object] = {"__metadata__": metadata}
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


def write_final(path: Path, scenario: Scenario, step: int | None = None) -> None:
    """The final LoRA as the scenario has it: whole, missing, cut off, or a crash."""
    if scenario.name == "lora_missing":
        return
    fault = {"crash_mid_checkpoint": "crash", "lora_cut_off": "cut"}.get(scenario.name, "")
    write_lora(path, fault, step)


def read_step(path: Path) -> int:
    """The step ai-toolkit reads back from a file's metadata (0 without one)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8 : 8 + length]).get("__metadata__", {})
    return int(json.loads(metadata.get("training_info", "{}")).get("step", 0))


def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A 1×1 PNG: signature, IHDR, IDAT, IEND.
    path.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
        )
    )


def write_jpeg(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 120, 40)).save(path, "JPEG")


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
    after: Callable[[], None] | None = None,
) -> None:
    """The step loop every fake shares: what differs is how each shows a step, saves,
    samples and fails, and what it prints after its save and samples (``after``)."""
    fault = {"crash_mid_checkpoint": "crash", "broken_save": "cut"}.get(scenario.name, "")
    for step in range(plan.first, plan.steps + 1):
        time.sleep(scenario.seconds_per_step)
        if scenario.at("hang", step):
            hang()
        if plan.oom_at(scenario, step):
            oom(step)
        nan = scenario.name == "nan_at_step" and step >= scenario.step
        show(step, math.nan if nan else loss_at(step))
        counted = step - plan.offset
        saves = plan.save_every and counted % plan.save_every == 0 and step < plan.steps
        if saves and scenario.name != "no_save":
            save(step, fault)
        if plan.sample_every and step % plan.sample_every == 0 and scenario.name != "no_sample":
            sample(step)
        if after is not None:
            after()
    bar.close()


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


def _kohya_steps_per_epoch(dataset_config: str, accumulation: int) -> int:
    """Optimizer steps in one epoch, as train_network.py counts them for images of one
    size: batches of the subsets' images × repeats, over the accumulation steps."""
    dataset = tomllib.loads(Path(dataset_config).read_text())["datasets"][0]
    images = 0
    for subset in dataset.get("subsets", []):
        folder = Path(subset["image_dir"])
        found = [p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
        images += len(found) * int(subset.get("num_repeats", 1))
    batches = math.ceil(images / int(dataset.get("batch_size", 1)))
    return math.ceil(batches / accumulation)


def _kohya_save_state(  # type: ignore[type-arg]
    config: dict, output: Path, name: str, step: int, epoch: int, torn: bool = False
) -> None:
    """train_util.save_and_remove_state_stepwise: accelerator.save_state into
    NAME-stepNNNNNNNN-state, in accelerate's order: the pre-hook's train_state.json first,
    then the weights, optimizer, scheduler, and the random states last."""
    _rich("INFO", "", "train_util.py:5962")
    _rich("INFO", f"saving state at step {step}", "train_util.py:5963")
    folder = output / f"{name}-step{step:08d}-state"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train_state.json").write_text(
        json.dumps({"current_epoch": epoch, "current_step": step})
    )
    write_lora(folder / "model.safetensors")
    if torn:
        raise OutOfMemoryError(OOM_MESSAGE)
    for part in ("optimizer.bin", "scheduler.bin", "sampler.bin"):
        (folder / part).write_bytes(b"state")
    (folder / "random_states_0.pkl").write_bytes(b"rng")
    last_n = config.get("save_last_n_steps_state") or config.get("save_last_n_steps")
    every = config.get("save_every_n_steps")
    if last_n and every:
        remove = step - last_n - 1
        remove -= remove % every
        old = output / f"{name}-step{remove:08d}-state"
        if remove > 0 and old.exists():
            _rich("INFO", f"removing old state: {old}", "train_util.py:5982")
            shutil.rmtree(old)


def kohya(script: str) -> None:
    parser = argparse.ArgumentParser(prog=script)
    parser.add_argument("--config_file")
    parser.add_argument("--dataset_config")
    parser.add_argument("--resume")
    args = parser.parse_args()
    scenario = Scenario.read()
    if scenario.name == "bad_argument":
        parser.error("unrecognized arguments: --fp8_base_unet")
    config = tomllib.loads(Path(args.config_file).read_text())
    _rich("INFO", f"Loading settings from {args.config_file}...", "train_util.py:4651")
    _rich("INFO", f"Loading dataset config from {args.dataset_config}", "train_network.py:519")
    base_model = config["pretrained_model_name_or_path"]
    if scenario.name == "missing_file" or not Path(base_model).exists():
        raise _missing(base_model)
    total = int(config.get("max_train_steps", 1600))
    per_epoch = _kohya_steps_per_epoch(
        args.dataset_config, int(config.get("gradient_accumulation_steps", 1))
    )
    per_epoch = per_epoch or total  # no images found: a plan made without a dataset
    epochs = math.ceil(total / per_epoch)
    # train_network.py with --resume and without --skip_until_initial_step: the state's
    # step only chooses the epoch to start at; global_step starts again at 0 and the
    # loop runs to the end of the last epoch.
    resume = args.resume or config.get("resume")
    start_epoch = 0
    if resume:
        state = Path(resume) / "train_state.json"
        if not (Path(resume) / "random_states_0.pkl").exists():
            raise _missing(str(Path(resume) / "random_states_0.pkl"))
        data = json.loads(state.read_text())
        _rich("INFO", f"load train state from {state}: {data}", "train_network.py:969")
        start_epoch = int(data["current_step"]) // per_epoch
    offset = start_epoch * per_epoch
    plan = Plan(
        base_model,
        min(epochs * per_epoch, offset + total),
        config.get("save_every_n_steps"),
        config.get("sample_every_n_steps") if config.get("sample_prompts") else None,
        first=offset + 1,
        settings=config,
        offset=offset,
    )
    output = Path(config["output_dir"])
    name = config.get("output_name") or "last"
    say("running training / 学習開始")
    say(f"  num epochs / epoch数: {epochs}")
    say(f"  total optimization steps / 学習ステップ数: {total}")
    bar = tqdm(range(total), smoothing=0, desc="steps", mininterval=0)
    say(f"\nepoch {start_epoch + 1}/{epochs}\n")
    losses: list[float] = []

    # train_network.py: progress_bar.update(1), then samples and saves, then the
    # postfix with the step's average loss.
    def show(step: int, loss: float) -> None:
        bar.update(1)
        losses.append(loss)

    def after() -> None:
        bar.set_postfix(avr_loss=sum(losses) / len(losses))

    def save(step: int, fault: str) -> None:
        local = step - offset
        ckpt = output / f"{name}-step{local:08d}.safetensors"
        say(f"\nsaving checkpoint: {ckpt}")
        write_lora(ckpt, fault)
        if config.get("save_state"):
            torn = plan.torn_at(scenario, step)
            _kohya_save_state(config, output, name, local, step // per_epoch + 1, torn)

    def sample(step: int) -> None:
        _rich("INFO", "", "train_util.py:6395")
        _rich("INFO", f"generating sample images at step / サンプル画像生成 ステップ: {step}", "")
        write_png(output / "sample" / f"{name}_{step - offset:06d}_00_20260101100000_42.png")

    def oom(step: int) -> None:
        raise OutOfMemoryError(OOM_MESSAGE)

    train(plan, scenario, bar, show, save, sample, oom, after)
    last = output / f"{name}.safetensors"
    say(f"\nsaving checkpoint: {last}")
    write_final(last, scenario)
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
    output = Path(config["--output_dir"])
    start = _simpletuner_resume(config, output, logger)
    plan = Plan(
        config["--pretrained_model_name_or_path"],
        int(config["--max_train_steps"]),
        config.get("--checkpoint_step_interval"),
        None if config.get("--validation_disable") else config.get("--validation_step_interval"),
        first=start + 1,
        settings={key.lstrip("-"): value for key, value in config.items()},
    )
    try:
        if scenario.name == "missing_file" or not Path(plan.base_model).exists():
            raise _missing(plan.base_model)
        logger.info(f"Training for {plan.steps} steps.")
        bar = tqdm(
            range(0, plan.steps),
            initial=start,
            desc="Epoch 1/1 Steps",
            dynamic_ncols=True,
            mininterval=0,
        )

        def show(step: int, loss: float) -> None:
            bar.set_description("Epoch 1/1, Steps")
            bar.update(1)
            bar.set_postfix(step_loss=loss, lr=1e-4)

        def save(step: int, fault: str) -> None:
            # checkpoint_state_save: accelerator.save_state into checkpoint-N, the
            # manifest, and the .guard written last ("\n" printed first).
            print("\n", flush=True)
            folder = output / f"checkpoint-{step}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".guard").unlink(missing_ok=True)
            write_lora(folder / "pytorch_lora_weights.safetensors", fault)
            (folder / "training_state.json").write_text(json.dumps({"global_step": step}))
            if plan.torn_at(scenario, step):
                raise OutOfMemoryError(OOM_MESSAGE)
            (folder / "checkpoint_manifest.json").write_text("{}")
            (folder / ".guard").write_text("")

        def sample(step: int) -> None:
            # validation_images.save_images: step_{global step}_{shortname}_{index}_{WxH}
            size = config.get("--validation_resolution", "1024x1024")
            write_png(output / "validation_images" / f"step_{step}_validation_0_{size}.png")

        def oom(step: int) -> None:
            raise OutOfMemoryError(OOM_MESSAGE)

        train(plan, scenario, bar, show, save, sample, oom)
        logger.info(
            "Training has completed."
            f"\n -> global_step = {plan.steps}, max_train_steps = {plan.steps}, epoch = 1, "
            "num_train_epochs = 1"
        )
        write_final(output / "pytorch_lora_weights.safetensors", scenario)
    except Exception as e:
        import traceback

        logger.error(f"Failed to run training: {e}, traceback: {traceback.format_exc()}")
        raise
    finish(scenario)


def _simpletuner_resume(config: dict, output: Path, logger: logging.Logger) -> int:  # type: ignore[type-arg]
    """trainer.init_resume_checkpoint: "latest" (the default) takes the highest
    checkpoint-N that does not end in tmp, guard or not; any other value names one by
    its folder name; an empty value starts afresh. Returns the step resumed at."""
    value = str(config.get("--resume_from_checkpoint", "latest"))
    if not value:
        logger.info("Not resuming from checkpoint.")
        return 0
    if value == "latest":
        found = [
            d.name for d in output.glob("checkpoint*") if d.is_dir() and not d.name.endswith("tmp")
        ]
        found.sort(key=lambda name: int(name.split("-")[1]))
        path = found[-1] if found else None
    else:
        path = os.path.basename(value.rstrip("/"))
    if path is None:
        logger.info(f"Checkpoint '{value}' does not exist. Starting a new training run.")
        return 0
    folder = output / path
    logger.info(f"Resuming from checkpoint {folder}")
    return int(json.loads((folder / "training_state.json").read_text())["global_step"])


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
    save_root = Path(process["training_folder"]) / name
    start = _toolkit_resume(save_root, name)
    plan = Plan(
        process["model"]["name_or_path"],
        int(process["train"]["steps"]),
        process["save"].get("save_every"),
        None if process["train"].get("disable_sampling") else (sampling or {}).get("sample_every"),
        first=start + 1,
        settings=process["train"],
    )
    say("")
    say("#############################################")
    say(f"# Running job: {name}")
    say("#############################################")
    say("")
    say("Running  1 process")
    if scenario.name == "missing_file" or not Path(plan.base_model).exists():
        raise _missing(plan.base_model)
    bar = tqdm(total=plan.steps, desc=name, leave=True, initial=start, smoothing=0.7, mininterval=0)
    skipped = {"oom": 0}

    def show(step: int, loss: float) -> None:
        if math.isnan(loss):
            say("loss is nan")  # SDTrainer zeroes it and trains on (ai-toolkit#503)
            loss = 0.0
        bar.set_postfix_str(f"lr: {1e-4:.1e} loss: {loss:.3e}")
        bar.update(1)

    def save_file(path: Path, fault: str, step: int) -> None:
        write_lora(path, fault, step)
        say(f"Saved checkpoint to {path}")
        say(f"Saved optimizer to {save_root / 'optimizer.pt'}")

    def save(step: int, fault: str) -> None:
        say(f"\nSaving at step {step}")
        path = save_root / f"{name}_{step:09d}.safetensors"
        if plan.torn_at(scenario, step):
            write_lora(path, "cut", step)
            raise OutOfMemoryError(OOM_MESSAGE)
        save_file(path, fault, step)

    def sample(step: int) -> None:
        # BaseSDTrainProcess.sample: "[time]_{_NNNNNNNNN}_[count].{ext}", jpg by default
        write_jpeg(save_root / "samples" / f"1767261600000__{step:09d}_0.jpg")

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
    final = save_root / f"{name}.safetensors"
    write_final(final, scenario, plan.steps)
    say(f"Saved checkpoint to {final}")
    say(f"Saved optimizer to {save_root / 'optimizer.pt'}")
    if plan.sample_every and scenario.name != "no_sample":
        sample(plan.steps)
    say("")


def _toolkit_resume(save_root: Path, name: str) -> int:
    """BaseSDTrainProcess.get_latest_save_path: the newest (by creation time) of the
    files and folders named NAME* in the save folder; its metadata's training_info step
    is where training goes on."""
    if not save_root.is_dir():
        return 0
    found = [p for p in save_root.glob(f"{name}*") if p.exists()]
    if not found:
        return 0
    latest = max(found, key=os.path.getctime)
    say(f"#### IMPORTANT RESUMING FROM {latest} ####")
    say(f"Loading from {latest}")
    step = read_step(latest)  # a cut-off file fails here, as safetensors fails to load it
    if step:
        say(f"Found step {step} in metadata, starting from there")
    return step
