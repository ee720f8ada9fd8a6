"""What the PyTorch of this Python is and which GPUs it sees. Prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
import warnings


def probe() -> dict:
    found: dict = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    try:
        import torch
    except Exception as exc:  # ImportError, or OSError from a wheel missing its libraries
        found["import_error"] = f"{type(exc).__name__}: {exc}"
        return found
    found["version"] = torch.__version__
    found["cuda"] = torch.version.cuda
    found["hip"] = getattr(torch.version, "hip", None)
    with warnings.catch_warnings(record=True) as caught:
        # torch warns (does not fail) when a GPU is newer than its compiled kernels.
        warnings.simplefilter("always")
        try:
            found["arch_list"] = torch.cuda.get_arch_list()
            found["available"] = bool(torch.cuda.is_available())
            found["device_count"] = torch.cuda.device_count() if found["available"] else 0
            devices = []
            for index in range(found["device_count"]):
                properties = torch.cuda.get_device_properties(index)
                devices.append(
                    {
                        "name": properties.name,
                        "capability": [properties.major, properties.minor],
                        "total_memory": properties.total_memory,
                    }
                )
            found["devices"] = devices
        except Exception as exc:
            found["cuda_error"] = f"{type(exc).__name__}: {exc}"
        if found.get("available") and "cuda_error" not in found:
            found["bf16_supported"] = bf16_supported(torch)
    found["warnings"] = [str(w.message) for w in caught]
    return found


def bf16_supported(torch) -> object:
    try:
        # Without emulation: whether the GPU computes bf16 itself (torch 2.4 and newer).
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch has no such argument
        return bool(torch.cuda.is_bf16_supported())
    except Exception:
        return None


if __name__ == "__main__":
    print(json.dumps(probe()), flush=True)
