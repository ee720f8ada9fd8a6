"""A phone-sized screen (390 × 844, an iPhone 12–15 in portrait): the Environment and
Curate pages fit its width, with no sideways scrolling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from app.curation.project_audit import run_project_audit
from app.dataset.inventory import dataset_dir
from app.gate_records import record_result
from app.gates.environment import evaluate
from app.projects import create_project
from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.dataset import builders as b

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the screen (0: it fits)."""
    width: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


def too_wide(page: Page) -> list[str]:
    """The innermost elements that reach past the screen's right edge, for the message."""
    found: list[str] = page.evaluate(
        """() => {
          const edge = document.documentElement.clientWidth;
          const wide = e => e.getBoundingClientRect().right > edge + 0.5
            || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible';
          return [...document.querySelectorAll('body *')]
            .filter(wide)
            .filter(e => ![...e.children].some(wide))
            .slice(0, 8)
            .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className}`);
        }"""
    )
    return found


@pytest.mark.slow
def test_environment_and_curate_fit_a_phone(
    phone: Page,
    live_server: LiveServer,
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    project, _ = create_project(
        workspace,
        make_intent(
            name="A project with a rather long name for a phone screen",
            training_type="object",
            trigger_word="zkteapotwithaverylongtriggerword",
            model_family="sd15",
            caption_format="booru",
        ),
    )
    ctx = workspace.context(project)
    folder = dataset_dir(ctx) / "4_a_concept_folder_with_a_long_name_like_artists_use"
    for seed in range(6):
        b.save(
            b.photo(800 + seed, (576, 512)),
            folder / f"a_long_file_name_from_a_camera_{seed:04}.png",
        )
        (folder / f"a_long_file_name_from_a_camera_{seed:04}.txt").write_text(
            f"zkteapotwithaverylongtriggerword, on a table {seed}"
        )
    run_project_audit(ctx)
    # The real Gate 3 on this machine: its facts (paths, versions) are the long lines.
    record_result(ctx, evaluate(ctx))

    for page in ("environment", "curate"):
        phone.goto(f"{live_server.url}/projects/{project.slug}/{page}")
        assert overflow(phone) <= 0, (
            f"the {page} page scrolls sideways by {overflow(phone)} px: {too_wide(phone)}"
        )
