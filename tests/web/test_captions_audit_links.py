"""The audit and Gate 1 pages send caption work to the caption grid (issue 12.15,
12.18): a missing caption links to the grid opened on that image, and captions not yet
approved are one line with a link, not a row per image."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.curation.project_audit import run_project_audit
from app.workspace import Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent


def test_caption_findings_lead_to_the_grid(client: TestClient, make_intent) -> None:  # type: ignore[no-untyped-def]
    workspace: Workspace = client.app.state.workspace  # type: ignore[attr-defined]
    drafts = [f"{TRIGGER}, pose {index}" for index in range(12)]
    ctx = caption_project(workspace, mira_intent(make_intent), [*drafts, None])
    run_project_audit(ctx)
    for url in ("/projects/mira/audit", "/projects/mira/gates/dataset"):
        page = client.get(url).text
        missing = re.search(r'data-code="caption.missing".*?</details>', page, re.S)
        assert missing, url
        link = "/projects/mira/captions?image=10_mira/012.png"
        assert re.search(
            rf'href="[^"]*{re.escape(link)}">Write it in the caption grid<', missing[0]
        )
        grouped = re.search(r'data-code="caption.not_approved".*?</details>', page, re.S)
        assert grouped, url
        block = grouped.group(0)
        assert block.count('class="finding"') == 0  # not twelve rows
        assert "12 captions: 10_mira/000.png, 10_mira/001.png" in block
        assert "and 7 more." in block and "?filter=unapproved" in block
        # The grid the link opens shows that image alone.
        opened = client.get(link).text
        assert len(re.findall(r'id="card-\d+"', opened)) == 1 and "012.png" in opened
