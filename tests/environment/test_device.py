"""Where training runs: the real CPU-only machine, and GPUs through a fake NVML and a
fake torch.cuda probe result (see fakes.py)."""

from __future__ import annotations

import sys

import pynvml
import pytest
import torch

from app.environment.device import RunSize, device_findings
from app.environment.torch_info import probe_torch
from app.gpu_probe import probe_gpus
from app.training.config import TrainingConfig
from tests.environment.fakes import GIB, FakeNvml, cuda_probe, rtx

SDXL_RUN = RunSize("sdxl", 1500, 1)


@pytest.fixture(scope="module")
def real_torch():  # type: ignore[no-untyped-def]
    return probe_torch(sys.executable)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_cuda_config_on_this_cpu_machine_blocks_with_the_cpu_time(real_torch) -> None:  # type: ignore[no-untyped-def]
    (finding,) = device_findings(TrainingConfig(), probe_gpus(), real_torch, SDXL_RUN)
    assert finding.severity == "block"
    assert finding.code in ("gpu.no_driver", "gpu.nvml_package_missing")
    assert "PyTorch sees no GPU either" in finding.message
    # 1500 steps × 182 s ≈ 76 hours → "3 days"
    assert "the 1,500 steps of this config would take about 3 days" in finding.message
    assert "set the config's device to cpu" in finding.fix


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_cpu_config_on_this_machine_passes_with_information(real_torch) -> None:  # type: ignore[no-untyped-def]
    findings = device_findings(TrainingConfig(device="cpu"), probe_gpus(), real_torch, SDXL_RUN)
    assert {f.severity for f in findings} == {"info"}
    assert "trains on the CPU" in findings[0].message
    assert "That is fine: the config trains on the CPU." in findings[1].message


def test_cpu_time_without_a_family_gives_the_range(real_torch) -> None:  # type: ignore[no-untyped-def]
    (finding,) = device_findings(
        TrainingConfig(device="cpu"),
        probe_gpus(FakeNvml(gpus=[rtx()])),
        real_torch,
        RunSize(None, None, 1),
    )
    assert "from about 22 s (SD 1.5) to about 33 minutes (Flux.1)" in finding.message


def test_fake_nvml_error_while_torch_sees_the_gpu_only_warns() -> None:
    card = rtx()
    gpus = probe_gpus(FakeNvml(fail_init=pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    (finding,) = device_findings(TrainingConfig(), gpus, cuda_probe(card), SDXL_RUN)
    assert (finding.code, finding.severity) == ("gpu.nvml_error", "warn")
    assert "NVML said: Driver Not Loaded" in finding.message


def test_fake_nvml_with_no_gpu_and_torch_seeing_none_blocks() -> None:
    gpus = probe_gpus(FakeNvml(gpus=[]))
    (finding,) = device_findings(TrainingConfig(), gpus, cuda_probe(available=False), SDXL_RUN)
    assert finding.code == "gpu.no_gpu"
    assert "installed but reports no GPU" in finding.message


def test_fake_nvml_more_gpus_asked_than_present() -> None:
    card = rtx()
    gpus = probe_gpus(FakeNvml(gpus=[card]))
    findings = device_findings(TrainingConfig(num_gpus=2), gpus, cuda_probe(card), SDXL_RUN)
    assert [f.code for f in findings] == ["gpu.too_few"]
    assert "Set num_gpus to 1" in findings[0].fix


def test_fake_nvml_other_processes_and_bf16_on_turing() -> None:
    t4 = rtx("Tesla T4", (7, 5), total=16 * GIB, free=10 * GIB, processes=[(31337, 6 * GIB)])
    gpus = probe_gpus(FakeNvml(gpus=[t4]))
    findings = device_findings(
        TrainingConfig(mixed_precision="bf16"), gpus, cuda_probe(t4), SDXL_RUN
    )
    assert [f.code for f in findings] == ["gpu.memory_in_use", "gpu.bf16_unsupported"]
    assert "process 31337 (6.0 GB)" in findings[0].message
    assert "10.0 GB of 16.0 GB is free" in findings[0].message
    assert "mixed_precision to fp16" in findings[1].fix
    fp16 = device_findings(TrainingConfig(mixed_precision="fp16"), gpus, cuda_probe(t4), SDXL_RUN)
    assert [f.code for f in fp16] == ["gpu.memory_in_use"]
