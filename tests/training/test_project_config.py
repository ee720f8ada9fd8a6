"""A project's config over time: defaults, changes journaled old → new, presets,
and the confirmed estimate."""

from __future__ import annotations

from pathlib import Path

from app import gpu_probe, journal
from app.gates import config as gate2
from app.training.config import load_config
from app.training.project_config import (
    apply_preset,
    confirm_estimate,
    current_config,
    read_confirmation,
    save_changes,
)
from app.workspace import Workspace
from tests.training.helpers import new_project, set_gpu


def journal_lines(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        line for line in (ctx.dir / "journal.md").read_text().splitlines() if line.startswith("- ")
    ]


def test_changes_are_saved_and_journaled_field_by_field(
    workspace: Workspace, tmp_path: Path
) -> None:
    ctx = workspace.context(new_project(workspace, tmp_path))
    assert load_config(ctx.dir) is None
    config = current_config(ctx)
    assert config.preset == "standard" and config.output_name == ctx.project.slug

    changed = config.model_copy(update={"network_rank": 32, "cache_latents": False})
    assert save_changes(ctx, changed) == {"network_rank": (16, 32), "cache_latents": (True, False)}
    saved = load_config(ctx.dir)
    assert saved is not None and saved.network_rank == 32 and saved.preset == "custom"
    assert journal_lines(ctx)[-1].endswith(
        "Training config changed: network_rank 16 → 32; cache_latents on → off."
    )
    with workspace.db.reading() as session:
        event = journal.recent(session, ctx.project, 1)[0]
    assert event.kind == "config.changed"
    assert event.data["changes"]["network_rank"] == {"old": 16, "new": 32}

    assert save_changes(ctx, saved) == {}  # nothing changed: nothing journaled
    assert journal_lines(ctx)[-1].endswith("cache_latents on → off.")


def test_a_preset_replaces_values_but_keeps_the_artists_own(
    workspace: Workspace, tmp_path: Path
) -> None:
    ctx = workspace.context(new_project(workspace, tmp_path))
    mine = current_config(ctx).model_copy(update={"sample_prompts": ["zktrig, a fox"], "seed": 7})
    save_changes(ctx, mine)
    config = apply_preset(ctx, "quick")
    # A style in folders of 10 repeats: 20 views (Quick) after 50 (Standard).
    assert config.preset == "quick" and config.epochs == 2
    assert config.sample_prompts == ["zktrig, a fox"] and config.seed == 7
    assert (
        "Quick preset applied: " in journal_lines(ctx)[-1]
        and "epochs 5 → 2" in journal_lines(ctx)[-1]
    )


def test_confirming_the_estimate_is_journaled(workspace: Workspace, tmp_path: Path) -> None:
    ctx = workspace.context(new_project(workspace, tmp_path))
    assert read_confirmation(ctx) is None
    confirm_estimate(ctx, "abc", 1200, "1200 steps, about 24 min")
    confirmation = read_confirmation(ctx)
    assert confirmation is not None and confirmation.steps == 1200
    assert journal_lines(ctx)[-1].endswith("You confirmed the estimate: 1200 steps, about 24 min.")


def test_a_projects_default_config_passes_its_own_gate2_without_a_warning(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The issue's newcomer: 26 photos imported as they are (1 repeat each), a style LoRA
    on SDXL, an RTX 4090. The Standard preset used to show each image 10 times and Gate 2
    warned that a style wants 20–200."""
    set_gpu(workspace, "NVIDIA GeForce RTX 4090", 24.0, 0.69)
    folders = {"ink": [(1024, 1024)] * 20 + [(1536, 1024)] * 6}
    ctx = workspace.context(new_project(workspace, tmp_path, folders=folders))
    result = gate2.evaluate(ctx)
    assert result.verdict == "pass", [f.message for f in result.findings]
    assert not [f.message for f in result.findings if f.severity != "info"]
    assert result.stats["images"] == 26 and current_config(ctx).epochs == 50
    # Another preset, applied on the Config page, is built for the same dataset.
    apply_preset(ctx, "quick")
    assert gate2.evaluate(ctx).verdict == "pass"


def test_the_default_device_is_this_machines(workspace: Workspace, tmp_path: Path) -> None:
    ctx = workspace.context(new_project(workspace, tmp_path))
    expected = "cuda" if gpu_probe.cached_probe().devices else "cpu"
    assert current_config(ctx).device == expected
    set_gpu(workspace, "NVIDIA GeForce RTX 4090", 24.0)  # training on that GPU instead
    assert current_config(ctx).device == "cuda"
