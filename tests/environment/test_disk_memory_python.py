"""Disk against what the run writes, RAM against what loading needs, Python versions."""

from __future__ import annotations

from pathlib import Path

from app.environment.disk import DiskSpace, disk_findings, disk_space
from app.environment.memory import MemoryInfo, load_need, memory_findings, system_memory
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
    (small,) = memory_findings(MemoryInfo(16 * GIB, 15 * GIB), "flux", "bf16")
    assert (small.code, small.severity) == ("memory.too_small", "warn")
    assert "Flux.1" in small.message
    (busy,) = memory_findings(MemoryInfo(64 * GIB, 8 * GIB), "sdxl", "bf16")
    assert busy.code == "memory.in_use"
    assert memory_findings(MemoryInfo(64 * GIB, 60 * GIB), "sdxl", "bf16") == []
    assert memory_findings(MemoryInfo(GIB, GIB), None, "bf16") == []


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
