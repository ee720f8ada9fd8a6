"""Re-derive the compute figures in ``app/training/model_specs.py`` (forward FLOPs of one
training sample at the native resolution, and how they grow with the pixel count) from
the published architectures in ``app/training/architectures.py``, on PyTorch's ``meta``
device (no weights, no downloads), and print them next to the numbers loragate uses.

    .venv/bin/python bench/model_numbers.py

Baseline: the constants in ``app/training/model_specs.py``; every line says whether the
derived figure matches. Parameter counts and LoRA widths are checked by
``tests/training/test_architectures.py`` instead. Takes about a minute on one CPU core.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import FluxTransformer2DModel, UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.training.architectures import FLUX_TRANSFORMER_CONFIG, UNET_CONFIGS
from app.training.model_specs import FAMILY_SPECS


def forward_tflops(run: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops() / 1e12


def unet_call(
    model: UNet2DConditionModel, side: int, context: int, xl: bool
) -> Callable[[], object]:
    extra = {"text_embeds": torch.randn(1, 1280), "time_ids": torch.randn(1, 6)} if xl else None

    def run() -> object:
        return model(
            torch.randn(1, 4, side, side),
            torch.tensor([1]),
            torch.randn(1, 77, context),
            added_cond_kwargs=extra,
        )

    return run


def flux_call(model: FluxTransformer2DModel, tokens: int) -> Callable[[], object]:
    def run() -> object:
        return model(
            hidden_states=torch.randn(1, tokens, 64),
            encoder_hidden_states=torch.randn(1, 512, 4096),
            pooled_projections=torch.randn(1, 768),
            timestep=torch.tensor([1.0]),
            img_ids=torch.randn(tokens, 3),
            txt_ids=torch.randn(512, 3),
            guidance=torch.tensor([1.0]),
        )

    return run


def report(name: str, derived: float, used: float, tolerance: float = 0.01) -> bool:
    ok = math.isclose(derived, used, rel_tol=tolerance)
    print(
        f"{name:45} derived {derived:>16,.3f}   loragate {used:>16,.3f}   {'ok' if ok else 'DIFFERS'}"
    )
    return ok


def main() -> int:
    results = []
    with torch.device("meta"):
        unets = {
            key: UNet2DConditionModel.from_config(config) for key, config in UNET_CONFIGS.items()
        }
        flux = FluxTransformer2DModel(**FLUX_TRANSFORMER_CONFIG)
        full = {
            "sd15": forward_tflops(unet_call(unets["sd15"], 64, 768, False)),
            "sd2": forward_tflops(unet_call(unets["sd2"], 96, 1024, False)),
            "sdxl": forward_tflops(unet_call(unets["sdxl"], 128, 2048, True)),
            "flux": forward_tflops(flux_call(flux, 4096)),
        }
        half = {
            "sd15": forward_tflops(unet_call(unets["sd15"], 32, 768, False)),
            "sdxl": forward_tflops(unet_call(unets["sdxl"], 64, 2048, True)),
            "flux": forward_tflops(flux_call(flux, 1024)),
        }
    for key, tflops in full.items():
        results.append(
            report(f"{key} forward TFLOPs at native size", tflops, FAMILY_SPECS[key].forward_tflops)
        )
    for key, tflops in half.items():
        exponent = math.log(full[key] / tflops) / math.log(4)
        results.append(
            report(
                f"{key} FLOPs exponent in pixels", exponent, FAMILY_SPECS[key].flops_exponent, 0.02
            )
        )
    print(f"\n{sum(results)} of {len(results)} figures match the baseline.")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
