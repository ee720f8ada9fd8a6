"""The OpenAPI schema says what each route answers (tests/fuzz holds the app to it),
and is generated without being served."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def _responses(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = schema["paths"][path][method]["responses"]
    return responses


def test_the_schema_is_generated_but_not_served(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/redoc").status_code == 404
    schema = client.app.openapi()  # type: ignore[attr-defined]
    assert "/projects/{slug}/captions/{image_id}/approve" in schema["paths"]


def test_routes_declare_their_redirects_refusals_and_files(client: TestClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    approve = _responses(schema, "post", "/projects/{slug}/captions/{image_id}/approve")
    assert {"200", "303", "400", "404", "409", "422", "403", "421"} <= approve.keys()
    assert "content" not in approve["303"]  # a redirect has no body
    assert approve["409"]["content"] == {"text/html": {}}
    thumb = _responses(schema, "get", "/projects/{slug}/images/{image_id}/thumb")
    assert "image/webp" in thumb["200"]["content"] and "304" in thumb
    bundle = _responses(schema, "get", "/projects/{slug}/config/files/{backend}.zip")
    assert bundle["200"]["content"] == {"application/zip": {}}
    upload = schema["paths"]["/projects/{slug}/dataset/import/zip"]["post"]
    assert (
        "archive" in upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    )
    assert {"411", "413"} <= upload["responses"].keys()
    report = _responses(schema, "get", "/projects/{slug}/report")
    assert "200" not in report and "303" in report  # it only ever redirects


def test_every_error_is_declared_as_a_page_not_json(client: TestClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    content = set(response.get("content", {}))
                    assert content <= {"text/html", "text/plain"}, (method, path, status)
            assert "403" in operation["responses"] or method == "get", (method, path)


def test_id_parameters_carry_sqlites_bounds(client: TestClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    card = schema["paths"]["/projects/{slug}/captions/{image_id}/card"]["get"]
    (image_id,) = [p for p in card["parameters"] if p["name"] == "image_id"]
    assert image_id["schema"]["minimum"] == 1
    assert image_id["schema"]["maximum"] == 2**63 - 1


def test_token_mode_declares_the_token_refusal(client: TestClient, settings: Settings) -> None:
    remote = settings.model_copy(update={"host": "0.0.0.0", "access_token": "s3cret-token"})
    schema = create_app(remote).openapi()
    assert {"401", "303"} <= _responses(schema, "get", "/").keys()
    local = client.app.openapi()  # type: ignore[attr-defined]
    assert "401" not in _responses(local, "get", "/")
