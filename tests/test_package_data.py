"""A wheel of loragate, unpacked away from the checkout, serves the app: templates, static
files, migrations and the reference documents travel inside the package, not beside it.

`pip install .` without -e builds this same wheel; building it with --no-build-isolation
and unpacking it (instead of installing it into a fresh venv) keeps the test offline and
fast while running only the wheel's code."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from app.settings import PACKAGE_DIR, REPO_ROOT, Settings

DATA_FOLDERS = ("templates", "static", "migrations", "docs")


def _data_files() -> list[str]:
    found = []
    for folder in DATA_FOLDERS:
        for path in sorted((PACKAGE_DIR / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found.append(path.relative_to(REPO_ROOT).as_posix())
    return found


def _build_wheel(tmp_path: Path) -> Path:
    # A copy, so that the build leaves no build/ or egg-info folder in the checkout.
    source = tmp_path / "source"
    shutil.copytree(PACKAGE_DIR, source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
            *("-q", "--wheel-dir", str(wheels), str(source)),
        ],
        env=os.environ | {"PIP_NO_INDEX": "1"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = wheels.glob("loragate-*.whl")
    return wheel


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status), answer.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _wait_for(server: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None:
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    server.kill()
    _, err = server.communicate(timeout=30)
    raise AssertionError(f"the server from the wheel never answered:\n{err}")


@pytest.mark.slow
def test_a_wheel_unpacked_away_from_the_checkout_serves_pages_static_files_and_docs(
    tmp_path: Path, settings: Settings
) -> None:
    wheel = _build_wheel(tmp_path)
    inside = set(zipfile.ZipFile(wheel).namelist())
    assert not [name for name in _data_files() if name not in inside]

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LORAGATE_")} | {
        "PYTHONPATH": str(site),
        "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
        "LORAGATE_DATA_DIR": str(settings.data_dir),
    }
    where = subprocess.run(
        [sys.executable, "-c", "import app; print(app.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            _wait_for(server, f"{base}/")
            home = _get(f"{base}/")
            style = _get(f"{base}/static/app.css")
            document = _get(f"{base}/docs/dataset-audit")
        finally:
            server.terminate()
            server.communicate(timeout=60)

    assert home[0] == 200 and "<html" in home[1].lower()
    assert style == (200, (PACKAGE_DIR / "static" / "app.css").read_text("utf-8"))
    assert document[0] == 200 and 'id="transparency"' in document[1]
    # The migrations ran from the wheel: the database has the newest schema.
    assert settings.database_file.is_file()
