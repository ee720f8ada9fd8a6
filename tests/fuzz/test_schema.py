"""Schema-driven fuzzing of every route, in process.

schemathesis turns each operation of the app's own OpenAPI schema (``app.openapi()``,
generated but never served) into a hypothesis strategy, and sends what it generates
through its ASGI transport to an app over a real SQLite file holding a project of real
images. Every URL names that project, so requests get past the project lookup into the
route bodies. Every answer must be below 500, with a status and a media type the
schema declares: a schema-driven client can trust it.

Deterministic and bounded: hypothesis is derandomized and keeps no example database;
``make test`` sends FUZZ_EXAMPLES requests per operation (well under a minute in all),
``make fuzz`` many more (the LORAGATE_FUZZ_EXAMPLES variable).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from traceback import format_exception_only
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app.main import create_app
from app.settings import Settings
from app.workspace import Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent, write_images
from tests.conftest import BASE_URL

FUZZ_EXAMPLES = int(os.environ.get("LORAGATE_FUZZ_EXAMPLES", "10"))
SLUG = "mira"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.fixture
def api(settings: Settings, workspace: Workspace, make_intent) -> Iterator[OpenApiSchema]:  # type: ignore[no-untyped-def]
    caption_project(
        workspace,
        mira_intent(make_intent),
        [f"{TRIGGER}, owl, red scarf", f"{TRIGGER}, cat", "lighthouse", None],
    )
    app = create_app(settings)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    yield schema
    # schemathesis started the app's lifespan on its first request; end it (the job
    # runner and the database) before tmp_path goes.
    asgi.shutdown_lifespans()


def _exists(text: str) -> bool:
    try:
        return Path(text).expanduser().exists()
    except (OSError, RuntimeError, ValueError):
        return False


def _aim(case: Any, incoming: Path) -> None:
    """Every URL names the project; a folder import never copies this machine's own
    folders (a generated "/" is a real path)."""
    if "slug" in (case.path_parameters or {}):
        case.path_parameters["slug"] = SLUG
    if isinstance(case.body, dict) and _exists(str(case.body.get("source", ""))):
        case.body["source"] = str(incoming)


def _fuzz(operation: Any, incoming: Path) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=FUZZ_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        _aim(case, incoming)
        response = case.call(base_url=BASE_URL, allow_redirects=False)
        case.validate_response(response, checks=CHECKS)

    run()


def test_every_route_answers_only_what_the_schema_declares(
    api: OpenApiSchema, tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    write_images(incoming, ["owl", None])
    failures = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 40  # every router is in the schema
    for operation in operations:
        try:
            _fuzz(operation, incoming)
        except Exception as exc:  # report every operation's failure, not just the first
            # format_exception_only keeps the notes: schemathesis adds a curl command.
            failures.append(f"{operation.label}: {''.join(format_exception_only(exc))}")
    assert not failures, "\n\n".join(failures)
