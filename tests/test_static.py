from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient

from app.settings import REPO_ROOT

VENDOR = REPO_ROOT / "app" / "static" / "vendor"


def test_vendored_files_match_their_recorded_checksums() -> None:
    table = (VENDOR / "VENDORED.md").read_text()
    rows = re.findall(r"^\| ([\w.-]+) \|.*\| ([0-9a-f]{64}) \|$", table, re.M)
    assert rows, "VENDORED.md lists no files"
    for name, checksum in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == checksum, name
    listed = {name for name, _ in rows}
    present = {p.name for p in VENDOR.iterdir() if p.name != "VENDORED.md"}
    assert present == listed, "every vendored file is recorded, and only those"


def test_pages_load_htmx_from_this_server(client: TestClient) -> None:
    page = client.get("/").text
    assert "/static/vendor/htmx-2.0.11.min.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
