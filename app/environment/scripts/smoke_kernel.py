"""The kernel smoke test: allocate on the device, multiply two matrices in the
training precision, run a backward pass, and check the answer against float32.

Usage: smoke_kernel.py DEVICE PRECISION [SIZE]
  DEVICE: cpu | cuda:N; PRECISION: no | fp16 | bf16
Prints one JSON line; exits 1 when the test fails (a crash gives no JSON at all).
"""

from __future__ import annotations

import json
import sys
import time

# Relative error allowed against the float32 product: bf16 keeps 8 bits of mantissa,
# fp16 11; a broken kernel is off by orders of magnitude, not by these.
TOLERANCE = {"no": 1e-4, "fp16": 1e-2, "bf16": 5e-2}


def run(device: str, precision: str, size: int) -> dict:
    import torch

    dtype = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    result: dict = {"device": device, "precision": precision, "size": size}
    on_gpu = device.startswith("cuda")
    if on_gpu:
        result["device_name"] = torch.cuda.get_device_name(torch.device(device))
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    reference = a @ b  # float32 on the same device
    started = time.perf_counter()
    left = a.to(dtype).requires_grad_(True)
    product = left @ b.to(dtype)
    product.float().square().mean().backward()
    if on_gpu:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    error = float((product.detach().float() - reference).abs().max() / reference.abs().max())
    result["seconds"] = seconds
    result["relative_error"] = error
    result["gradient_finite"] = bool(torch.isfinite(left.grad).all())
    result["ok"] = error <= TOLERANCE[precision] and result["gradient_finite"]
    if not result["ok"]:
        result["error"] = (
            f"wrong result: relative error {error:.3g} (allowed {TOLERANCE[precision]})"
            if error > TOLERANCE[precision]
            else "the backward pass produced non-finite gradients"
        )
    if on_gpu:
        free, total = torch.cuda.mem_get_info(torch.device(device))
        result["free_memory"], result["total_memory"] = free, total
    return result


def main() -> int:
    device, precision = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 512
    try:
        result = run(device, precision, size)
    except Exception as exc:
        result = {"ok": False, "device": device, "precision": precision}
        result["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
