"""The dataset pages over HTTP.

HTMX contract checked here:
- POST /projects/{slug}/dataset/import/folder|zip|files → 303 to the import page (or
  HX-Redirect), 422/413 with the reason when refused (a toast for HTMX)
- GET /projects/{slug}/jobs/{id}?watching=1 → progress partial; HX-Refresh once finished
- POST /projects/{slug}/duplicates/keep|intentional|threshold, .../images/{id}/included
  → the #audit-body partial (HTMX) or 303; 400 with a toast when refused
- GET /projects/{slug}/images/{id}/thumb → WebP by id, ETag + Cache-Control, 304
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.curation.project_audit import run_project_audit
from app.curation.tasks import AUDIT_JOB, IMPORT_JOB
from app.dataset.inventory import dataset_dir, inventory
from app.dataset.records import load_rows
from app.journal import journal_path
from app.main import create_app
from app.models import Job, Project
from app.projects import create_project
from app.settings import PACKAGE_DIR, Settings
from app.words import GATE_WORDS
from app.workspace import Workspace
from tests.conftest import BASE_URL
from tests.dataset import builders as b
from tests.worker.kinds import HOLD

HX = {"hx-request": "true"}
TRIGGER = "zkmira"


@pytest.fixture
def mira(workspace: Workspace, make_intent) -> Project:  # type: ignore[no-untyped-def]
    project, _ = create_project(
        workspace,
        make_intent(
            name="Mira",
            training_type="character",
            trigger_word=TRIGGER,
            model_family="sd15",
            caption_format="booru",
        ),
    )
    return project


def source_folder(root: Path) -> Path:
    for seed in range(5):
        b.save(b.photo(700 + seed, (512, 512)), root / "8_mira" / f"{seed}.png")
        (root / "8_mira" / f"{seed}.txt").write_text(f"{TRIGGER}, pose {seed}")
    b.save(b.photo(700, (512, 512)), root / "8_mira" / "copy.bmp")  # same pixels as 0.png
    (root / "8_mira" / "copy.txt").write_text(TRIGGER)
    (root / "8_mira" / "readme.jpg").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"junk")
    return root


def finish(client: TestClient, project: Project) -> Job:
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    job = jobs.latest(IMPORT_JOB, project.id)
    assert job is not None
    finished = jobs.wait(job.id, 60)
    assert finished.state == "done", finished.error
    return finished


def test_pages_are_linked_from_the_overview(client: TestClient, mira: Project) -> None:
    overview = client.get("/projects/mira").text
    for path in ("/projects/mira/dataset", "/projects/mira/audit", "/projects/mira/gates/dataset"):
        assert f'href="{BASE_URL}{path}"' in overview
    page = client.get("/projects/mira/dataset").text
    assert 'id="import-folder"' in page and 'name="archive"' in page and "data-dropzone" in page
    assert "/static/dataset.js" in page
    assert "has not been audited yet" in client.get("/projects/mira/audit").text
    assert ">not run yet<" in client.get("/projects/mira/gates/dataset").text


def test_folder_import_then_audit_findings_thumbnails_and_gate(
    client: TestClient, mira: Project, tmp_path: Path, workspace: Workspace
) -> None:
    source = source_folder(tmp_path / "source")
    before = b.tree_digest(source)
    response = client.post(
        "/projects/mira/dataset/import/folder", data={"source": str(source)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE_URL}/projects/mira/dataset"
    job = finish(client, mira)
    assert job.result["import"]["images"] == [f"8_mira/{n}.png" for n in range(5)] + [
        "8_mira/copy.bmp"
    ]
    assert b.tree_digest(source) == before

    report = client.get("/projects/mira/dataset").text
    assert "Imported 6 images and 6 captions" in report
    assert "readme.jpg" in report and "not an image: text" in report
    assert ".DS_Store" in report

    audit = client.get("/projects/mira/audit").text
    assert 'data-kind="exact"' in audit and "Keep this one" in audit
    assert "8_mira/0.png, 8_mira/copy.bmp" in audit
    assert 'id="resolution-histogram"' in audit and 'id="aspect-buckets"' in audit

    ctx = workspace.context(mira)
    row = next(r for r in load_rows(ctx) if r.path == "8_mira/0.png")
    assert f"/projects/mira/images/{row.id}/thumb?v={row.sha256[:12]}" in audit
    thumb = client.get(f"/projects/mira/images/{row.id}/thumb")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert thumb.content[:4] == b"RIFF" and "max-age" in thumb.headers["cache-control"]
    again = client.get(
        f"/projects/mira/images/{row.id}/thumb", headers={"if-none-match": thumb.headers["etag"]}
    )
    assert again.status_code == 304
    assert client.get("/projects/mira/images/999999/thumb").status_code == 404

    gate = client.get("/projects/mira/gates/dataset").text
    assert ">blocks training<" in gate and "Exact duplicates" not in gate.split("Duplicates")[0]
    assert "files show exactly the same pixels" in gate
    assert 'data-status="block"' in client.get("/projects/mira").text


GATE_WORD = re.compile(r'data-gate-status="(\w+)"[^>]*>([^<]*)<')
GATE_PAGES = ("", "/audit", "/gates/dataset", "/captions", "/dataset", "/config", "/gates/config")


def _gate_words_on_pages(client: TestClient) -> dict[str, list[tuple[str, str]]]:
    pages = {path: client.get(f"/projects/mira{path}").text for path in GATE_PAGES}
    pages["/environment"] = client.get("/projects/mira/environment").text
    return {path: GATE_WORD.findall(page) for path, page in pages.items()}


def test_every_page_words_a_gate_status_the_same(
    client: TestClient, mira: Project, tmp_path: Path
) -> None:
    """Seven templates once had seven wordings ("blocked", "blocks", "NO-GO", "blocking"
    for one status). Every page that shows a gate's status now says the same words."""
    before = _gate_words_on_pages(client)
    client.post(
        "/projects/mira/dataset/import/folder", data={"source": str(source_folder(tmp_path / "s"))}
    )
    finish(client, mira)  # the audit after the import: Gate 1 blocks (drafts, duplicates)
    after = _gate_words_on_pages(client)
    seen: dict[str, set[str]] = {}
    for shown in (before, after):
        for words in shown.values():
            for status, text in words:
                seen.setdefault(status, set()).add(text)
    assert seen == {
        "not_run": {GATE_WORDS["not_run"]},
        "block": {GATE_WORDS["block"]},
    }, seen
    # Each page that shows a gate status shows it through the shared words.
    assert all(before[path] for path in ("", "/gates/dataset", "/captions", "/config"))
    assert all(before[path] for path in ("/gates/config", "/environment"))
    assert all(after[path] for path in ("", "/audit", "/gates/dataset", "/captions", "/dataset"))
    assert ("block", "blocks training") in after["/dataset"]  # the import report


def test_no_template_keeps_its_own_gate_wording() -> None:
    templates = list((PACKAGE_DIR / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        text = template.read_text()
        assert not re.search(r"'(not_run|stale)'\s*:", text), template


def test_a_file_named_with_a_comma_keeps_its_flags_and_its_group_resolves(
    client: TestClient, mira: Project, tmp_path: Path, workspace: Workspace
) -> None:
    """Group findings once named their members in one string split again at ", ":
    "tiny, too.png" lost its flags and its duplicate group lacked it on the audit page."""
    source = tmp_path / "s"
    for seed in range(5):
        b.save(b.photo(700 + seed, (512, 512)), source / "8_mira" / f"{seed}.png")
        (source / "8_mira" / f"{seed}.txt").write_text(f"{TRIGGER}, pose {seed}")
    for name in ("tiny, too", "other"):
        b.save(b.photo(77, (96, 96)), source / "8_mira" / f"{name}.png")
        (source / "8_mira" / f"{name}.txt").write_text(f"{TRIGGER}, small")
    client.post("/projects/mira/dataset/import/folder", data={"source": str(source)})
    finish(client, mira)
    ctx = workspace.context(mira)
    rows = {row.path: row for row in load_rows(ctx)}
    assert {"image.too_small", "duplicate.exact"} <= set(rows["8_mira/tiny, too.png"].finding_codes)

    audit = client.get("/projects/mira/audit").text
    group = re.search(r'<div class="dup-group dup-exact".*?</ul>', audit, re.S)
    assert group and "8_mira/tiny, too.png" in group.group(0)
    keep_other = re.search(
        r"<form[^>]*>((?:(?!</form>).)*?)<button[^>]*>Keep this one\s*"
        r'<span class="visually-hidden">\(8_mira/other.png\)',
        group.group(0),
        re.S,
    )
    assert keep_other
    fields = re.findall(r'name="(member|keep)" value="(\d+)"', keep_other.group(1))
    members = [int(value) for name, value in fields if name == "member"]
    assert sorted(members) == sorted([rows["8_mira/tiny, too.png"].id, rows["8_mira/other.png"].id])
    keep = next(int(value) for name, value in fields if name == "keep")
    partial = client.post(
        "/projects/mira/duplicates/keep", data={"member": members, "keep": keep}, headers=HX
    )
    assert partial.status_code == 200 and 'data-kind="exact"' not in partial.text
    assert {r.path for r in load_rows(ctx) if not r.included} == {"8_mira/tiny, too.png"}


def _untouched(settings: Settings, project_dir: Path, dataset: Path) -> dict[str, bytes]:
    """Every byte a page load could write: the database and its write-ahead log, the
    journal, the caption files."""
    # Not the -shm index: SQLite's readers mark their place there.
    db = settings.database_file
    files = [db, *db.parent.glob(db.name + "-wal")]
    files += [journal_path(project_dir), *sorted(dataset.rglob("*.txt"))]
    return {str(path): path.read_bytes() for path in files}


def test_pages_only_look_at_files_changed_outside_and_a_button_picks_them_up(
    client: TestClient, mira: Project, tmp_path: Path, workspace: Workspace, settings: Settings
) -> None:
    """The caption, curation and auto-caption pages took in caption files on GET (rows,
    journal lines, rewritten caption files). Now they say what waits, and the artist's
    POST takes it in."""
    client.post(
        "/projects/mira/dataset/import/folder", data={"source": str(source_folder(tmp_path / "s"))}
    )
    finish(client, mira)
    ctx = workspace.context(mira)
    dataset = dataset_dir(ctx)
    b.save(b.photo(780, (512, 512)), dataset / "8_mira" / "new.png")
    (dataset / "8_mira" / "new.txt").write_text("pose new, " + TRIGGER)  # trigger not first
    (dataset / "8_mira" / "2.txt").write_text(f"{TRIGGER}, edited in another program")
    before = _untouched(settings, ctx.dir, dataset)

    pages = ("/captions", "/curate", "/captions/auto", "/audit", "/gates/dataset", "")
    shown = {path: client.get(f"/projects/mira{path}") for path in pages}
    assert all(page.status_code == 200 for page in shown.values())
    assert _untouched(settings, ctx.dir, dataset) == before
    for path in ("/captions", "/curate", "/captions/auto"):
        notice = re.search(
            r'<div class="notice"[^>]*id="outside-files".*?</div>', shown[path].text, re.S
        )
        assert notice, path
        assert 'data-captions="1" data-images="1"' in notice.group(0)
        assert "1 caption file not taken in yet, 1 new image" in " ".join(notice.group(0).split())
        assert "Pick up edits made outside loragate" in notice.group(0)
    assert "new.png" not in {row.path.split("/")[-1] for row in load_rows(ctx)}

    picked = client.post(
        "/projects/mira/captions/take-in",
        headers={"referer": f"{BASE_URL}/projects/mira/curate"},
        follow_redirects=False,
    )
    assert picked.status_code == 303
    assert picked.headers["location"] == f"{BASE_URL}/projects/mira/curate"
    assert "8_mira/new.png" in {row.path for row in load_rows(ctx)}
    assert (dataset / "8_mira" / "new.txt").read_text() == f"{TRIGGER}, pose new"
    assert "Took in 1 caption file as drafts" in journal_path(ctx.dir).read_text()
    assert 'id="outside-files"' not in client.get("/projects/mira/captions").text


def test_a_thumbnail_only_by_id_of_this_project(
    client: TestClient,
    mira: Project,
    workspace: Workspace,
    make_intent,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    other, _ = create_project(workspace, make_intent(name="Other", trigger_word="zkother"))
    root = dataset_dir(workspace.context(other))
    b.save(b.photo(1), root / "a.png")
    run_project_audit(workspace.context(other))
    other_id = load_rows(workspace.context(other))[0].id
    assert client.get(f"/projects/other/images/{other_id}/thumb").status_code == 200
    assert client.get(f"/projects/mira/images/{other_id}/thumb").status_code == 404
    assert client.get("/projects/mira/images/..%2F..%2Fetc%2Fpasswd/thumb").status_code in (
        404,
        422,
    )


def test_a_thumbnail_never_follows_a_file_swapped_for_a_link(
    client: TestClient, mira: Project, workspace: Workspace, settings: Settings, tmp_path: Path
) -> None:
    """After the audit, dataset files are replaced by links (one out of the dataset, one
    to another dataset image): their thumbnails are the placeholder, nothing is read
    through the links, nothing fails."""
    ctx = workspace.context(mira)
    root = dataset_dir(ctx)
    for name, seed in (("out.png", 1), ("in.png", 2), ("kept.png", 3)):
        b.save(b.photo(seed, (256, 256)), root / name)
    run_project_audit(ctx)
    ids = {row.path: row.id for row in load_rows(ctx)}
    secret = b.save(b.photo(4, (256, 256)), tmp_path / "secret.png")
    (root / "out.png").unlink()
    os.symlink(secret, root / "out.png")
    (root / "in.png").unlink()
    os.symlink(root / "kept.png", root / "in.png")
    for name in ("out.png", "in.png"):
        response = client.get(f"/projects/mira/images/{ids[name]}/thumb")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("image/svg+xml"), name
    assert not (settings.data_dir / "thumbs").exists()  # nothing was decoded
    kept = client.get(f"/projects/mira/images/{ids['kept.png']}/thumb")
    assert kept.headers["content-type"] == "image/webp"
    assert len(list((settings.data_dir / "thumbs").rglob("*.webp"))) == 1


def test_refused_folders_say_why(client: TestClient, mira: Project, tmp_path: Path) -> None:
    page = client.post("/projects/mira/dataset/import/folder", data={"source": "pictures/mira"})
    assert page.status_code == 422 and "is not a full path" in page.text
    assert 'value="pictures/mira"' in page.text  # what was typed is kept
    partial = client.post(
        "/projects/mira/dataset/import/folder", data={"source": str(tmp_path / "nope")}, headers=HX
    )
    assert partial.status_code == 422 and "Nothing exists" in partial.text
    assert "<html" not in partial.text and "toast" in partial.text


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("/tmp/" + "a" * 300, "is 300 bytes long; a file or folder name can be at most 255 bytes"),
        ("~nosuchuser/x", "this computer has no such user"),
    ],
)
def test_paths_no_file_system_takes_are_refused_not_500(
    client: TestClient, mira: Project, source: str, words: str
) -> None:
    page = client.post("/projects/mira/dataset/import/folder", data={"source": source})
    assert page.status_code == 422 and words in page.text
    assert "512 MB per file" in page.text  # the one per-file limit, named where it applies


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    b.photo(seed, (512, 512)).save(buffer, "PNG")
    return buffer.getvalue()


def _upload_zip(client: TestClient, name: str, archive: bytes) -> Response:
    return client.post(
        "/projects/mira/dataset/import/zip",
        files={"archive": (name, archive, "application/zip")},
        follow_redirects=False,
    )


def test_zip_upload_imports_and_malicious_zips_are_refused(
    client: TestClient, mira: Project, workspace: Workspace, settings: Settings
) -> None:
    good = _zip_bytes({"6_mira/a.png": _png(1), "6_mira/a.txt": TRIGGER.encode()})
    assert _upload_zip(client, "set.zip", good).status_code == 303
    job = finish(client, mira)
    assert job.result["import"]["images"] == ["6_mira/a.png"]
    assert "the zip set.zip" in job.result["import"]["source"]

    slip = _zip_bytes({"ok.png": _png(2), "../../escape.png": _png(3)})
    refused = _upload_zip(client, "evil.zip", slip)
    assert refused.status_code == 422 and "zip slip" in refused.text
    bomb = _zip_bytes({"zeros.png": b"\x00" * (4 * 1024 * 1024)})
    refused = _upload_zip(client, "bomb.zip", bomb)
    assert refused.status_code == 422 and "zip bombs" in refused.text
    ctx = workspace.context(mira)
    assert sorted(p.name for p in dataset_dir(ctx).rglob("*.png")) == ["a.png"]
    assert not list((settings.data_dir / "staging").iterdir())  # staging cleaned up
    assert not (settings.training_dir.parent / "escape.png").exists()


def test_dropped_files_keep_their_folders(
    client: TestClient, mira: Project, workspace: Workspace
) -> None:
    files = [
        ("files", ("a.png", _png(4), "image/png")),
        ("files", ("a.txt", TRIGGER.encode(), "text/plain")),
        ("files", ("b.png", _png(5), "image/png")),
        ("files", ("evil.png", _png(6), "image/png")),
    ]
    paths = json.dumps(["3_mira/a.png", "3_mira/a.txt", "b.png", "../evil.png"])
    response = client.post(
        "/projects/mira/dataset/import/files", files=files, data={"paths": paths}, headers=HX
    )
    assert response.status_code == 204
    assert response.headers["hx-redirect"] == f"{BASE_URL}/projects/mira/dataset"
    job = finish(client, mira)
    assert sorted(job.result["import"]["images"]) == ["3_mira/a.png", "b.png"]
    assert job.result["import"]["captions"] == ["3_mira/a.txt"]
    assert {"path": "../evil.png", "why": "a path that leaves its folder: refused"} in job.result[
        "import"
    ]["refused"]
    assert {item.path for item in inventory(workspace.context(mira))} == {"3_mira/a.png", "b.png"}


def test_a_zip_whose_entries_clash_imports_the_rest(
    client: TestClient, mira: Project, settings: Settings
) -> None:
    """``a.png`` and ``a.png/b.png`` cannot both be written: the second is listed as not
    imported, the rest imports, and no staging folder is left behind."""
    archive = _zip_bytes({"a.png": _png(8), "a.png/b.png": _png(9), "c.png": _png(10)})
    assert _upload_zip(client, "clash.zip", archive).status_code == 303
    job = finish(client, mira)
    assert job.result["import"]["images"] == ["a.png", "c.png"]
    assert {
        "path": "a.png/b.png",
        "why": "its folder has the name of a file in the zip",
    } in job.result["import"]["refused"]
    assert not list((settings.data_dir / "staging").iterdir())


def test_names_that_are_not_utf8_never_poison_the_project(
    client: TestClient, mira: Project, workspace: Workspace, tmp_path: Path
) -> None:
    """Imported (from a folder or dropped files) under a clean name, listed as renamed;
    a file with such a name put in the dataset folder by hand is a finding, and no page
    or job fails because of it."""
    source = tmp_path / "source"
    b.save(b.photo(710, (512, 512)), b.raw_name(source, b"caf\xe9.png"))
    b.raw_name(source, b"caf\xe9.txt").write_text(f"{TRIGGER}, a cup")
    b.save(b.photo(711, (512, 512)), source / "plain.png")
    client.post("/projects/mira/dataset/import/folder", data={"source": str(source)})
    imported = finish(client, mira).result["import"]
    assert sorted(imported["images"]) == ["café.png", "plain.png"]
    assert imported["captions"] == ["café.txt"]
    assert imported["renamed"][0]["from"] == "caf\\xe9.png"
    page = client.get("/projects/mira/dataset").text
    assert "<code>caf\\xe9.png</code> → <code>café.png</code>: its name was not valid UTF-8" in page

    dropped = client.post(
        "/projects/mira/dataset/import/files",
        files=[("files", ("x.png", _png(713), "image/png"))],
        data={"paths": json.dumps(["r\udce9sum\udce9.png"])},
        headers=HX,
    )
    assert dropped.status_code == 204
    renamed = finish(client, mira).result["import"]["renamed"]
    assert renamed[0]["from"] == "r\\xe9sum\\xe9.png" and renamed[0]["to"] == "résumé.png"

    ctx = workspace.context(mira)
    b.save(b.photo(712, (512, 512)), b.raw_name(dataset_dir(ctx), b"na\xefve.png"))
    for path in ("", "/dataset", "/audit", "/captions", "/curate", "/config", "/gates/dataset"):
        assert client.get(f"/projects/mira{path}").status_code == 200, path
    client.post("/projects/mira/audit/run")
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    audit = jobs.wait(jobs.latest(AUDIT_JOB, mira.id).id, 60)
    assert audit.state == "done", audit.error
    findings = client.get("/projects/mira/audit").text
    assert "The name “na\\xefve.png” is not valid UTF-8 text" in findings
    assert {item.path for item in inventory(ctx)} == {"café.png", "plain.png", "résumé.png"}
    assert client.get("/projects/mira/config").status_code == 200


def test_uploads_over_the_limit_are_refused(settings: Settings, mira: Project) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 10_000})
    with TestClient(create_app(small), base_url=BASE_URL) as client:
        response = client.post(
            "/projects/mira/dataset/import/files",
            files=[("files", ("a.png", _png(7), "image/png"))],
        )
    assert response.status_code == 413 and "accepts at most" in response.text


@pytest.fixture
def audited(client: TestClient, mira: Project, tmp_path: Path) -> Iterator[Job]:
    client.post(
        "/projects/mira/dataset/import/folder", data={"source": str(source_folder(tmp_path / "s"))}
    )
    yield finish(client, mira)


def test_decisions_answer_with_the_audit_body(
    client: TestClient, mira: Project, workspace: Workspace, audited: Job
) -> None:
    ctx = workspace.context(mira)
    rows = {row.path: row for row in load_rows(ctx)}
    members = [rows["8_mira/0.png"].id, rows["8_mira/copy.bmp"].id]
    partial = client.post(
        "/projects/mira/duplicates/keep",
        data={"member": members, "keep": members[0]},
        headers=HX,
    )
    assert partial.status_code == 200 and "<html" not in partial.text
    assert 'data-kind="exact"' not in partial.text
    assert "duplicate of 8_mira/0.png" in partial.text
    assert {r.path for r in load_rows(ctx) if not r.included} == {"8_mira/copy.bmp"}

    include = client.post(
        f"/projects/mira/images/{members[1]}/included", data={"included": 1}, follow_redirects=False
    )
    assert include.status_code == 303
    assert 'data-kind="exact"' in client.get("/projects/mira/audit").text  # the group is back

    refused = client.post("/projects/mira/duplicates/threshold", data={"threshold": 99}, headers=HX)
    assert refused.status_code == 400 and "from 0 (identical only)" in refused.text
    journal = client.get("/projects/mira").text
    assert "Kept 8_mira/0.png of a duplicate group" in journal
    assert "Included 8_mira/copy.bmp." in journal


def test_job_progress_partial_and_cancel(client: TestClient, mira: Project, audited: Job) -> None:
    partial = client.get(f"/projects/mira/jobs/{audited.id}", params={"watching": 1})
    assert partial.status_code == 200 and partial.headers["hx-refresh"] == "true"
    assert 'data-state="done"' in partial.text and "sse-connect" not in partial.text
    cancel = client.post(f"/projects/mira/jobs/{audited.id}/cancel", headers=HX)
    assert cancel.status_code == 200 and 'data-state="done"' in cancel.text
    assert client.get("/projects/mira/jobs/999999").status_code == 404


@pytest.mark.usefixtures("no_leftover_jobs")
def test_a_running_job_follows_its_events_and_can_be_cancelled(
    client: TestClient, mira: Project
) -> None:
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    job = jobs.start(HOLD, mira.id, title="Auditing the dataset")
    deadline = time.monotonic() + 30
    while jobs.get(job.id).done != 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the supervisor stores the child's first progress event
    partial = client.get(f"/projects/mira/jobs/{job.id}", params={"watching": 1})
    assert "hx-refresh" not in partial.headers
    assert f"/jobs/{job.id}/events?after=" in partial.text and "sse-connect=" in partial.text
    assert 'hx-trigger="sse:progress' in partial.text and "every 1s" not in partial.text
    assert "Cancel" in partial.text and "3 of 10" in partial.text
    assert "Reload this page" in partial.text  # inside <noscript>
    audit = client.get("/projects/mira/audit").text
    assert f'id="job-{job.id}"' in audit  # a reload shows the job where it stands
    client.post(f"/projects/mira/jobs/{job.id}/cancel", headers=HX)
    assert jobs.wait(job.id, 20).state == "cancelled"
    done = client.get(f"/projects/mira/jobs/{job.id}", params={"watching": 1})
    assert done.headers["hx-refresh"] == "true" and 'data-state="cancelled"' in done.text
    assert "Cancelled. Nothing was lost." in done.text and "Resume" in done.text


@pytest.mark.usefixtures("no_leftover_jobs")
def test_an_import_cut_by_a_restart_says_so_and_resumes(
    settings: Settings, mira: Project, tmp_path: Path, workspace: Workspace
) -> None:
    """Issue 12 item 13: a restart during an import said "Cancelled. Nothing was lost."
    though nobody cancelled."""
    source = source_folder(tmp_path / "source")
    with TestClient(create_app(settings), base_url=BASE_URL) as first:
        first.post("/projects/mira/dataset/import/folder", data={"source": str(source)})
        job = first.app.state.jobs.latest(IMPORT_JOB, mira.id)  # type: ignore[attr-defined]
    # The computer restarts: the job's processes are gone with the server.
    os.killpg(job.pid, signal.SIGKILL)
    while psutil.pid_exists(job.pid) and psutil.Process(job.pid).status() != "zombie":
        time.sleep(0.05)
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        jobs = client.app.state.jobs  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while jobs.get(job.id).state == "running" and time.monotonic() < deadline:
            time.sleep(0.05)  # the new server's supervisor finds the process gone
        page = client.get("/projects/mira/dataset").text
        assert "Interrupted by a restart" in page and "Cancelled" not in page
        assert f'action="{BASE_URL}/projects/mira/jobs/{job.id}/resume"' in page
        resumed = client.post(f"/projects/mira/jobs/{job.id}/resume", follow_redirects=False)
        assert resumed.status_code == 303
        assert resumed.headers["location"] == f"{BASE_URL}/projects/mira/dataset"
        again = finish(client, mira)
        assert again.id != job.id and again.params == job.params
        # The killed child may have copied a few files before it died (how many depends on
        # the machine's speed): Resume copies the rest, and the dataset ends up whole.
        report = again.result["import"]
        assert len(report["images"]) + len(report["unchanged"]) == 6
        assert "Imported " in client.get("/projects/mira/dataset").text
        copied = {path.name for path in dataset_dir(workspace.context(mira)).rglob("*.*")}
        assert copied == {f"{seed}.{ext}" for seed in range(5) for ext in ("png", "txt")} | {
            "copy.bmp",
            "copy.txt",
        }
        refused = client.post(f"/projects/mira/jobs/{again.id}/resume")
        assert refused.status_code == 409 and "Only a stopped job can be resumed" in refused.text
