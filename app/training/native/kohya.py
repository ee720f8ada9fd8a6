"""The LoRA file other tools load: kohya sd-scripts' format, which ComfyUI,
AUTOMATIC1111/Forge and diffusers all read (FIELD-FACTS "LoRA files").

- Keys ``lora_unet_<module path with _>.lora_down.weight`` / ``.lora_up.weight`` /
  ``.alpha`` (the trained alpha; the tool scales by alpha / rank).
- SDXL UNet modules under the sgm block names sd-scripts writes
  (``input_blocks.4.1...``), which A1111 needs and ComfyUI and diffusers also map.
- Text encoders as ``lora_te_`` (SD 1.x) or ``lora_te1_`` / ``lora_te2_`` (SDXL) with
  ``text_model_encoder_layers_N_...`` names: transformers 5 dropped the ``text_model``
  level from CLIPTextModel, and ComfyUI's key map expects it.
- Only ``lora_*`` keys: diffusers takes a file for kohya format only when all keys are.
"""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path

import torch
from safetensors.torch import save

from app.fsutil import atomic_write_bytes
from app.training.native.lora import LoraModule

TEXT_PREFIXES = {
    "sd15": {"text_encoder": "lora_te_"},
    "sdxl": {"text_encoder": "lora_te1_", "text_encoder_2": "lora_te2_"},
}


def sgm_path(path: str, layers_per_block: int) -> str:
    """A diffusers UNet attention path under sgm block names (the inverse of
    diffusers' ``_maybe_map_sgm_blocks_to_diffusers``)."""
    per_block = layers_per_block + 1  # down: resnets + downsampler; up: resnets + 1
    if match := re.match(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)", path):
        block, layer, rest = match.groups()
        return f"input_blocks.{1 + int(block) * per_block + int(layer)}.1.{rest}"
    if match := re.match(r"mid_block\.attentions\.0\.(.+)", path):
        return f"middle_block.1.{match.group(1)}"
    if match := re.match(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)", path):
        block, layer, rest = match.groups()
        return f"output_blocks.{int(block) * per_block + int(layer)}.1.{rest}"
    raise ValueError(f"no sgm name for UNet module {path}")


def kohya_name(lora: LoraModule, family: str, layers_per_block: int) -> str:
    if lora.component == "unet":
        path = sgm_path(lora.path, layers_per_block) if family == "sdxl" else lora.path
        return "lora_unet_" + path.replace(".", "_")
    path = lora.path if lora.path.startswith("text_model.") else f"text_model.{lora.path}"
    return TEXT_PREFIXES[family][lora.component] + path.replace(".", "_")


def kohya_tensors(
    modules: list[LoraModule], family: str, layers_per_block: int
) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for lora in modules:
        name = kohya_name(lora, family, layers_per_block)
        tensors[f"{name}.lora_down.weight"] = lora.down.detach().float().cpu().contiguous()
        tensors[f"{name}.lora_up.weight"] = lora.up.detach().float().cpu().contiguous()
        tensors[f"{name}.alpha"] = torch.tensor(lora.alpha, dtype=torch.float32)
    return tensors


def tensor_hash(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensor data (the file without its header), as the SAI model spec's
    ``hash_sha256`` asks: the same weights hash the same whatever the metadata."""
    data = save(tensors)
    (header_length,) = struct.unpack("<Q", data[:8])
    return "0x" + hashlib.sha256(data[8 + header_length :]).hexdigest()


def save_kohya(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    atomic_write_bytes(path, save(tensors, metadata=metadata))
    return path
