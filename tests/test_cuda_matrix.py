"""The compatibility rules Gate 3 applies, and the tables it shares with
app/docs/cuda-pytorch-matrix.md."""

from __future__ import annotations

import re

import pytest

from app import cuda_matrix
from app.resources import RESOURCES_DIR
from tests.environment.fakes import CU126_ARCHES, CU128_ARCHES


@pytest.mark.parametrize(
    ("capability", "arch_list", "runs"),
    [
        ((12, 0), CU126_ARCHES, False),  # RTX 50 series on a cu126 build: kohya_ss#3096
        ((12, 0), CU128_ARCHES, True),
        ((8, 9), ("sm_80", "sm_86"), True),  # sm_86 machine code runs on 8.9 (same major)
        ((9, 0), ("sm_80", "sm_86"), False),  # machine code never crosses a major version
        ((12, 0), ("sm_80", "compute_90"), True),  # PTX is compiled for newer GPUs
        ((8, 6), ("compute_90",), False),  # ...but not for older ones
        ((9, 0), ("sm_90a",), True),  # arch-specific code: exactly that GPU
        ((10, 0), ("sm_90a",), False),
        ((6, 1), CU128_ARCHES, False),  # Pascal left the cu128 builds
    ],
)
def test_arch_supported(
    capability: tuple[int, int], arch_list: tuple[str, ...], runs: bool
) -> None:
    assert cuda_matrix.arch_supported(capability, list(arch_list)) is runs


def test_versions_from_nvml_and_text() -> None:
    assert cuda_matrix.from_nvml_cuda(12040) == (12, 4)
    assert cuda_matrix.from_nvml_cuda(13000) == (13, 0)
    assert cuda_matrix.parse_version("12.8") == (12, 8)
    assert cuda_matrix.parse_version(None) is None
    assert cuda_matrix.best_wheel_index((12, 9)) == "cu128"
    assert cuda_matrix.best_wheel_index((12, 4)) is None


def test_capability_words_name_the_generation() -> None:
    assert "Blackwell (consumer" in cuda_matrix.capability_words((12, 0))
    assert "sm_120" in cuda_matrix.capability_words((12, 0))


def test_driver_table_matches_the_document() -> None:
    text = (RESOURCES_DIR / "cuda-pytorch-matrix.md").read_text("utf-8")
    rows = re.findall(r"^\| (\d+)\.(\d+) \| ≥ ([\d.]+) \| (?:≥ ([\d.]+)|[^|]+) \|$", text, re.M)
    documented = {(int(a), int(b)): (linux, windows or None) for a, b, linux, windows in rows}
    assert documented == cuda_matrix.MINIMUM_DRIVER
