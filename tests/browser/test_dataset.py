"""Importing a folder and resolving a duplicate group, in a real browser."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from app.projects import create_project
from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.dataset import builders as b


def test_import_a_folder_then_keep_one_of_a_duplicate_group(
    page: Page,
    live_server: LiveServer,
    workspace: Workspace,
    make_intent,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    create_project(
        workspace,
        make_intent(
            name="Mira",
            training_type="character",
            trigger_word="zkmira",
            model_family="sd15",
            caption_format="booru",
        ),
    )
    source = tmp_path / "pictures"
    for seed in range(5):
        b.save(b.photo(800 + seed, (512, 512)), source / "10_mira" / f"{seed}.png")
        (source / "10_mira" / f"{seed}.txt").write_text(f"zkmira, pose {seed}")
    b.save(b.photo(800, (512, 512)), source / "10_mira" / "again.bmp")  # same pixels as 0.png
    (source / "10_mira" / "again.txt").write_text("zkmira, the same picture")
    (source / ".DS_Store").write_bytes(b"junk")

    page.goto(live_server.url + "/projects/mira")
    page.get_by_role("link", name="Import").click()
    page.fill("#source", str(source))
    page.get_by_role("button", name="Import folder").click()
    # The progress follows the job's events until it is done, then the page reloads.
    expect(page.locator("#import-report")).to_contain_text(
        "Imported 6 images and 6 captions", timeout=60_000
    )
    page.get_by_text("System files ignored (1)").click()
    expect(page.locator("#import-junk")).to_contain_text(".DS_Store")

    page.get_by_role("link", name="See the audit").first.click()
    group = page.locator('.dup-group[data-kind="exact"]')
    expect(group).to_contain_text("10_mira/0.png, 10_mira/again.bmp")
    expect(group.locator("img")).to_have_count(2)
    expect(page.locator("#audit-summary")).to_have_attribute("data-status", "block")

    group.locator('.dup-member[data-path="10_mira/0.png"]').get_by_role(
        "button", name="Keep this one"
    ).click()
    expect(page.locator('.dup-group[data-kind="exact"]')).to_have_count(0)
    expect(page.locator("#duplicates")).to_contain_text("No duplicates among the included images")
    excluded = page.locator('.image-card[data-path="10_mira/again.bmp"]')
    expect(excluded).to_have_attribute("data-included", "0")
    expect(excluded).to_contain_text("duplicate of 10_mira/0.png")
    # Five images remain: over the floor, under the recommended range (a warning); what
    # still blocks is that nobody has approved their captions yet.
    expect(page.locator("#audit-summary")).to_have_attribute("data-status", "block")
    blocking = page.locator("#findings-block details")
    expect(blocking).to_have_count(1)
    expect(blocking).to_have_attribute("data-code", "caption.not_approved")
    expect(page.locator("#findings-warn")).to_contain_text("Fewer images than recommended")

    page.get_by_role("link", name="Mira").first.click()
    expect(page.locator('#gates [data-gate="dataset"]')).to_have_attribute("data-status", "block")
    expect(page.locator("#journal")).to_contain_text("Kept 10_mira/0.png of a duplicate group")


def test_upload_files_from_the_page(
    page: Page,
    live_server: LiveServer,
    workspace: Workspace,
    make_intent,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    create_project(workspace, make_intent(name="Ink", trigger_word="zkink"))
    picked = [b.save(b.photo(850 + i, (256, 256)), tmp_path / f"pick{i}.png") for i in range(2)]
    (tmp_path / "pick0.txt").write_text("zkink, a cat")
    page.goto(live_server.url + "/projects/ink/dataset")
    page.set_input_files("#files-input", [*map(str, picked), str(tmp_path / "pick0.txt")])
    page.get_by_role("button", name="Upload and import").last.click()
    expect(page.locator("#import-report")).to_contain_text(
        "Imported 2 images and 1 caption from 3 files from the browser", timeout=60_000
    )
    page.get_by_role("link", name="See the audit").first.click()
    expect(page.locator(".kind[data-code='caption.missing']")).to_contain_text("pick1.png")
    expect(page.locator(".kind[data-code='image.too_small']")).to_contain_text("256×256")
