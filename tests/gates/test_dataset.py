"""Gate 1 as a gate module: fingerprint parts, evaluate, and what blocks training."""

from __future__ import annotations

from app.dataset.inventory import dataset_dir
from app.gate_records import record_result
from app.gates import dataset as gate
from app.gates.state import gate_state, training_allowed
from app.projects import create_project
from app.workspace import Workspace
from tests.captions.approve import approve_all
from tests.dataset import builders as b


def test_gate_one_blocks_then_passes_on_the_inputs_as_they_are(
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    project, _ = create_project(
        workspace,
        make_intent(
            training_type="character",
            model_family="sd15",
            trigger_word="zkmira",
            caption_format="booru",
            must_vary="",
        ),
    )
    ctx = workspace.context(project)
    root = dataset_dir(ctx) / "10_mira"
    for seed in range(8):
        b.save(b.photo(500 + seed, (512, 512)), root / f"{seed}.png")
        (root / f"{seed}.txt").write_text(f"zkmira, pose {seed}")
    b.png_claiming(root / "bomb.png", 40000, 40000)
    (root / "bomb.txt").write_text("zkmira")
    approve_all(ctx)  # as the artist would in the caption grid

    parts = gate.fingerprint(ctx)
    assert set(parts) == {"images", "captions", "statuses", "duplicates", "intent"}
    assert gate.fingerprint(ctx) == parts  # stable: nothing changed

    result = gate.evaluate(ctx)
    assert result.gate == "dataset" and result.verdict == "block"
    assert [f.code for f in result.findings if f.severity == "block"] == [
        "image.decompression_bomb"
    ]
    assert result.fingerprint_parts == parts
    record_result(ctx, result)
    assert gate_state(ctx, "dataset").status == "block"
    assert "Gate 1 · Dataset blocks" in " ".join(training_allowed(ctx).reasons)

    (root / "bomb.png").unlink()
    (root / "bomb.txt").unlink()
    assert gate_state(ctx, "dataset").status == "stale"
    result = gate.evaluate(ctx)
    record_result(ctx, result)
    # 8 images: below the recommended 15-60 for a character, above the floor of 5.
    assert [f.code for f in result.findings if f.severity != "info"] == ["dataset.below_range"]
    assert gate_state(ctx, "dataset").status == "warn"
