"""GET never writes: every page of a project with images, captions, a config, gate
results and a finished job, read after files changed outside loragate, leaves the
database and every file under the grimoire and the data folder as they were. Changes
made outside loragate are taken in by an explicit action or a job, never by looking."""

from __future__ import annotations

import re
import sqlite3
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.captions.store import load_captions
from app.curation.tasks import AUDIT_JOB
from app.dataset.inventory import dataset_dir
from app.db import Database
from app.gate_records import record_result
from app.gates import config as gate2
from app.gates import environment as gate3
from app.intent import BACKENDS
from app.settings import Settings
from app.training.project_config import default_config, save_changes
from app.worker import Worker
from app.workspace import ProjectContext
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent, write_images
from tests.conftest import BASE_URL

# Where the crawl starts: the home page, the studio, the new-project form, the project.
START = ["/", "/studio", "/projects/new", "/projects/mira"]
# Followed, but not past this many pages (a caption grid's filters multiply).
MOST_PAGES = 250
LINK = re.compile(r"""(?:href|hx-get|src|sse-connect)="([^"]+)\"""")


def _listing(*roots: Path, skip: tuple[Path, ...]) -> dict[str, tuple[int, int] | None]:
    """(size, mtime_ns) of every file under the roots, and every folder (by its being
    there: what is added or removed shows as a file), the ``skip`` paths left out."""
    listing: dict[str, tuple[int, int] | None] = {}
    for root in roots:
        for path in root.rglob("*"):
            if any(path.is_relative_to(other) for other in skip):
                continue
            stat = path.lstat()
            listing[str(path)] = None if path.is_dir() else (stat.st_size, stat.st_mtime_ns)
    return listing


def _dump(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as db:
        return list(db.iterdump())


@contextmanager
def _writes_spied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every write transaction opened meanwhile, named by the request that opened it."""
    opened: list[str] = []
    real = Database.writing

    def spy(self: Database):  # type: ignore[no-untyped-def]
        opened.append("".join(traceback.format_stack()[-12:]))
        return real(self)

    monkeypatch.setattr(Database, "writing", spy)
    yield opened
    monkeypatch.setattr(Database, "writing", real)


def _project(client: TestClient, make_intent) -> tuple[ProjectContext, int]:  # type: ignore[no-untyped-def]
    workspace = client.app.state.workspace  # type: ignore[attr-defined]
    ctx = caption_project(
        workspace,
        mira_intent(make_intent, training_type="style", must_vary=""),
        [f"{TRIGGER}, lighthouse", f"{TRIGGER}, owl", "cat", None],
    )
    worker = Worker(workspace)
    job = worker.start(AUDIT_JOB, ctx.project.id, title="Auditing the dataset")
    assert worker.wait(job.id or 0, 120).state == "done"  # type: ignore[union-attr]
    save_changes(ctx, default_config(ctx).model_copy(update={"max_train_epochs": 12}))
    record_result(ctx, gate2.evaluate(ctx))
    record_result(ctx, gate3.evaluate(ctx))
    assert load_captions(ctx)
    return ctx, job.id or 0


def _change_outside(ctx: ProjectContext) -> None:
    """What an artist does in a file manager: new images with captions, an edited
    caption, a deleted image."""
    folder = dataset_dir(ctx) / "10_mira"
    write_images(dataset_dir(ctx) / "5_extra", [f"{TRIGGER}, new one", None], 64)
    sidecar = folder / "000.txt"
    sidecar.write_text(sidecar.read_text() + ", edited outside")
    (folder / "003.png").unlink()


def _unlinked_pages(ctx: ProjectContext, job_id: int) -> list[str]:
    """Pages no page links as a plain link: a finished job's box and its stream, the
    caption cards a grid swaps in, each trainer's config and files, the bundle."""
    box = f"/projects/mira/jobs/{job_id}"
    cards = [f"/projects/mira/captions/{image_id}/card" for image_id in load_captions(ctx)]
    configs = [f"/projects/mira/config?backend={backend}" for backend in BACKENDS]
    return [
        box,
        f"{box}?watching=1",
        f"/jobs/{job_id}/events",
        f"/jobs/{job_id}/events?after=1",
        *cards,
        *configs,
        "/projects/mira/bundle/download",
    ]


def _on_site(page: str, link: str) -> str | None:
    """The link's path and query when it leads to a page of this site, else None."""
    target = urlsplit(urljoin(BASE_URL + page, link))
    if target.netloc != urlsplit(BASE_URL).netloc or target.path.startswith("/static"):
        return None
    return target.path + (f"?{target.query}" if target.query else "")


def _new_shape(url: SplitResult, shapes: set[tuple[str, frozenset[str]]]) -> bool:
    """Every value of a single query parameter (each caption filter), but one URL for
    each set of two or more (filters times tags times images would be hundreds)."""
    keys = parse_qs(url.query, keep_blank_values=True)
    if len(keys) < 2:
        return True
    shape = (url.path, frozenset(keys))
    if shape in shapes:
        return False
    shapes.add(shape)
    return True


def _crawl(client: TestClient, start: list[str]) -> dict[str, int]:
    """GET every page reachable from ``start`` on this site, with its status."""
    seen: dict[str, int] = {}
    shapes: set[tuple[str, frozenset[str]]] = set()
    queue = deque(start)
    while queue and len(seen) < MOST_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url, follow_redirects=False)
        seen[url] = response.status_code
        if response.is_redirect:
            queue.append(_on_site(url, response.headers["location"]) or "/")
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for link in LINK.findall(response.text):
            path = _on_site(url, link.replace("&amp;", "&"))
            if path and path not in seen and _new_shape(urlsplit(path), shapes):
                queue.append(path)
    return seen


def test_no_page_writes_on_get(
    client: TestClient, make_intent, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ctx, job_id = _project(client, make_intent)
    _change_outside(ctx)
    database = settings.database_file
    roots = (settings.grimoire_dir, settings.data_dir)
    # The database is compared by its content (its -wal and -shm change as it is read);
    # the thumbnail cache is made on first sight, named by each image's content: deleting
    # it loses nothing, and it is no state of a project.
    sqlite_files = [database.with_name(database.name + end) for end in ("", "-wal", "-shm")]
    skip = (*sqlite_files, settings.data_dir / "thumbs")
    files, rows = _listing(*roots, skip=skip), _dump(database)

    with _writes_spied(monkeypatch) as writes:
        pages = _crawl(client, [*START, *_unlinked_pages(ctx, job_id)])

    assert not [url for url, status in pages.items() if status >= 500], pages
    reached = set(pages)
    for page in ("captions", "curate", "captions/auto", "audit", "config", "dryrun", "report"):
        assert f"/projects/mira/{page}" in reached, sorted(reached)
    assert any("/thumb" in url for url in reached), sorted(reached)
    assert writes == [], f"{len(writes)} write transactions on GET, the first from:\n{writes[0]}"
    after = _listing(*roots, skip=skip)
    changed = sorted(
        path for path in files.keys() | after.keys() if files.get(path) != after.get(path)
    )
    assert changed == []
    assert _dump(database) == rows
