"""LoRA files written the way kohya sd-scripts writes them (FIELD-FACTS "LoRA files"),
not by loragate's trainer: ``lora_unet_*`` / ``lora_te_*`` keys with ``lora_down``,
``lora_up`` and ``alpha``, over every attention projection of the UNet and the text
encoder and the text encoder's MLP, as sd-scripts' LoRA module targets them."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
RANK = 4


def write_kohya_lora(
    pipeline_dir: Path, target: Path, *, scale: float = 0.3, seed: int = 0, zero_up: bool = False
) -> Path:
    """A rank-4 LoRA for the SD 1.5-shaped pipeline at ``pipeline_dir``. ``zero_up``: an
    untrained LoRA (lora_up all zero, as every trainer initialises it)."""
    generator = torch.Generator().manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(pipeline_dir / "unet")
    text = CLIPTextModel.from_pretrained(pipeline_dir / "text_encoder")
    tensors: dict[str, torch.Tensor] = {}
    for prefix, model, targets in (
        ("lora_unet_", unet, UNET_TARGETS),
        ("lora_te_text_model_", text, TEXT_TARGETS),
    ):
        for name, module in model.named_modules():
            if not isinstance(module, torch.nn.Linear) or not name.endswith(targets):
                continue
            if prefix == "lora_unet_" and "attentions" not in name:
                continue
            key = prefix + name.replace(".", "_")
            out_features, in_features = module.weight.shape
            down = torch.randn(RANK, in_features, generator=generator) / in_features**0.5
            up = torch.randn(out_features, RANK, generator=generator) * scale
            tensors[f"{key}.lora_down.weight"] = down
            tensors[f"{key}.lora_up.weight"] = torch.zeros_like(up) if zero_up else up
            tensors[f"{key}.alpha"] = torch.tensor(float(RANK) / 2)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, target, metadata={"ss_network_dim": str(RANK), "ss_network_alpha": "2"})
    return target
