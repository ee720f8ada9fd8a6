"""Gate state: not run, pass, stale (with the reason) and the single training decision.

A gate module is looked up in ``GATE_MODULES``; here a real module object stands in
for the dataset gate whose fingerprint reads a real file, so the staleness logic runs
end to end without depending on later gates' code."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from app.findings import Finding, digest, make_result
from app.gate_records import record_result
from app.gates import state
from app.gates.state import gate_states, training_allowed
from app.models import Project
from app.workspace import Workspace


def _install_gate(monkeypatch: pytest.MonkeyPatch, name: str, watched: Path) -> None:
    module = types.ModuleType(f"app.gates.{name}")

    def fingerprint(ctx: object) -> dict[str, str]:
        return {"images": digest(watched.read_text()), "intent": "fixed"}

    module.fingerprint = fingerprint  # type: ignore[attr-defined]
    monkeypatch.setitem(state.GATE_MODULES, name, lambda: module)


def test_states_from_not_run_to_pass_to_stale(
    workspace: Workspace, project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx = workspace.context(project)
    watched = tmp_path / "images.txt"
    watched.write_text("a.png")
    _install_gate(monkeypatch, "dataset", watched)

    assert [s.status for s in gate_states(ctx)] == ["not_run"] * 4
    parts = {"images": digest("a.png"), "intent": "fixed"}
    record_result(ctx, make_result("dataset", [], parts))
    assert gate_states(ctx)[0].status == "pass"

    watched.write_text("a.png b.png")
    state = gate_states(ctx)[0]
    assert state.status == "stale"
    assert state.stale_reasons == ["the images changed"]
    permission = training_allowed(ctx)
    assert not permission.allowed
    assert "Gate 1 · Dataset is out of date (the images changed)" in permission.reasons[0]
    assert (
        "Gate 1 · Dataset passes: 0 blocking, 0 warnings." in (ctx.dir / "journal.md").read_text()
    )


def test_block_verdict_blocks_training(
    workspace: Workspace, project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx = workspace.context(project)
    watched = tmp_path / "images.txt"
    watched.write_text("x")
    _install_gate(monkeypatch, "dataset", watched)
    finding = Finding(
        code="image.too_small",
        severity="block",
        subject="a.png",
        message="Too small.",
        why="The model trains at 1024 px.",
        fix="Use a larger original.",
        source="training-concepts#what-a-diffusion-model-does",
    )
    record_result(
        ctx, make_result("dataset", [finding], {"images": digest("x"), "intent": "fixed"})
    )
    assert gate_states(ctx)[0].status == "block"
    assert any("blocks" in reason for reason in training_allowed(ctx).reasons)


def test_training_needs_all_four_gates(workspace: Workspace, project: Project) -> None:
    permission = training_allowed(workspace.context(project))
    assert not permission.allowed
    assert len(permission.reasons) == 4


def test_finding_without_explanation_is_rejected() -> None:
    with pytest.raises(ValueError, match="explain itself"):
        Finding(code="x", severity="warn", subject="s", message="m", why=" ", fix="f", source="a#b")
