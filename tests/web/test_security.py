"""The security baseline, checked over HTTP and, where httpx would normalise the attack
away, by calling the ASGI app with a raw scope."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import InsecureBindError, Settings, check_bind


def test_loopback_host_is_served(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("host", ["localhost:8765", "[::1]:8765", "127.0.0.1"])
def test_every_loopback_name_is_accepted(client: TestClient, host: str) -> None:
    assert client.get("/", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "192.168.1.20:8765"]
)
def test_foreign_host_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/", headers={"host": host})
    assert response.status_code == 421
    assert "DNS-rebinding" in response.text


def test_cross_site_post_is_refused_and_nothing_is_created(client: TestClient, make_intent) -> None:  # type: ignore[no-untyped-def]
    form = make_intent().model_dump() | {"understood": "yes"}
    response = client.post("/projects", data=form, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert "another website" in response.text
    assert "Ink wash" not in client.get("/").text


def test_foreign_origin_post_is_refused(client: TestClient, make_intent) -> None:  # type: ignore[no-untyped-def]
    form = make_intent().model_dump() | {"understood": "yes"}
    response = client.post("/projects", data=form, headers={"origin": "http://evil.example"})
    assert response.status_code == 403


def test_same_origin_post_is_accepted(client: TestClient, make_intent) -> None:  # type: ignore[no-untyped-def]
    form = make_intent().model_dump() | {"understood": "yes"}
    response = client.post(
        "/projects",
        data=form,
        headers={"origin": "http://127.0.0.1:8765", "sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("/projects/ink-wash")


def test_null_origin_post_is_refused(client: TestClient) -> None:
    assert client.post("/projects", data={}, headers={"origin": "null"}).status_code == 403


def _raw_get(app: Any, path: str, host: bytes = b"127.0.0.1:8765") -> tuple[int, bytes]:
    """Call the ASGI app with a path exactly as given (httpx would clean '..' away)."""
    status, _, body = _raw_request(app, path, host=host)
    return status, body


def _raw_request(
    app: Any, path: str, *, query: bytes = b"", host: bytes = b"127.0.0.1:8765"
) -> tuple[int, dict[str, str], bytes]:
    """_raw_get with a query string, answering the response headers too."""
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", host)],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8765),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    # A thread of its own: Playwright's sync API may hold an event loop in this one.
    worker = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))
    worker.start()
    worker.join()
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], headers, body


@pytest.mark.parametrize(
    "path",
    [
        "/docs/../pyproject",
        "/docs/../../etc/passwd",
        "/docs/%2e%2e/pyproject",
        "/docs/..%2fpyproject",
        "/docs/training-concepts/../../pyproject",
        "/static/../pyproject.toml",
        "/static/..%2fpyproject.toml",
        "/static/%2e%2e/app/settings.py",
    ],
)
def test_traversal_through_raw_scope_is_refused(settings: Settings, path: str) -> None:
    app = create_app(settings)
    status, body = _raw_get(app, path)
    assert status == 404
    assert b"[project]" not in body and b"root:" not in body and b"BaseSettings" not in body


def test_raw_scope_with_foreign_host_is_refused(settings: Settings) -> None:
    status, _ = _raw_get(create_app(settings), "/", host=b"attacker.example")
    assert status == 421


def test_non_loopback_bind_without_token_is_refused(settings: Settings) -> None:
    with pytest.raises(InsecureBindError, match="LORAGATE_ACCESS_TOKEN"):
        check_bind(settings.model_copy(update={"host": "0.0.0.0"}))
    check_bind(settings.model_copy(update={"host": "0.0.0.0", "access_token": "s3cret-token"}))


def test_token_is_required_beyond_loopback(settings: Settings) -> None:
    remote = settings.model_copy(update={"host": "0.0.0.0", "access_token": "s3cret-token"})
    with TestClient(create_app(remote), base_url="http://192.168.1.20:8765") as client:
        assert client.get("/").status_code == 401
        assert client.get("/", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        landing = client.get("/?token=s3cret-token", follow_redirects=False)
        assert landing.status_code == 303
        assert "loragate_token" in landing.headers["set-cookie"]
        assert client.get("/").status_code == 200  # the cookie now carries the token


TOKEN = "s3cret-token"


@pytest.fixture
def remote(settings: Settings) -> Settings:
    """Token mode, as the Docker recipe runs it."""
    return settings.model_copy(update={"host": "0.0.0.0", "access_token": TOKEN})


@pytest.mark.parametrize(
    "others",
    [
        'prefs={"theme": "dark", "size": 2}',  # JSON, as many local apps store settings
        "greeting=hello world",  # a space
        "name=Zoé".encode().decode("latin-1"),  # UTF-8 bytes, as a browser sends them
        "a=b; $foo=bar",  # a name the old cookie grammar reserved
        "flag; other=1",  # a cookie without a value
    ],
)
def test_the_token_cookie_is_read_beside_any_other_local_apps_cookies(
    remote: Settings, others: str
) -> None:
    """Cookies are shared by every port of a host: another local web app's cookies
    arrive with ours, in whatever syntax it chose, and must not lock the artist out."""
    with TestClient(create_app(remote), base_url="http://192.168.1.20:8765") as client:
        for cookie in (f"{others}; loragate_token={TOKEN}", f"loragate_token={TOKEN}; {others}"):
            response = client.get("/", headers={"cookie": cookie.encode("latin-1")})
            assert response.status_code == 200, cookie
        without = client.get("/", headers={"cookie": others.encode("latin-1")})
        assert without.status_code == 401
        assert "needs its access token" in without.text


def test_a_second_loragate_on_another_port_does_not_hide_our_cookie(remote: Settings) -> None:
    cookie = f"loragate_token={TOKEN}; loragate_token=the-other-servers-token"
    with TestClient(create_app(remote), base_url="http://192.168.1.20:8765") as client:
        assert client.get("/", headers={"cookie": cookie}).status_code == 200
        other_only = client.get("/", headers={"cookie": "loragate_token=the-other-servers-token"})
        assert other_only.status_code == 401


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("//evil.example/..", b"token=" + TOKEN.encode(), "/evil.example/.."),
        ("///evil.example/x", b"token=" + TOKEN.encode(), "/evil.example/x"),
        ("/\\evil.example/x", b"token=" + TOKEN.encode(), "/%5Cevil.example/x"),
        ("/projects/ink-wash", b"token=" + TOKEN.encode(), "/projects/ink-wash"),
        (
            "/projects/ink-wash/captions",
            b"filter=draft&token=" + TOKEN.encode() + b"&page=2",
            "/projects/ink-wash/captions?filter=draft&page=2",
        ),
    ],
)
def test_the_token_landing_redirects_only_to_this_server(
    remote: Settings, path: str, query: bytes, location: str
) -> None:
    """Through a raw scope: httpx would read //evil.example as a host."""
    status, headers, _ = _raw_request(create_app(remote), path, query=query)
    assert status == 303
    assert headers["location"] == location
    assert "loragate_token=" in headers["set-cookie"]
