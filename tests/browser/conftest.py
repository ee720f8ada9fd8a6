"""Browser tests: a real `loragate serve` subprocess on a free port, driven by Debian's
Chromium through Playwright (Playwright's own browser download does not work here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.settings import REPO_ROOT, Settings
from tests.live_server import free_port, wait_until_serving

CHROMIUM = os.environ.get("LORAGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    settings: Settings
    process: subprocess.Popen[bytes]


def _start_server(settings: Settings, log_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `loragate serve` on a free port and wait until it answers. Another process
    can take the port between choosing and binding it: then try a new one."""
    problems = []
    for _attempt in range(3):
        port = free_port()
        env = os.environ | {
            "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
            "LORAGATE_DATA_DIR": str(settings.data_dir),
            "LORAGATE_PORT": str(port),
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        if wait_until_serving(url, process):
            return url, process
        _stop(process)
        problems.append(f"port {port}: exit {process.returncode}: {log_path.read_text()}")
    raise RuntimeError("server did not start:\n" + "\n".join(problems))


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    url, process = _start_server(settings, tmp_path / "server.log")
    yield LiveServer(url=url, settings=settings, process=process)
    _stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. Install it with "
            "`sudo apt-get install chromium` (the README's test command needs it)."
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    # A 4xx answer to a form is expected (it carries the plain-language errors), so
    # resource-load messages are judged by URL instead: our own assets must all load.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/static/" in r.url
            else None
        ),
    )
    yield page
    context.close()
    assert problems == [], f"the page had problems: {problems}"
