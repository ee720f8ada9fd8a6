"""Gate 3 for real on this machine, printed: the check to run on a GPU machine (CI has
none, so the GPU paths are otherwise only exercised with a fake NVML).

It judges a config for the GPU (device cuda, the precision given) for the native
trainer and the given family, with the run's outputs in a temporary folder, and
prints the checklist, every finding, how long the check took, and the JSON result.
Nothing is stored and no project is needed.

Run: ``.venv/bin/python bench/gpu_env_check.py [--family sdxl] [--precision bf16]
[--num-gpus 1] [--images 40] [--device cuda] [--strict]``. With ``--strict`` the exit
status is 1 when the gate blocks (``make bench`` runs it without, on any machine).
Baseline: on the 2-core CPU-only development machine it blocks (no NVIDIA driver) in
about 8 s when idle (twice that while other work runs), most of it importing the
training stack in the trainer check; the fingerprint (what the overview computes on
every load) takes about 10 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli.env import print_report
from app.gates.environment import Inputs, fingerprint_of, judge
from app.grimoire import BackendPaths
from app.training.config import TrainingConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--family", default="sdxl", choices=("sd15", "sd2", "sdxl", "flux"))
    parser.add_argument("--precision", default="bf16", choices=("no", "fp16", "bf16"))
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--num-gpus", type=int, default=1)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the gate blocks")
    args = parser.parse_args()

    config = TrainingConfig(
        device=args.device, mixed_precision=args.precision, num_gpus=args.num_gpus
    )
    with tempfile.TemporaryDirectory(prefix="loragate-env-") as outputs:
        inputs = Inputs(
            config, "training.json", args.family, "native", BackendPaths(), Path(outputs)
        )
        started = time.perf_counter()
        result = judge(inputs, image_count=args.images, images_with_repeats=args.images * 10)
        seconds = time.perf_counter() - started
        # The fingerprint runs on every overview page load: it must stay in milliseconds.
        started = time.perf_counter()
        for _ in range(20):
            fingerprint_of(inputs)
        fingerprint_ms = (time.perf_counter() - started) / 20 * 1000
    print_report(result, f"(device {args.device}, {args.precision}, {args.family}, native)")
    print(f"The check took {seconds:.1f} s; its fingerprint {fingerprint_ms:.1f} ms.\n")
    print(json.dumps(result.to_json(), indent=2, default=str))
    return 1 if args.strict and result.verdict == "block" else 0


if __name__ == "__main__":
    sys.exit(main())
