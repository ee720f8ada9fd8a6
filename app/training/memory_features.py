"""What each trainer does about memory: the attention kernel it runs, and which of the
memory-saving settings (8-bit or 4-bit base weights, full bf16, block swap, CPU offload)
it can carry out, per family. The VRAM estimate (app/training/vram.py), Gate 2
(app/gates/config_rules.py) and the backend writers all read this one table, so an
estimate never counts a saving the chosen trainer would not make.

Read from the sources named in each backend module (app/data/backend_keys/*.json):
- native: diffusers' default attention processor, AttnProcessor2_0, is PyTorch's
  scaled_dot_product_attention (SDPA); it has none of the settings below;
- kohya sd-scripts: the generated config sets ``sdpa = true`` (kohya.py);
  ``fp8_base`` and ``full_bf16`` are train_network.py options every script inherits;
  ``blocks_to_swap`` exists only in flux_train_network.py (at most 35 blocks);
- SimpleTuner: diffusers' SDPA by default (``attention_mechanism`` diffusers);
  ``base_model_precision`` quantises the base model (fp8-quanto, nf4-bnb);
  ``enable_group_offload`` keeps the model in system memory between uses;
- ai-toolkit: diffusers' SDPA; ``model.quantize`` (qfloat8 by default) and
  ``model.layer_offloading``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.training.config import TrainingConfig

Attention = Literal["eager", "sdpa", "xformers"]
ALL_FAMILIES = ("sd15", "sd2", "sdxl", "flux")

BACKEND_ATTENTION: dict[str, Attention] = {
    "native": "sdpa",
    "kohya": "sdpa",
    "simpletuner": "sdpa",
    "ai-toolkit": "sdpa",
}

# feature → backend → families it works for
SUPPORT: dict[str, dict[str, tuple[str, ...]]] = {
    "fp8": {"kohya": ALL_FAMILIES, "simpletuner": ALL_FAMILIES, "ai-toolkit": ALL_FAMILIES},
    "nf4": {"simpletuner": ALL_FAMILIES},
    "full_bf16": {"kohya": ALL_FAMILIES},
    "blocks_to_swap": {"kohya": ("flux",)},
    "cpu_offload": {"simpletuner": ALL_FAMILIES, "ai-toolkit": ALL_FAMILIES},
}
FEATURE_WORDS = {
    "fp8": "8-bit base weights (fp8)",
    "nf4": "4-bit base weights (NF4, QLoRA)",
    "full_bf16": "full bf16 training",
    "blocks_to_swap": "block swap",
    "cpu_offload": "CPU offload",
}
FEATURE_FIELD = {
    "fp8": "quantize_base",
    "nf4": "quantize_base",
    "full_bf16": "full_bf16",
    "blocks_to_swap": "blocks_to_swap",
    "cpu_offload": "cpu_offload",
}


def backend_attention(backend: str | None) -> Attention:
    """The attention kernel ``backend`` runs (SDPA when unknown: every current trainer)."""
    return BACKEND_ATTENTION.get(backend or "", "sdpa")


def requested_features(config: TrainingConfig) -> list[str]:
    features = []
    if config.quantize_base != "none":
        features.append(config.quantize_base)
    if config.full_bf16:
        features.append("full_bf16")
    if config.blocks_to_swap:
        features.append("blocks_to_swap")
    if config.cpu_offload:
        features.append("cpu_offload")
    return features


def supports(backend: str, family: str, feature: str) -> bool:
    return family in SUPPORT[feature].get(backend, ())


def trainers_for(feature: str, family: str) -> list[str]:
    """The backends that can do ``feature`` for ``family``, in the table's order."""
    return [backend for backend, families in SUPPORT[feature].items() if family in families]


@dataclass(frozen=True)
class Unsupported:
    feature: str
    alternatives: tuple[str, ...]  # backends that can


def unsupported(config: TrainingConfig, backend: str, family: str) -> list[Unsupported]:
    """The memory settings ``config`` asks for that ``backend`` cannot carry out."""
    return [
        Unsupported(feature, tuple(trainers_for(feature, family)))
        for feature in requested_features(config)
        if not supports(backend, family, feature)
    ]
