"""Peak memory of a CPU run of the native trainer against the size of its base model,
on an SDXL-shaped model wide enough that its weights, not the libraries, dominate.

On a CPU everything is float32. The run trains a few steps and saves a checkpoint at
every step, so the check that the saved LoRA loads in diffusers runs at every save and
at the end (app/training/native/verify.py). A second float32 copy of the base model for
that check would bring the peak to about twice the model; sharing the training model's
frozen weights keeps it near one model plus what training itself needs. The trainer
runs as its own process (``python -m app.training.native JOB.json``, as the job runner
starts it), and its peak resident memory is read with ``getrusage(RUSAGE_CHILDREN)``.

    .venv/bin/python bench/native_memory.py [--width 320] [--steps 3]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from app.settings import REPO_ROOT
from app.training.config import TrainingConfig
from app.training.job import BaseModelRef, NativeJob
from tests.tiny_models import build_tiny_sdxl, make_kohya_dataset

GB = 1024**3


def build_model(target: Path, width: int) -> int:
    """An SDXL-shaped diffusers folder (two text encoders, text-time conditioning, two
    UNet levels with 1 and 4 transformer layers, SDXL's text widths) whose UNet is
    ``width`` channels wide; returns the bytes of its float32 weights."""
    build_tiny_sdxl(
        target,
        width=width,
        heads=(width // 64, 2 * width // 64),
        transformer_layers=(1, 4),
        text_widths=(768, 1280),
        pooled_dim=1280,
        time_embed_dim=256,
    )
    return sum(path.stat().st_size for path in target.rglob("*.safetensors"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=320, help="UNet channels (SDXL: 320)")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = build_model(root / "model", args.width)
        dataset = make_kohya_dataset(root / "data", concepts={"ink": (1, [(64, 64)] * 4)})
        config = TrainingConfig(
            device="cpu",
            mixed_precision="no",
            resolution=64,
            min_bucket_reso=64,
            max_bucket_reso=128,
            bucket_reso_steps=32,
            network_rank=4,
            network_alpha=4.0,
            unet_lr=1e-3,
            lr_scheduler="constant",
            max_train_steps=args.steps,
            save_every_n_epochs=None,
            save_every_n_steps=1,
            cache_text_encoder_outputs=True,
            min_snr_gamma=None,
        )
        job = NativeJob(
            project="bench",
            trigger_word="zkstyle",
            base_model=BaseModelRef(path=str(root / "model"), family="sdxl"),
            dataset_dir=str(dataset),
            output_dir=str(root / "out"),
            config=config,
        )
        job_file = root / "job.json"
        job_file.write_text(job.model_dump_json())
        done = subprocess.run(
            [sys.executable, "-m", "app.training.native", str(job_file)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            sys.exit(f"the run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        verified = done.stdout.count('"checkpoint"') + done.stdout.count('"done"')
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    print(f"base model weights (float32): {weights / GB:.2f} GB")
    print(f"peak resident memory of the run: {peak / GB:.2f} GB ({peak / weights:.2f}× the model)")
    print(f"saves verified in diffusers: {verified}")


if __name__ == "__main__":
    main()
