"""Seconds per step of the native trainer against a plain diffusers + peft training loop
(the shape of diffusers' ``examples/text_to_image/train_text_to_image_lora.py``) on the
same tiny SD 1.5-shaped model, data and settings, in one run: once without saving
anything, once with a checkpoint every ``--save-every`` steps.

The trainer's figure is wall time from its ``start`` event to its last ``step`` event
divided by the steps: everything it does per step (bucketed data loading, caption
handling, the loss, the non-finite check, events on stdout) is in it, and with
checkpoints also what it does at each save (the kohya LoRA, optimizer, scheduler and
random states written to a temporary folder, fsynced, marked complete and renamed,
rotation, and the check that the saved LoRA loads in diffusers and reproduces the
trained model, on a model sharing the training model's frozen weights). The baseline does the same maths with nothing
around it; with checkpoints it saves what diffusers' script saves at its
``checkpointing_steps`` (``accelerator.save_state``: adapter weights, optimizer and
random states; plus the LoRA file ``save_lora_weights`` writes). Target: overhead
under 10%. Runs alternate to even out a busy machine; medians over the rounds are
reported, in wall time and in this process's CPU time (which other programs on a
shared machine barely disturb; it leaves out waiting for the disk, which wall time
includes).

    .venv/bin/python bench/native_step.py [--steps 30] [--save-every 10] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.training.config import TrainingConfig
from app.training.job import BaseModelRef, NativeJob
from app.training.native.events import ProgressWriter
from app.training.native.models import quiet_libraries
from app.training.native.trainer import Trainer
from tests.tiny_models import build_tiny_sd15, make_kohya_dataset

RANK, ALPHA, LR, BATCH, SEED = 4, 4.0, 1e-3, 2, 0


@dataclass(frozen=True)
class PerStep:
    wall: float  # seconds per step
    cpu: float  # this process's CPU seconds per step


class ClockedWriter(ProgressWriter):
    """Progress events with this process's CPU clock beside their wall time."""

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = super().emit(event, **fields)
        record["cpu"] = time.process_time()
        return record


def native_seconds_per_step(
    model: Path, dataset: Path, output: Path, steps: int, save_every: int | None
) -> PerStep:
    config = TrainingConfig(
        device="cpu",
        mixed_precision="no",
        resolution=64,
        min_bucket_reso=64,
        max_bucket_reso=128,
        bucket_reso_steps=16,
        network_rank=RANK,
        network_alpha=ALPHA,
        unet_lr=LR,
        lr_scheduler="constant",
        train_batch_size=BATCH,
        max_train_steps=steps,
        save_every_n_epochs=None,
        save_every_n_steps=save_every,
        cache_latents=False,
        gradient_checkpointing=False,
        min_snr_gamma=None,
        seed=SEED,
    )
    job = NativeJob(
        project="bench",
        trigger_word="zkstyle",
        base_model=BaseModelRef(path=str(model), family="sd15"),
        dataset_dir=str(dataset),
        output_dir=str(output),
        config=config,
    )
    events = ClockedWriter(io.StringIO())
    Trainer(job, events).train()
    saved = [e for e in events.events if e["event"] == "checkpoint"]
    assert len(saved) == (steps - 1) // save_every if save_every else not saved
    start = next(e for e in events.events if e["event"] == "start")
    last = [e for e in events.events if e["event"] == "step"][-1]
    return PerStep((last["time"] - start["time"]) / steps, (last["cpu"] - start["cpu"]) / steps)


def baseline_seconds_per_step(
    model: Path, dataset: Path, output: Path, steps: int, save_every: int | None
) -> PerStep:
    """The plain loop: images → VAE → noise → UNet with a peft adapter → MSE → AdamW,
    saving every ``save_every`` steps (before the last) when asked."""
    pipeline = StableDiffusionPipeline.from_pretrained(
        model, safety_checker=None, requires_safety_checker=False
    )
    unet, vae, text_encoder, tokenizer = (
        pipeline.unet, pipeline.vae, pipeline.text_encoder, pipeline.tokenizer
    )  # fmt: skip
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    torch.manual_seed(SEED)
    unet.add_adapter(
        LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    )
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    files = sorted(dataset.rglob("*.png"))
    captions = [f.with_suffix(".txt").read_text("utf-8").strip() for f in files]
    generator = torch.Generator().manual_seed(SEED)
    unet.train()
    started, started_cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        picks = [(step * BATCH + i) % len(files) for i in range(BATCH)]
        pixels = torch.stack([_pixels(files[i]) for i in picks])
        with torch.no_grad():
            latents = vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor
            ids = tokenizer(
                [captions[i] for i in picks],
                padding="max_length",
                max_length=tokenizer.model_max_length,
                truncation=True,
                return_tensors="pt",
            ).input_ids
            hidden = text_encoder(ids)[0]
        noise = torch.randn(latents.shape, generator=generator)
        timesteps = torch.randint(0, 1000, (BATCH,), generator=generator)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        prediction = unet(noisy, timesteps, encoder_hidden_states=hidden).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.detach().item()  # a loop that logs reads the loss too
        done = step + 1
        if save_every and done % save_every == 0 and done < steps:
            _save_state(output / f"checkpoint-{done}", unet, optimizer, generator)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return PerStep(wall / steps, cpu / steps)


def _save_state(
    folder: Path, unet: torch.nn.Module, optimizer: torch.optim.Optimizer, noise: torch.Generator
) -> None:
    """What ``accelerator.save_state`` and ``save_lora_weights`` write at a checkpoint."""
    folder.mkdir(parents=True)
    lora = {k: v.contiguous() for k, v in get_peft_model_state_dict(unet).items()}
    save_file(lora, folder / "pytorch_lora_weights.safetensors")
    save_file(lora, folder / "model.safetensors")
    torch.save(optimizer.state_dict(), folder / "optimizer.bin")
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "noise": noise.get_state(),
    }
    torch.save(states, folder / "random_states_0.pkl")


def _pixels(path: Path) -> torch.Tensor:
    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--save-every", type=int, default=10, help="checkpoint every N steps")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: stable on a shared CPU)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_libraries()
    kinds = {"plain": None, "checkpoints": args.save_every}
    figures: dict[str, dict[str, list[PerStep]]] = {
        kind: {"baseline": [], "native": []} for kind in kinds
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_sd15(root / "model")
        dataset = make_kohya_dataset(root / "data")
        for round_ in range(args.rounds):
            for kind, every in kinds.items():
                out = root / f"{kind}{round_}"
                base = baseline_seconds_per_step(model, dataset, out / "b", args.steps, every)
                native = native_seconds_per_step(model, dataset, out / "n", args.steps, every)
                figures[kind]["baseline"].append(base)
                figures[kind]["native"].append(native)
                print(
                    f"round {round_ + 1}, {kind:11}: baseline {base.wall:.4f} s/step "
                    f"({base.cpu:.4f} CPU), native {native.wall:.4f} s/step ({native.cpu:.4f} CPU)"
                )
    saves = (args.steps - 1) // args.save_every
    print(
        f"tiny SD 1.5, 64x64, batch {BATCH}, rank {RANK}, {args.steps} steps, "
        f"{args.threads} thread(s); medians of {args.rounds} rounds, wall time (CPU time)"
    )
    medians = {
        kind: {
            who: PerStep(
                statistics.median(s.wall for s in runs), statistics.median(s.cpu for s in runs)
            )
            for who, runs in sides.items()
        }
        for kind, sides in figures.items()
    }
    for kind, words in (
        ("plain", "no checkpoints"),
        ("checkpoints", f"a checkpoint every {args.save_every} steps ({saves} saves)"),
    ):
        b, n = medians[kind]["baseline"], medians[kind]["native"]
        print(f"{words}:")
        print(f"  plain diffusers+peft loop: {b.wall:.4f} s/step ({b.cpu:.4f})")
        print(f"  native trainer:            {n.wall:.4f} s/step ({n.cpu:.4f})")
        print(
            f"  trainer overhead:          {_percent(n.wall, b.wall)} ({_percent(n.cpu, b.cpu)}) "
            "(target < 10%)"
        )
    if saves:
        for who in ("baseline", "native"):
            plain, saving = medians["plain"][who], medians["checkpoints"][who]
            wall = (saving.wall - plain.wall) * args.steps / saves
            cpu = (saving.cpu - plain.cpu) * args.steps / saves
            print(f"one checkpoint, {who:8}: {wall:.3f} s ({cpu:.3f} s CPU)")
        print(
            "  (the native one writes to a temporary folder, fsyncs, renames, rotates and "
            "verifies its LoRA in diffusers; its first also loads the model copy for that)"
        )


def _percent(value: float, baseline: float) -> str:
    return f"{(value - baseline) / baseline * 100:+.1f}%"


if __name__ == "__main__":
    main()
