"""NVML: the real "no NVML" paths on this machine, and the GPU paths with a fake NVML
(the pynvml boundary only; see fakes.py)."""

from __future__ import annotations

import ctypes.util
import sys

import pynvml
import pytest

from app import gpu_probe as gpu
from tests.environment.fakes import GIB, FakeNvml, own_pid, rtx

no_driver_here = ctypes.util.find_library("nvidia-ml") is None


@pytest.mark.skipif(not no_driver_here, reason="this machine has an NVIDIA driver")
def test_real_nvml_without_a_driver_says_library_missing() -> None:
    report = gpu.probe_gpus()
    assert report.status == "library_missing"
    assert "Not Found" in (report.error or "")
    assert report.devices == ()
    assert report.identity == "no usable NVML (library_missing)"


def test_missing_nvml_package_is_its_own_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # Python's own import machinery: a None entry makes `import pynvml` fail.
    monkeypatch.setitem(sys.modules, "pynvml", None)
    report = gpu.probe_gpus()
    assert report.status == "package_missing"


def test_fake_nvml_lists_gpus_with_memory_capability_and_other_processes() -> None:
    nvml = FakeNvml(
        gpus=[
            rtx(processes=[(4242, 3 * GIB), (own_pid(), GIB), (777, None)]),
            rtx("NVIDIA RTX A6000", (8, 6), total=48 * GIB, free=47 * GIB),
        ],
        driver="550.54.14",
        cuda=12040,
    )
    report = gpu.probe_gpus(nvml)
    assert report.status == "ok"
    assert report.driver_version == "550.54.14"
    assert report.driver_cuda == (12, 4)
    first, second = report.devices
    assert first.name == "NVIDIA GeForce RTX 4090"  # bytes from older pynvml decoded
    assert first.capability == (8, 9)
    assert first.total_bytes == 24 * GIB
    # loragate's own process is not "another program"; unknown sizes stay unknown
    assert [(p.pid, p.used_bytes) for p in first.other_processes] == [(4242, 3 * GIB), (777, None)]
    assert first.others_bytes == 3 * GIB
    assert second.other_processes == ()
    assert report.identity == "NVIDIA GeForce RTX 4090, NVIDIA RTX A6000 · driver 550.54.14"
    assert nvml.shutdowns == 1


def test_fake_nvml_driver_not_loaded_is_a_driver_error_in_nvmls_words() -> None:
    report = gpu.probe_gpus(FakeNvml(fail_init=pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    assert report.status == "driver_error"
    assert report.error == "Driver Not Loaded"


def test_fake_nvml_failing_mid_query_still_shuts_down() -> None:
    nvml = FakeNvml(gpus=[rtx()], fail_count=pynvml.NVML_ERROR_GPU_IS_LOST)
    report = gpu.probe_gpus(nvml)
    assert report.status == "driver_error"
    assert "GPU is lost" in (report.error or "")
    assert nvml.shutdowns == 1


def test_fake_nvml_library_not_found_class_means_library_missing() -> None:
    report = gpu.probe_gpus(FakeNvml(fail_init=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    assert report.status == "library_missing"


def test_fake_nvml_with_a_driver_but_no_gpu() -> None:
    report = gpu.probe_gpus(FakeNvml(gpus=[]))
    assert report.status == "no_gpu"
    assert report.driver_version == "570.86.10"


def test_cached_probe_reuses_a_recent_probe_and_renews_an_old_one() -> None:
    fake = gpu.probe_gpus(FakeNvml(gpus=[rtx()]))
    gpu.remember(fake)
    try:
        assert gpu.cached_probe() is fake
        renewed = gpu.cached_probe(max_age=-1)  # older than allowed: NVML is asked again
        assert renewed is not fake
        assert renewed.probed_at > fake.probed_at
        assert gpu.cached_probe() is renewed
    finally:
        gpu.remember(gpu.probe_gpus())
