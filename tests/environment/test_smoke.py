"""The kernel smoke test, for real: the CPU path runs here, and the timeout and crash
handling is exercised with real child processes that hang, crash or are killed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import torch

from app.environment.child import run_child
from app.environment.smoke import explain, interpret, run_smoke_test, smoke_findings


@pytest.mark.parametrize("precision", ["bf16", "no"])
def test_cpu_smoke_test_passes_and_matches_float32(precision: str) -> None:
    result = run_smoke_test(sys.executable, "cpu", precision)
    assert result.ok, result.detail
    assert result.relative_error is not None and result.relative_error < 0.05
    assert "matched float32" in result.message
    assert smoke_findings(result) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_cuda_smoke_test_on_a_cpu_build_says_so_in_plain_words() -> None:
    result = run_smoke_test(sys.executable, "cuda:0", "bf16")
    assert not result.ok
    assert "CPU-only build" in result.message
    assert "Torch not compiled with CUDA enabled" in result.detail
    (finding,) = smoke_findings(result)
    assert finding.code == "smoke.failed" and finding.severity == "block"
    assert "Install a CUDA build" in finding.fix


def test_a_hanging_test_is_stopped_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    hang = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    outcome = run_child([sys.executable, "-c", hang], timeout=3)
    assert outcome.timed_out and time.monotonic() - started < 30
    result = interpret("cuda:0", "bf16", outcome)
    assert not result.ok
    assert "did not finish within 3 seconds" in result.message
    assert "hung GPU driver" in result.message
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the whole process group must be killed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("signal_name", "words"),
    [("SIGSEGV", "crashed inside native code"), ("SIGKILL", "when memory ran out")],
)
def test_a_crashing_test_is_reported_with_its_signal(signal_name: str, words: str) -> None:
    crash = f"import os, signal; os.kill(os.getpid(), signal.{signal_name})"
    result = interpret("cuda:0", "fp16", run_child([sys.executable, "-c", crash], timeout=30))
    assert not result.ok
    assert signal_name in result.message and words in result.message


def test_an_error_without_an_answer_is_translated_from_its_last_words() -> None:
    dies = (
        "import sys; sys.stderr.write('RuntimeError: CUDA error: no kernel image is available "
        "for execution on the device\\n'); sys.exit(1)"
    )
    result = interpret("cuda:0", "bf16", run_child([sys.executable, "-c", dies], timeout=30))
    assert "exit status 1" in result.message
    assert "no GPU code for this card's architecture" in result.message
    assert "made for the card" in result.fix


def test_a_python_that_cannot_start_is_plain(tmp_path: Path) -> None:
    result = run_smoke_test(str(tmp_path / "missing-python"), "cpu", "no")
    assert not result.ok
    assert "could not be started" in result.message


@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        ("CUDA error: out of memory", "other programs fill it"),
        ("CUDA error: all CUDA-capable devices are busy or unavailable", "reserved by another"),
        (
            "The NVIDIA driver on your system is too old (CUDA driver version is insufficient for CUDA runtime version)",
            "driver is older",
        ),
        (
            "RuntimeError: \"addmm_impl_cpu_\" not implemented for 'Half'",
            "cannot compute in the chosen precision",
        ),
        ("wrong result: relative error 3.1 (allowed 0.05)", "wrong answer"),
        ("CUDA error: an illegal memory access was encountered", "driver failed"),
    ],
)
def test_known_errors_are_explained(error: str, meaning: str) -> None:
    explanation = explain(error)
    assert explanation is not None and meaning in explanation.meaning


def test_unknown_errors_keep_the_raw_text() -> None:
    assert explain("ValueError: something new") is None
