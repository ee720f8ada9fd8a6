"""PyTorch: the real probe here (a CPU build, a Python without torch, a Python that
does not exist), and the GPU rules with a fake torch.cuda probe result and a fake
NVML report (see fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from app.environment.torch_info import probe_torch, read_install, recommended_index, torch_findings
from app.gpu_probe import GpuReport, probe_gpus
from tests.environment.fakes import CU126_ARCHES, FakeNvml, cuda_probe, rtx

NO_GPU = GpuReport("library_missing", error="NVML Shared Library Not Found")


def _codes(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [finding.code for finding in findings]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_real_probe_of_this_cpu_build() -> None:
    probe = probe_torch(sys.executable)
    assert probe.installed
    assert probe.version == torch.__version__
    assert probe.cuda is None
    assert probe.available is False
    assert probe.python_version == ".".join(map(str, sys.version_info[:3]))
    # A CPU build on a machine without a GPU, for a CUDA config: the GPU section blocks
    # and explains; this one warns that the build would fail on a GPU too.
    (finding,) = torch_findings(probe, NO_GPU, wants_gpu=True)
    assert (finding.code, finding.severity) == ("torch.cpu_build", "warn")
    assert "CPU-only build" in finding.message
    assert f"{sys.executable} -m pip install --force-reinstall torch" in finding.fix
    assert "download.pytorch.org/whl/cu" in finding.fix
    # A CPU config: nothing to say.
    assert torch_findings(probe, NO_GPU, wants_gpu=False) == []


def test_read_install_matches_the_imported_torch_without_importing() -> None:
    install = read_install(sys.executable)
    assert install.version == torch.__version__
    assert install.cuda == torch.version.cuda
    assert install.identity == f"{torch.__version__} · CUDA {torch.version.cuda or 'none'}"


def test_read_install_of_another_venv_reads_its_version_file(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.10" / "site-packages" / "torch"
    site.mkdir(parents=True)
    (site / "version.py").write_text(
        "from typing import Optional\n__version__ = '2.7.1+cu128'\n"
        "cuda: Optional[str] = '12.8'\nhip: Optional[str] = None\n"
    )
    install = read_install(str(tmp_path / "venv" / "bin" / "python"))
    assert (install.version, install.cuda) == ("2.7.1+cu128", "12.8")
    assert read_install(str(tmp_path / "nothing" / "bin" / "python")).identity == "not installed"


def test_a_python_without_torch_blocks_with_the_install_command(bare_venv: Path) -> None:
    probe = probe_torch(str(bare_venv))
    assert not probe.installed
    assert "No module named 'torch'" in (probe.import_error or "")
    (finding,) = torch_findings(probe, NO_GPU, wants_gpu=False)
    assert finding.code == "torch.missing"
    assert f"`{bare_venv} -m pip install" in finding.fix


def test_a_python_that_does_not_exist_is_a_plain_failure(tmp_path: Path) -> None:
    probe = probe_torch(str(tmp_path / "no-python"))
    assert "could not be started" in (probe.failure or "")
    assert _codes(torch_findings(probe, NO_GPU, wants_gpu=True)) == ["torch.probe_failed"]


def test_fake_cuda_rtx_5090_with_a_cu126_build_has_no_kernels() -> None:
    card = rtx("NVIDIA GeForce RTX 5090", (12, 0), total=32 * 1024**3)
    gpus = probe_gpus(FakeNvml(gpus=[card], cuda=12080))
    probe = cuda_probe(card, version="2.6.0+cu126", cuda="12.6", arch_list=CU126_ARCHES)
    (finding,) = torch_findings(probe, gpus, wants_gpu=True)
    assert finding.code == "torch.arch_missing"
    assert finding.severity == "block"
    assert "sm_120" in finding.message and "Blackwell" in finding.message
    assert "kohya_ss#3096" in finding.why
    assert "whl/cu128" in finding.fix  # the build that has sm_120


def test_fake_cuda_driver_of_an_older_major_cuda_blocks() -> None:
    card = rtx()
    gpus = probe_gpus(FakeNvml(gpus=[card], driver="520.61.05", cuda=11080))
    (finding,) = torch_findings(cuda_probe(card), gpus, wants_gpu=True)
    assert finding.code == "torch.driver_too_old"
    assert "CUDA up to 11.8" in finding.message
    assert "570.26 or newer on Linux" in finding.fix


def test_fake_cuda_driver_of_an_older_minor_cuda_warns() -> None:
    card = rtx()
    gpus = probe_gpus(FakeNvml(gpus=[card], driver="550.54.14", cuda=12040))
    (finding,) = torch_findings(cuda_probe(card), gpus, wants_gpu=True)
    assert (finding.code, finding.severity) == ("torch.driver_older_minor", "warn")


def test_fake_cuda_cpu_build_beside_a_gpu_names_the_right_wheel() -> None:
    gpus = probe_gpus(FakeNvml(gpus=[rtx()], cuda=12080))
    cpu_build = cuda_probe(version="2.7.1+cpu", cuda=None, arch_list=(), available=False)
    (finding,) = torch_findings(cpu_build, gpus, wants_gpu=True)
    assert finding.code == "torch.cpu_build"
    assert "whl/cu128" in finding.fix
    # A GTX 1080 (Pascal) is not in cu128 builds: the advice falls back to cu126.
    pascal = probe_gpus(FakeNvml(gpus=[rtx("NVIDIA GeForce GTX 1080", (6, 1))], cuda=12080))
    assert "whl/cu126" in torch_findings(cpu_build, pascal, wants_gpu=True)[0].fix
    # Nobody asked for the GPU: a CPU build is fine.
    assert torch_findings(cpu_build, gpus, wants_gpu=False) == []


def test_fake_cuda_build_that_cannot_open_the_gpu_mentions_cuda_visible_devices() -> None:
    card = rtx()
    gpus = probe_gpus(FakeNvml(gpus=[card]))
    probe = cuda_probe(card, available=False, cuda_visible_devices="")
    codes = _codes(torch_findings(probe, gpus, wants_gpu=True))
    assert codes == ["torch.cuda_unavailable"]
    assert (
        "CUDA_VISIBLE_DEVICES is set to “”"
        in torch_findings(probe, gpus, wants_gpu=True)[0].message
    )


def test_fake_cuda_rocm_build_is_not_supported() -> None:
    probe = cuda_probe(cuda=None, hip="6.2", available=True)
    assert _codes(torch_findings(probe, NO_GPU, wants_gpu=True)) == ["torch.rocm_build"]


def test_fake_cuda_matching_setup_has_nothing_to_say() -> None:
    card = rtx("NVIDIA GeForce RTX 5090", (12, 0))
    gpus = probe_gpus(FakeNvml(gpus=[card], cuda=12080))
    assert torch_findings(cuda_probe(card), gpus, wants_gpu=True) == []


def test_recommended_index_follows_driver_and_card() -> None:
    assert recommended_index((13, 0), (8, 9)) == "cu130"
    assert recommended_index((12, 8), (8, 9)) == "cu128"
    assert recommended_index((12, 6), (12, 0)) is None  # a 5090 needs a newer driver
    assert recommended_index((13, 0), (7, 0)) == "cu126"  # Volta: not in cu128+
    assert recommended_index(None, None) == "cu130"
