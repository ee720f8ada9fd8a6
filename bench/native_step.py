"""Seconds per step of the native trainer against a plain diffusers + peft training loop
(the shape of diffusers' ``examples/text_to_image/train_text_to_image_lora.py``) on the
same tiny SD 1.5-shaped model, data and settings, in one run.

The trainer's figure is wall time from its ``start`` event to its last ``step`` event
divided by the steps: everything it does per step (bucketed data loading, caption
handling, the loss, the non-finite check, events on stdout, checkpoint bookkeeping) is
in it. The baseline does the same maths with nothing around it. Target: overhead
under 10%. Runs alternate to even out a busy machine; medians are reported.

    .venv/bin/python bench/native_step.py [--steps 30] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from peft import LoraConfig
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.training.config import TrainingConfig
from app.training.job import BaseModelRef, NativeJob
from app.training.native.events import ProgressWriter
from app.training.native.models import quiet_libraries
from app.training.native.trainer import Trainer
from tests.tiny_models import build_tiny_sd15, make_kohya_dataset

RANK, ALPHA, LR, BATCH, SEED = 4, 4.0, 1e-3, 2, 0


def native_seconds_per_step(model: Path, dataset: Path, output: Path, steps: int) -> float:
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
    events = ProgressWriter(io.StringIO())
    Trainer(job, events).train()
    start = next(e["time"] for e in events.events if e["event"] == "start")
    last = [e["time"] for e in events.events if e["event"] == "step"][-1]
    return (last - start) / steps


def baseline_seconds_per_step(model: Path, dataset: Path, steps: int) -> float:
    """The plain loop: images → VAE → noise → UNet with a peft adapter → MSE → AdamW."""
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
    started = time.perf_counter()
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
    return (time.perf_counter() - started) / steps


def _pixels(path: Path) -> torch.Tensor:
    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: stable on a shared CPU)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_sd15(root / "model")
        dataset = make_kohya_dataset(root / "data")
        native, baseline = [], []
        for round_ in range(args.rounds):
            baseline.append(baseline_seconds_per_step(model, dataset, args.steps))
            native.append(
                native_seconds_per_step(model, dataset, root / f"run{round_}", args.steps)
            )
            print(
                f"round {round_ + 1}: baseline {baseline[-1]:.4f} s/step, native {native[-1]:.4f} s/step"
            )
    b, n = statistics.median(baseline), statistics.median(native)
    overhead = (n - b) / b * 100
    print(
        f"tiny SD 1.5, 64x64, batch {BATCH}, rank {RANK}, {args.steps} steps, {args.threads} thread(s)"
    )
    print(f"plain diffusers+peft loop: {b:.4f} s/step (median of {args.rounds})")
    print(f"native trainer:            {n:.4f} s/step (median of {args.rounds})")
    print(f"trainer overhead:          {overhead:+.1f}% (target < 10%)")


if __name__ == "__main__":
    main()
