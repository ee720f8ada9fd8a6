"""`loragate captions` as a real subprocess on a real project: the listing with versions
and the grid's filters, approvals that name the version read (refused, as the grid
refuses them, when the caption changed since), edits, settling an edit made outside
loragate, Gate 1 checked again after approvals, and usage errors (exit 2)."""

from __future__ import annotations

import pytest

from app.captions.store import save_text
from app.dataset.inventory import dataset_dir
from app.gates.state import gate_state
from app.projects import create_project
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import (
    TRIGGER,
    caption_of,
    caption_project,
    image_id,
    mira_intent,
)
from tests.cli.conftest import CliRunner, json_of
from tests.cli.photos import photo_folder, teapot_intent

SLUG = "mira"


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    """Three drafts (one without the trigger word first) and an image without a caption."""
    return caption_project(
        workspace,
        mira_intent(make_intent),
        [f"{TRIGGER}, red scarf", f"{TRIGGER}, blue coat", f"smiling, {TRIGGER}", None],
    )


def listing(cli: CliRunner, *args: str) -> dict[str, dict[str, object]]:
    result = cli("captions", SLUG, *args, "--json")
    assert result.returncode == 0, result.stderr
    report = json_of(result)
    assert isinstance(report, dict)
    return {image["path"]: image for image in report["images"]}


def test_listing_shows_each_caption_with_its_version_and_filters_like_the_grid(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    images = listing(cli)
    assert list(images) == [f"10_mira/00{i}.png" for i in range(4)]
    first = images["10_mira/000.png"]
    assert (first["status"], first["version"], first["text"]) == (
        "draft",
        1,
        f"{TRIGGER}, red scarf",
    )
    assert images["10_mira/003.png"]["status"] == "none"
    assert list(listing(cli, "--status", "no_caption")) == ["10_mira/003.png"]

    plain = cli("captions", SLUG)
    assert plain.returncode == 0, plain.stderr
    assert "0 of 4 included images have an approved caption" in plain.stdout
    assert f"10_mira/001.png@1\n    {TRIGGER}, blue coat" in plain.stdout
    assert "(no caption yet)" in plain.stdout


def test_approve_refuses_a_caption_changed_since_it_was_read(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    read = listing(cli)
    # Someone edits the first caption in the grid after the listing was read.
    save_text(ctx, image_id(ctx, "10_mira/000.png"), f"{TRIGGER}, green scarf", 1)

    result = cli(
        "captions", "approve", SLUG, "--no-check",
        *(f"{path}@{image['version']}" for path, image in read.items() if image["version"]),
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "10_mira/000.png: the caption changed since you read it (you read version 1, it is now 2)"
        in result.stderr
    )
    assert f"It now reads: {TRIGGER}, green scarf" in result.stderr
    assert caption_of(ctx, "10_mira/000.png").status == "draft"  # not approved unseen
    # The others were read as they are: approved.
    assert caption_of(ctx, "10_mira/001.png").status == "approved"
    assert "Approved the caption of 10_mira/001.png (now 10_mira/001.png@2)." in result.stdout

    again = cli("captions", "approve", SLUG, "10_mira/000.png@2", "--no-check")
    assert again.returncode == 0, again.stderr
    assert caption_of(ctx, "10_mira/000.png").status == "approved"


def test_reject_draft_and_edit_move_a_caption_as_the_grid_does(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    path = "10_mira/002.png"
    assert cli("captions", "reject", SLUG, f"{path}@1", "--no-check").returncode == 0
    assert caption_of(ctx, path).status == "rejected"
    assert cli("captions", "draft", SLUG, f"{path}@2", "--no-check").returncode == 0
    assert caption_of(ctx, path).status == "draft"

    edited = cli("captions", "edit", SLUG, f"{path}@3", "--text", f"laughing, {TRIGGER}", "--json")
    assert edited.returncode == 0, edited.stderr
    [done] = json_of(edited)["done"]  # type: ignore[index]
    assert done["version"] == 4 and done["status"] == "draft"
    assert "the trigger word was not first" in done["message"].lower()
    caption = caption_of(ctx, path)
    assert caption.text == f"{TRIGGER}, laughing" and caption.source == "manual"
    assert (dataset_dir(ctx) / "10_mira/002.txt").read_text() == f"{TRIGGER}, laughing"

    stale = cli("captions", "edit", SLUG, f"{path}@3", "--text", "overwritten", "--no-check")
    assert stale.returncode == 1 and "nothing was changed" in stale.stderr
    assert caption_of(ctx, path).text == f"{TRIGGER}, laughing"


def test_an_edit_outside_loragate_is_settled_before_approval(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    path = "10_mira/001.png"
    (dataset_dir(ctx) / "10_mira/001.txt").write_text(f"{TRIGGER}, blue coat, snow")
    assert listing(cli)[path]["changed_outside"] is True

    refused = cli("captions", "approve", SLUG, f"{path}@1", "--no-check")
    assert refused.returncode == 1
    assert "changed outside loragate" in refused.stderr
    assert f"loragate captions resolve {SLUG} {path} --keep file" in refused.stderr

    kept = cli("captions", "resolve", SLUG, path, "--keep", "file", "--no-check")
    assert kept.returncode == 0, kept.stderr
    caption = caption_of(ctx, path)
    assert (caption.text, caption.status) == (f"{TRIGGER}, blue coat, snow", "draft")
    approved = cli("captions", "approve", SLUG, f"{path}@{caption.version}", "--no-check")
    assert approved.returncode == 0, approved.stderr


@pytest.mark.slow
def test_approving_checks_gate1_again_without_structure(
    cli: CliRunner,
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    project, _ = create_project(workspace, teapot_intent(make_intent))
    ctx = workspace.context(project)
    photo_folder(dataset_dir(ctx))
    read = listing_of(cli, "teapot")  # takes the caption files in, as drafts
    first, *others = sorted(read)

    unchecked = cli(
        "captions", "approve", "teapot", *(f"{p}@{read[p]}" for p in others), "--no-check"
    )  # fmt: skip
    assert unchecked.returncode == 0 and "Gate 1" not in unchecked.stdout
    assert gate_state(ctx, "dataset").status == "not_run"

    checked = cli("captions", "approve", "teapot", f"{first}@{read[first]}")
    assert checked.returncode == 0, checked.stderr
    assert "Gate 1 passes" in checked.stdout and "Checking Gate 1" in checked.stderr
    assert gate_state(ctx, "dataset").passes_now


def listing_of(cli: CliRunner, slug: str) -> dict[str, int]:
    report = json_of(cli("captions", slug, "--json"))
    assert isinstance(report, dict)
    return {image["path"]: image["version"] for image in report["images"]}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["approve", SLUG, "10_mira/000.png"], "give the caption version you read"),
        (["approve", SLUG, "10_mira/nope.png@1"], "not in the dataset of “mira”"),
        (["approve", SLUG], "name the images to approve"),
        (["approve", SLUG, "10_mira/000.png@1", "--text", "x"], "--text goes with"),
        (["edit", SLUG, "10_mira/000.png@1"], "needs the new caption"),
        (["resolve", SLUG, "10_mira/000.png"], "needs --keep file or --keep loragate"),
        ([SLUG, "10_mira/000.png"], "the listing takes one project"),
        (["nobody"], "there is no project “nobody”"),
        (["approve"], "name the project: `loragate captions approve PROJECT ...`"),
        ([SLUG, "--status", "pretty"], "--status pretty: choose one of all, unapproved"),
    ],
)
def test_wrong_usage_exits_2_and_changes_nothing(
    cli: CliRunner, ctx: ProjectContext, args: list[str], says: str
) -> None:
    result = cli("captions", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert caption_of(ctx, "10_mira/000.png").version == 1
