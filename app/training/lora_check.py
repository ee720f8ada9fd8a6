"""The load check every run's final LoRA passes before the run may say "finished",
whatever the backend said: the file is there, is a complete .safetensors file (its
header parses and every tensor lies inside the file) and holds LoRA weights. The native
trainer checks more (diffusers loads it and it changes the output); this is what can be
checked of any backend's file without loading a model."""

from __future__ import annotations

import json
import struct
from pathlib import Path

MAX_HEADER = 100 * 1024 * 1024


def lora_problem(path: Path) -> str | None:
    """None when the file passes; otherwise what is wrong, in plain words."""
    if not path.is_file():
        return f"The trainer said it finished, but its LoRA {path.name} is not there."
    size = path.stat().st_size
    try:
        with path.open("rb") as file:
            prefix = file.read(8)
            if len(prefix) < 8:
                raise ValueError("it is shorter than a header")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(MAX_HEADER, size - 8):
                raise ValueError("its header is cut off")
            header = json.loads(file.read(length))
    except (OSError, ValueError) as exc:
        return f"The LoRA {path.name} cannot be read as a .safetensors file ({exc})."
    tensors = {key: value for key, value in header.items() if key != "__metadata__"}
    data_size = size - 8 - length
    for key, value in tensors.items():
        end = value.get("data_offsets", [0, 0])[1] if isinstance(value, dict) else None
        if not isinstance(end, int) or end > data_size:
            return f"The LoRA {path.name} is incomplete: the weights of {key} are cut off."
    if not any("lora" in key.lower() for key in tensors):
        return f"The file {path.name} holds no LoRA weights ({len(tensors)} other tensors)."
    return None
