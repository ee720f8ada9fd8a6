"""GPU smoke test of the native trainer (not run in CI: it needs CUDA).

Trains a few steps of the tiny SD 1.5- and SDXL-shaped models on CUDA in fp16 (with
the grad scaler) and bf16, with gradient checkpointing, cached latents and text
encoder outputs, a checkpoint (verified on the CPU) and a sample image half-way, and
prints seconds per step and peak VRAM for each. Exit status 1 if any run fails.

    .venv/bin/python bench/gpu_smoke.py [--steps 10]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.training.config import TrainingConfig
from app.training.job import BaseModelRef, NativeJob
from app.training.native.errors import TrainingError
from app.training.native.events import ProgressWriter
from app.training.native.models import quiet_libraries
from app.training.native.trainer import Trainer
from tests.tiny_models import build_tiny_sd15, build_tiny_sdxl, make_kohya_dataset


def run(family: str, model: Path, dataset: Path, output: Path, precision: str, steps: int) -> dict:  # type: ignore[type-arg]
    config = TrainingConfig(
        device="cuda",
        mixed_precision=precision,  # type: ignore[arg-type]
        resolution=64,
        min_bucket_reso=64,
        max_bucket_reso=128,
        bucket_reso_steps=16,
        network_rank=8,
        network_alpha=4.0,
        unet_lr=1e-3,
        train_batch_size=2,
        max_train_steps=steps,
        save_every_n_steps=max(1, steps // 2),
        save_every_n_epochs=None,
        sample_prompts=["zkstyle, a heron in the mist"],
        sample_every_n_steps=max(1, steps // 2),
        gradient_checkpointing=True,
        cache_latents=True,
        cache_text_encoder_outputs=True,
        seed=0,
    )
    job = NativeJob(
        project=f"smoke-{family}-{precision}",
        trigger_word="zkstyle",
        base_model=BaseModelRef(path=str(model), family=family),  # type: ignore[arg-type]
        dataset_dir=str(dataset),
        output_dir=str(output),
        config=config,
        sample_steps=4,
    )
    events = ProgressWriter(io.StringIO())
    torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(job, events)
    trainer.train()
    done = events.events[-1]
    scaler = trainer.run.precision.scaler if trainer.run else None
    losses = [e["loss"] for e in events.events if e["event"] == "step"]
    return {
        "seconds_per_step": done["seconds_per_step"],
        "peak_vram_gb": done["peak_vram_gb"],
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "verified": done["verified"],
        "checkpoints": sum(e["event"] == "checkpoint" for e in events.events),
        "samples": sum(e["event"] == "sample" for e in events.events),
        "grad_scale": scaler.get_scale() if scaler is not None else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: this smoke test needs a GPU")
        return 1
    quiet_libraries()
    print(f"{torch.cuda.get_device_name()} · torch {torch.__version__} · CUDA {torch.version.cuda}")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = make_kohya_dataset(root / "data")
        models = {"sd15": build_tiny_sd15(root / "sd15"), "sdxl": build_tiny_sdxl(root / "sdxl")}
        for family, model in models.items():
            for precision in ("fp16", "bf16"):
                label = f"{family:5} {precision}"
                try:
                    result = run(
                        family,
                        model,
                        dataset,
                        root / f"out-{family}-{precision}",
                        precision,
                        args.steps,
                    )
                except TrainingError as error:
                    failures += 1
                    print(f"{label}: FAILED ({error.kind}) {error.message}")
                    continue
                print(
                    f"{label}: {result['seconds_per_step']:.4f} s/step, "
                    f"peak VRAM {result['peak_vram_gb']:.3f} GiB, "
                    f"loss {result['first_loss']:.4f} → {result['last_loss']:.4f}, "
                    f"{result['checkpoints']} checkpoint(s), {result['samples']} sample(s), "
                    f"verified {result['verified']}, grad scale {result['grad_scale']}"
                )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
