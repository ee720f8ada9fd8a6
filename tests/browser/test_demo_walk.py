"""The whole demo in Chromium, as a newcomer walks it on a clean data folder and the
default grimoire copy: the demo button, the audit's planted flaws fixed on the audit
page, captions approved by clicking thumbnails, the demo's config, Gates 1-3 checked
from their pages, the dry run, a confirmed training run whose chart moves, the
evaluation grid with its curves, a cell picked, registered and seen on the projects list.

Only what a user clicks or types: each step follows a link or button that the page
before it offers, so a phase that leaves the newcomer stranded fails here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.demo.samples import DUPLICATE, SAMPLES, TOO_SMALL
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.slow

SLUG = "demo-sample-photos"
# Building the model, importing and auditing; the checks; the dry run; the grid: minutes
# at most on a busy 2-core machine (the walk's own length is in the report, not here).
JOB_MS = 300_000
KEPT, COPY = DUPLICATE[0], DUPLICATE[1]
SMALL = TOO_SMALL[1]
TRAINING_IMAGES = len(SAMPLES)  # the planted copy and the shrunk photo both left out
# The demo's grid: 6 prompts × its 3 weights × 1 seed.
GRID_CELLS = 6 * 3


def fix_the_planted_flaws(page: Page) -> None:
    expect(page.locator("#audit-summary")).to_have_attribute("data-status", "block")
    copies = page.locator('.dup-group[data-kind="exact"]')
    expect(copies).to_contain_text(f"{COPY}, {KEPT}")
    copies.locator(f'.dup-member[data-path="{KEPT}"]').get_by_role(
        "button", name="Keep this one"
    ).click()
    expect(copies).to_have_count(0)
    page.locator('[data-code="image.too_small"]').get_by_role(
        "button", name=f"Exclude {SMALL}"
    ).click()
    expect(page.locator('[data-code="image.too_small"]')).to_have_count(0)
    expect(page.locator("#duplicates")).to_contain_text("No duplicates among the included images")
    # What still blocks is what the captions step is for.
    blocking = page.locator("#findings-block details")
    expect(blocking).to_have_count(1)
    expect(blocking).to_have_attribute("data-code", "caption.not_approved")


def approve_every_caption(page: Page) -> None:
    cards = page.locator(".caption-card")
    expect(cards).to_have_count(TRAINING_IMAGES)
    for path in cards.evaluate_all("cards => cards.map(card => card.dataset.path)"):
        card = page.locator(f'.caption-card[data-path="{path}"]')
        card.locator(".thumb-button").click()
        expect(card).to_have_attribute("data-status", "approved")
    expect(page.locator("#gate-chip")).to_contain_text("Gate 1 out of date")


def wait_for_jobs(page: Page) -> None:
    """A job's progress box shows until it ends and the page reloads."""
    expect(page.locator(".job[data-state]")).to_have_count(0, timeout=JOB_MS)


@pytest.mark.usefixtures("no_leftover_jobs")
def test_a_newcomer_walks_the_demo_from_the_button_to_the_studio(
    page: Page, live_server: LiveServer
) -> None:
    url = live_server.url
    page.goto(url + "/")
    page.get_by_role("button", name="Try the demo").click()
    expect(page).to_have_url(f"{url}/projects/{SLUG}")
    expect(page.locator("[data-demo-note]")).to_contain_text("draws noise")
    wait_for_jobs(page)
    expect(page.locator('[data-gate="dataset"]')).to_have_attribute("data-status", "block")

    # Audit: the duplicate resolved, the far-too-small photo left out.
    page.get_by_role("link", name="Audit", exact=True).click()
    fix_the_planted_flaws(page)

    # Captions, approved by clicking each picture; then Gate 1 from the grid's chip.
    page.get_by_role("link", name="Review them in the caption grid").click()
    approve_every_caption(page)
    page.locator("#check-gate").click()
    expect(page).to_have_url(f"{url}/projects/{SLUG}/gates/dataset")
    wait_for_jobs(page)
    expect(page.locator("#gate-verdict")).to_have_attribute("data-status", "warn")

    # The training folder, then the config the demo came with.
    page.get_by_role("link", name="Write the training folder").click()
    page.locator("#write-layout").click()
    wait_for_jobs(page)
    expect(page.locator("#layout-marker")).to_contain_text(f"1_default ({TRAINING_IMAGES})")
    page.locator("#layout-next").click()
    expect(page.get_by_role("heading", name="Training config")).to_be_visible()
    expect(page.locator("[data-demo-note]")).to_contain_text("draws noise")
    expect(page.locator('[data-preset="quick"]')).to_contain_text("in use")
    expect(page.locator("#f-resolution")).to_have_value("128")
    expect(page.locator("#f-device")).to_have_value("cpu")

    # Gate 2, from the config page's own gate link.
    page.get_by_role("link", name=re.compile("^Gate 2")).click()
    page.locator("#run-gate").click()
    expect(page.locator("#gate-status")).to_have_attribute("data-status", "warn")

    # Gate 3: the demo runs on the CPU on purpose, and a real run needs a GPU.
    page.locator("#next-step").get_by_role("link", name="Gate 3 · Environment").click()
    page.locator("#run-environment-checks").click()
    checklist = page.locator("#environment-checklist")
    expect(checklist).to_have_attribute("data-status", "pass", timeout=JOB_MS)
    demo_cpu = page.locator('[data-code="device.demo_cpu"]')
    expect(demo_cpu).to_contain_text("This is the demo: it trains on the CPU, on purpose.")
    expect(demo_cpu).to_contain_text("A real run has thousands of steps.")
    expect(demo_cpu).to_contain_text("For a real LoRA, train on an NVIDIA GPU")

    # Gate 4: the dry run through the real trainer.
    page.locator("#next-step").get_by_role("link", name="Gate 4 · Dry run").click()
    page.locator("#start-dryrun").click()
    expect(page.locator("#dryrun-status")).to_have_attribute("data-status", "pass", timeout=JOB_MS)

    # Training: the estimate confirmed with one click, the chart moving as steps arrive.
    page.locator("#next-step").get_by_role("link", name="Train").click()
    start = page.locator("#start-training")
    steps = int(re.search(r"Confirm (\d+) steps", start.inner_text()).group(1))  # type: ignore[union-attr]
    start.click()
    expect(page.locator("h1")).to_have_text("Run 1")
    page.wait_for_function(
        "total => { const n = +document.querySelector('#chart-loss').dataset.points;"
        " return n >= 1 && n < total }",
        arg=steps,
        timeout=JOB_MS,
    )
    expect(page.locator("#run-state-words")).to_have_text("Finished", timeout=JOB_MS)
    expect(page.locator("#chart-loss")).to_have_attribute("data-points", str(steps))

    # Evaluation: the demo's small grid, its curves, a cell picked and registered.
    page.locator("#run-evaluate").click()
    expect(page.locator("#lora-select")).to_have_value(f"runs/1/{SLUG}.safetensors")
    expect(page.locator("#grid-form input[name=weights]")).to_have_value("0, 0.5, 1")
    page.click("#run-grid")
    box = page.locator("[id^=job-][data-state]")
    expect(box).to_have_attribute("data-state", "done", timeout=JOB_MS)
    panel = page.locator(".eval-panel")
    expect(panel.locator("button.cell")).to_have_count(GRID_CELLS)
    for curve in ("curve-effect", "curve-leak"):
        points = panel.locator(f"polyline.{curve}").get_attribute("points") or ""
        assert len(points.split()) == 3, curve  # one point per weight
    panel.locator("button.cell[data-weight='0.5']").first.click()
    expect(page.locator("#done")).to_have_text("Recommendation saved.")
    expect(page.locator("#recommendation")).to_contain_text("at weight 0.5")
    page.click("#register-button")
    expect(page.locator("#done")).to_have_text("Registered in the studio.")
    expect(page.locator(f"[data-registered='{SLUG}']")).to_contain_text("at weight 0.5")

    page.get_by_role("link", name="Projects", exact=True).click()
    expect(page.locator(".registered-lora")).to_contain_text(SLUG)
