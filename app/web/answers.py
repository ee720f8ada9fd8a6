"""What each route answers, declared in the OpenAPI schema so that a schema-driven client
or fuzzer (tests/fuzz) can trust it. The schema is generated (``app.openapi()``) but
not served: the artist's browser has no use for it.

A route declares its own answers with ``responses=answers(303, 409)``; what every route
shares (the security middleware's refusals, an unreadable form, a value that does not
fit its field) is added to the whole schema by ``complete_schema``. Every error is a
page, or for HTMX a toast partial, in plain words: errors declare text/html. A redirect
has no body.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse

HTML: dict[str, Any] = {"text/html": {}}
PLAIN: dict[str, Any] = {"text/plain": {}}

_ANSWERS: dict[int, dict[str, Any]] = {
    204: {"description": "Done (HTMX request): the HX-Redirect header names the page to show."},
    303: {"description": "Done: the browser is sent to the page that shows the result."},
    400: {"description": "Refused: the page says why and what to do.", "content": HTML},
    404: {"description": "No such project, image, job, file or document.", "content": HTML},
    409: {
        "description": "Not now: another job is running, or the page was out of date.",
        "content": HTML,
    },
    411: {"description": "The upload did not say how large it is.", "content": HTML},
    413: {"description": "The upload is larger than loragate accepts.", "content": HTML},
    422: {"description": "Something sent cannot be used; the page says what.", "content": HTML},
}

# What the security middleware answers before any route runs (app.web.security).
_REFUSALS: dict[int, dict[str, Any]] = {
    401: {"description": "Token mode: the access token is missing or wrong.", "content": PLAIN},
    403: {"description": "The change came from another website.", "content": PLAIN},
    421: {"description": "The request named a host other than this server.", "content": PLAIN},
}
# Token mode: any GET with ?token=... sets the cookie and comes back without it.
_TOKEN_LANDING = {"description": "The token is now a cookie: the browser is sent back."}
# The decorator arguments for a route that only ever redirects: a 303 without a body in
# the schema, and no 200.
ONLY_REDIRECTS: dict[str, Any] = {"response_class": RedirectResponse, "status_code": 303}
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The declared answers for ``statuses``, for a route's or a router's ``responses``."""
    return {status: _ANSWERS[status] for status in statuses}


def media(status: int, media_type: str) -> dict[int | str, dict[str, Any]]:
    """A status whose body is a file of ``media_type`` (a thumbnail, a zip)."""
    return {status: {"description": "The file.", "content": {media_type: {}}}}


def multipart_body(**fields: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its multipart form itself (an upload),
    so that the schema still says what it takes."""
    schema = {"type": "object", "properties": fields}
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}


FILE: dict[str, Any] = {"type": "string", "format": "binary"}


def complete_schema(schema: dict[str, Any], *, token_mode: bool) -> dict[str, Any]:
    """Add what every operation may answer to an OpenAPI schema FastAPI generated."""
    for methods in schema.get("paths", {}).values():
        for method, operation in methods.items():
            responses = operation.setdefault("responses", {})
            shared = [421] + ([401] if token_mode else [])
            if method in UNSAFE_METHODS:
                shared.append(403)
            for status in shared:
                responses.setdefault(str(status), _REFUSALS[status])
            if token_mode and method == "get":
                responses.setdefault("303", _TOKEN_LANDING)
            if "requestBody" in operation:
                # Starlette refuses a form it will not read (a field over 1 MB, more than
                # 1,000 fields) with 400; app.main turns it into words.
                responses.setdefault("400", _ANSWERS[400])
            if "422" in responses:
                # FastAPI declares its JSON validation error; app.main answers a page.
                responses["422"] = _ANSWERS[422]
    return schema
