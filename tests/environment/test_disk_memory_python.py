"""Disk against what the run writes, RAM against what loading needs, Python versions."""

from __future__ import annotations

from pathlib import Path

from app.disk_space import DiskSpace, disk_space
from app.environment.disk import disk_findings
from app.environment.memory import (
    RUNTIME_OVERHEAD,
    MemoryInfo,
    load_need,
    memory_findings,
    run_need,
    system_memory,
)
from app.environment.python_version import python_findings
from app.training.config import TrainingConfig
from app.training.outputs import estimate_outputs

GIB = 1024**3
ESTIMATE = estimate_outputs(TrainingConfig(), "sdxl", 40)


def test_disk_space_of_a_folder_not_created_yet(tmp_path: Path) -> None:
    space = disk_space(tmp_path / "project" / "runs" / "1")
    assert space.path == tmp_path
    assert 0 < space.free <= space.total


def test_short_disk_blocks_and_says_how_much_to_free() -> None:
    short = DiskSpace(Path("/data"), 100 * GIB, ESTIMATE.total_bytes - GIB)
    (finding,) = disk_findings(short, ESTIMATE)
    assert (finding.code, finding.severity) == ("disk.too_small", "block")
    assert "Free at least 1.0 GB" in finding.fix
    assert "4 resume states" in finding.message  # the parts are named


def test_tight_disk_warns_and_ample_disk_is_quiet() -> None:
    tight = DiskSpace(Path("/data"), 100 * GIB, ESTIMATE.total_bytes + GIB)
    assert [f.code for f in disk_findings(tight, ESTIMATE)] == ["disk.tight"]
    ample = DiskSpace(Path("/data"), 100 * GIB, ESTIMATE.total_bytes + 10 * GIB)
    assert disk_findings(ample, ESTIMATE) == []
    assert disk_findings(tight, None) == []


def test_memory_need_per_family_and_precision() -> None:
    sdxl = load_need("sdxl", "bf16")
    # 3.47 billion weights × 2 bytes, plus a second copy of the 2.57-billion UNet
    assert round(sdxl.weights / 1e9, 2) == 6.94
    assert round(sdxl.largest_copy / 1e9, 2) == 5.13
    assert load_need("sdxl", "no").weights == 2 * sdxl.weights


def test_small_ram_warns_busy_ram_warns_big_ram_is_quiet() -> None:
    kohya = {"backend": "kohya", "device": "cuda"}
    (small,) = memory_findings(MemoryInfo(16 * GIB, 15 * GIB), "flux", "bf16", **kohya)
    assert (small.code, small.severity) == ("memory.too_small", "warn")
    assert "Flux.1" in small.message
    (busy,) = memory_findings(MemoryInfo(64 * GIB, 8 * GIB), "sdxl", "bf16", **kohya)
    assert busy.code == "memory.in_use"
    assert memory_findings(MemoryInfo(64 * GIB, 60 * GIB), "sdxl", "bf16", **kohya) == []
    assert memory_findings(MemoryInfo(GIB, GIB), None, "bf16", **kohya) == []


def test_native_trainer_needs_room_for_its_second_copy_of_the_model() -> None:
    """saving.py keeps a bf16 copy of the base model for the whole of a GPU run to check
    every saved LoRA. A CPU run shares the trained model's float32 weights for that check
    (verify.py), so it holds one copy."""
    sdxl = load_need("sdxl", "bf16")
    other = run_need("sdxl", "bf16", "kohya", "cuda")
    gpu = run_need("sdxl", "bf16", "native", "cuda")
    assert other.total == sdxl.total  # other trainers hold no such copy
    assert gpu.verify_copy == sdxl.weights and gpu.verify_words == "bf16"
    # On a GPU the trained model has left RAM by the first save; the text encoders and
    # VAE may come back (bf16 and float32): 0.82 billion × 2 + 0.08 billion × 4 bytes.
    assert round(gpu.beside_verify / 1e9, 2) == 1.97
    assert gpu.total == gpu.verifying + RUNTIME_OVERHEAD > sdxl.total
    cpu = run_need("sd15", "bf16", "native", "cpu")
    weights32 = load_need("sd15", "no").weights
    assert cpu.verify_copy == 0  # the CPU trains in float32, whatever the config
    assert cpu.total == weights32 + load_need("sd15", "no").largest_copy + RUNTIME_OVERHEAD
    # SDXL in float32 (about 14 GB) fits a 32 GB machine; two copies (38 GB with loading)
    # did not.
    roomy = MemoryInfo(32 * GIB, 32 * GIB)
    assert memory_findings(roomy, "sdxl", "bf16", backend="native", device="cpu") == []

    # 14 GB is enough to load SDXL for kohya, not for the native trainer's whole run.
    ram = MemoryInfo(14 * GIB, 14 * GIB)
    assert memory_findings(ram, "sdxl", "bf16", backend="kohya", device="cuda") == []
    (short,) = memory_findings(ram, "sdxl", "bf16", backend="native", device="cuda")
    assert short.code == "memory.too_small"
    assert "second copy of the base model (bf16, 6.5 GB)" in short.message
    assert "to check every LoRA it saves" in short.message


def test_real_system_memory() -> None:
    info = system_memory()
    assert 0 < info.available <= info.total


def test_trainer_python_versions() -> None:
    assert python_findings("native", "3.11.7", "/usr/bin/python3") == []
    (old,) = python_findings("kohya", "3.9.18", "/clone/venv/bin/python")
    assert (old.code, old.severity) == ("python.too_old", "block")
    (new,) = python_findings("kohya", "3.13.1", "/clone/venv/bin/python")
    assert (new.code, new.severity) == ("python.untested", "warn")
    (simpletuner,) = python_findings("simpletuner", "3.11.7", "/usr/bin/python3")
    assert simpletuner.severity == "warn" and "3.1.x" in simpletuner.why
    assert python_findings("ai-toolkit", None, "/x") == []
