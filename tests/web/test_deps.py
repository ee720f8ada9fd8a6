"""Ids from URLs and forms are bounded before any query sees them: SQLite holds at most
2**63 - 1, and a larger number reached the driver as OverflowError (a 500)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web.deps import SQLITE_MAX_INT
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent

HUGE = "99999999999999999999999"
HX = {"hx-request": "true"}


@pytest.fixture
def ctx(client: TestClient, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    workspace: Workspace = client.app.state.workspace  # type: ignore[attr-defined]
    return caption_project(workspace, mira_intent(make_intent), [f"{TRIGGER}, owl", None])


# (method, URL, form): every route that takes an id, path and form alike.
HUGE_IDS = [
    ("get", f"/projects/mira/images/{HUGE}/thumb", None),
    ("post", f"/projects/mira/images/{HUGE}/included", {"included": "0"}),
    ("post", f"/projects/mira/curate/images/{HUGE}/included", {"included": "0"}),
    ("get", f"/projects/mira/captions/{HUGE}/card", None),
    ("post", f"/projects/mira/captions/{HUGE}/approve", {"version": "1"}),
    ("post", f"/projects/mira/captions/{HUGE}/reject", {"version": "1"}),
    ("post", f"/projects/mira/captions/{HUGE}/text", {"version": "1", "text": "x"}),
    ("post", f"/projects/mira/captions/{HUGE}/included", {"included": "0"}),
    ("post", f"/projects/mira/captions/{HUGE}/outside", {"keep": "file"}),
    ("get", f"/projects/mira/jobs/{HUGE}", None),
    ("post", f"/projects/mira/jobs/{HUGE}/cancel", None),
    ("post", "/projects/mira/duplicates/keep", {"member": ["1", HUGE], "keep": HUGE}),
    ("post", "/projects/mira/duplicates/intentional", {"member": ["1", HUGE]}),
    (
        "post",
        "/projects/mira/captions/batch",
        {"operation": "add", "tag": "x", "scope": "selection", "ids": [HUGE]},
    ),
    ("post", "/projects/mira/captions/approve-shown", {"shown": [f"{HUGE}:1"]}),
    ("post", "/projects/mira/captions/approve-shown", {"shown": [f"1:{HUGE}"]}),
    ("post", "/projects/mira/captions/auto/redraft", {"sample_job": HUGE}),
    ("post", "/projects/mira/captions/auto/run", {"sample_job": HUGE}),
]


@pytest.mark.parametrize(("method", "url", "form"), HUGE_IDS)
def test_an_id_sqlite_cannot_hold_is_refused_in_words(
    client: TestClient, ctx: ProjectContext, method: str, url: str, form: dict[str, object] | None
) -> None:
    for headers in ({}, HX):  # a page, and a toast for HTMX
        response = client.request(method, url, data=form, headers=headers, follow_redirects=False)
        assert response.status_code in (400, 404, 422)
        assert response.headers["content-type"].startswith("text/html")
        assert "Reload the page" in response.text


def test_the_largest_id_sqlite_holds_is_looked_up_and_not_found(
    client: TestClient, ctx: ProjectContext
) -> None:
    assert client.get(f"/projects/mira/images/{SQLITE_MAX_INT}/thumb").status_code == 404
    assert client.get(f"/projects/mira/images/{SQLITE_MAX_INT + 1}/thumb").status_code == 422


def test_approve_shown_refuses_what_no_page_showed(client: TestClient, ctx: ProjectContext) -> None:
    for shown in ["1", "x:1", ":", "1:-1", "0:1", "9" * 5000 + ":1"]:
        response = client.post("/projects/mira/captions/approve-shown", data={"shown": [shown]})
        assert response.status_code == 400, shown
        assert "is not an image this page showed" in response.text
