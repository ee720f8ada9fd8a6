"""Which model family a checkpoint is, read from its header alone: no weights are loaded
and nothing is ever unpickled.

- ``.safetensors``: the file starts with an 8-byte little-endian header length, then a
  JSON header naming every tensor with its shape (the safetensors format spec,
  https://github.com/huggingface/safetensors#format). Reading it takes well under a
  millisecond even for a 24 GB file.
- A diffusers folder: ``model_index.json`` names the pipeline class; the UNet's or
  transformer's ``config.json`` tells SD 1.x from SD 2.x and Flux dev from schnell.
- Pickled checkpoints (``.ckpt``, ``.pt``, ``.pth``, ``.bin``): refused, because
  unpickling runs whatever code the file carries.

Key patterns follow ComfyUI ``comfy/model_detection.py``, diffusers
``loaders/single_file_utils.py`` and sd-scripts ``library/flux_utils.py``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PICKLED_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin"})
# A real header is a few MB at most (a Flux checkpoint's is ~100 KB); anything larger
# is a corrupt or hostile file, and reading it would only waste memory.
MAX_HEADER_BYTES = 100 * 1024 * 1024
UNET_PREFIXES = ("model.diffusion_model.", "")

FAMILY_NAMES = {
    "sd15": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x",
    "sdxl": "Stable Diffusion XL",
    "sd3": "Stable Diffusion 3 / 3.5",
    "flux": "Flux.1",
}


class ModelFileError(ValueError):
    """The file or folder cannot be read as a model; the message says why in plain words."""


@dataclass
class Detection:
    family: str | None  # sd15 | sd2 | sdxl | sd3 | flux, None when not recognised
    layout: str  # "single-file" | "diffusers" | "pickled" | "lora"
    variant: str = ""  # "dev" / "schnell" for Flux, "refiner" for the SDXL refiner
    prediction_type: str | None = None  # only when the files say so
    evidence: list[str] = field(default_factory=list)  # what the decision rests on

    @property
    def family_title(self) -> str:
        return FAMILY_NAMES.get(self.family or "", "an unknown model family")


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a .safetensors file, validated enough to be trusted."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelFileError(f"{path.name} is too short to be a safetensors file.")
            (length,) = struct.unpack("<Q", prefix)
            if length == 0 or length > MAX_HEADER_BYTES or length > size - 8:
                raise ModelFileError(
                    f"{path.name} does not start with a valid safetensors header "
                    "(the length field is impossible). The file may be truncated or not "
                    "a safetensors file at all."
                )
            raw = handle.read(length)
    except OSError as exc:
        raise ModelFileError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(
            f"{path.name} has a damaged safetensors header (not valid JSON)."
        ) from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name} has a safetensors header that is not a mapping.")
    return header


def detect(path: Path) -> Detection:
    """The family of a checkpoint file or diffusers folder."""
    if path.is_dir():
        return _detect_diffusers(path)
    suffix = path.suffix.lower()
    if suffix in PICKLED_SUFFIXES:
        return Detection(None, "pickled", evidence=[f"{path.name} is a pickled checkpoint"])
    if suffix != ".safetensors":
        raise ModelFileError(
            f"{path.name} is neither a .safetensors checkpoint nor a diffusers folder."
        )
    return detect_from_header(read_safetensors_header(path))


def _shape(header: dict[str, Any], key: str) -> list[int] | None:
    entry = header.get(key)
    if isinstance(entry, dict) and isinstance(entry.get("shape"), list):
        return [int(value) for value in entry["shape"]]
    return None


def _find(header: dict[str, Any], suffix: str) -> tuple[str, list[int]] | None:
    for prefix in UNET_PREFIXES:
        shape = _shape(header, prefix + suffix)
        if shape is not None:
            return prefix + suffix, shape
    return None


def detect_from_header(header: dict[str, Any]) -> Detection:
    keys = [key for key in header if key != "__metadata__"]
    if keys and all(key.startswith(("lora_", "lycoris_")) for key in keys):
        return Detection(None, "lora", evidence=["every tensor is named lora_*: a LoRA file"])

    if any(
        key.startswith(tuple(f"{p}double_blocks.0.img_attn" for p in UNET_PREFIXES)) for key in keys
    ):
        dev = any(key.startswith(tuple(f"{p}guidance_in." for p in UNET_PREFIXES)) for key in keys)
        return Detection(
            "flux",
            "single-file",
            variant="dev" if dev else "schnell",
            evidence=[
                "double_blocks.*.img_attn tensors (Flux.1 transformer)",
                "guidance_in.* present (dev)" if dev else "no guidance_in.* (schnell)",
            ],
        )
    if any("single_transformer_blocks." in key for key in keys) and any(
        key.startswith(("transformer_blocks.", "model.transformer_blocks.")) for key in keys
    ):
        dev = any("guidance_embedder" in key for key in keys)
        return Detection(
            "flux",
            "single-file",
            variant="dev" if dev else "schnell",
            evidence=[
                "transformer_blocks.* and single_transformer_blocks.* (Flux, diffusers names)"
            ],
        )
    if any("joint_blocks." in key for key in keys):
        return Detection("sd3", "single-file", evidence=["joint_blocks.* tensors (SD3 MMDiT)"])

    label = _find(header, "label_emb.0.0.weight")
    if label is not None:
        key, shape = label
        variant = "refiner" if shape[-1] == 2560 else ""
        return Detection(
            "sdxl", "single-file", variant=variant, evidence=[f"{key} has shape {shape}"]
        )
    if any(key.startswith("add_embedding.") for key in keys):
        return Detection(
            "sdxl", "single-file", evidence=["add_embedding.* (SDXL UNet, diffusers names)"]
        )

    for suffix in (
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
    ):
        found = _find(header, suffix)
        if found is not None:
            key, shape = found
            context = shape[-1]
            family = {768: "sd15", 1024: "sd2"}.get(context)
            return Detection(
                family,
                "single-file",
                evidence=[f"{key} reads {context}-wide text features"],
            )
    return Detection(None, "single-file", evidence=["no tensor name loragate recognises"])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} cannot be read as JSON: {exc}") from None
    return value if isinstance(value, dict) else {}


def _detect_diffusers(folder: Path) -> Detection:
    index = _read_json(folder / "model_index.json")
    if not index:
        raise ModelFileError(
            f"{folder} has no model_index.json, so it is not a diffusers model folder."
        )
    pipeline = str(index.get("_class_name", ""))
    scheduler = _read_json(folder / "scheduler" / "scheduler_config.json")
    prediction = scheduler.get("prediction_type")
    evidence = [f"model_index.json names {pipeline or 'no pipeline'}"]
    if pipeline.startswith("StableDiffusionXL"):
        family: str | None = "sdxl"
    elif pipeline.startswith("StableDiffusion3"):
        family = "sd3"
    elif pipeline.startswith("Flux"):
        transformer = _read_json(folder / "transformer" / "config.json")
        dev = bool(transformer.get("guidance_embeds"))
        return Detection(
            "flux",
            "diffusers",
            variant="dev" if dev else "schnell",
            evidence=[*evidence, f"transformer guidance_embeds = {dev}"],
        )
    elif pipeline.startswith("StableDiffusion"):
        unet = _read_json(folder / "unet" / "config.json")
        context = unet.get("cross_attention_dim")
        family = {768: "sd15", 1024: "sd2"}.get(context) if isinstance(context, int) else None
        evidence.append(f"unet cross_attention_dim = {context}")
    else:
        family = None
    return Detection(
        family,
        "diffusers",
        prediction_type=prediction if isinstance(prediction, str) else None,
        evidence=evidence,
    )
