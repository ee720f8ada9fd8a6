"""Request guards for a server that runs on the artist's own machine.

- DNS rebinding: a page on evil.example can resolve its name to 127.0.0.1 and talk to
  us from the browser, so requests whose Host is not a loopback name (or the host we
  were told to listen on) are refused (the approach of Jupyter's and Vite's host
  checks).
- CSRF: unsafe methods must come from our own origin. Browsers send ``Sec-Fetch-Site``;
  when it is present it must be ``same-origin`` or ``none``, else ``Origin`` must match
  ``Host``. Requests without either header are not from a browser and pass. This is
  Filippo Valsorda's "CSRF without tokens" design
  (https://words.filippo.io/csrf/), the one Go 1.25's CrossOriginProtection follows.
- Access token: when loragate listens beyond loopback, every request needs the token
  (``Authorization: Bearer``, or the cookie set by visiting ``/?token=...`` once).
  Cookies are shared by every port of a host, so the Cookie header also carries other
  local apps' cookies, in whatever syntax they chose: it is read as browsers write it
  (Starlette's ``cookie_parser``), never with the strict ``http.cookies`` grammar.
- Every response: nosniff, no framing, a Content-Security-Policy without inline script.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import LOOPBACK_HOSTS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_COOKIE = "loragate_token"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'"
    ),
}


def token_cookies(cookie_header: str) -> list[str]:
    """Every value of the token cookie in a Cookie header. Two loragate servers on one
    host (two ports) each set one, so the header may hold several: any may be ours."""
    values = []
    for chunk in cookie_header.split(";"):
        values += [value for name, value in cookie_parser(chunk).items() if name == TOKEN_COOKIE]
    return values


def landing_location(path: str, query_string: str) -> str:
    """Where ``/any/path?token=...`` sends the browser once the cookie is set: the same
    path on this server, with the other query parameters and without the token."""
    # A path like //evil.example/x (or /\evil.example, which browsers read the same)
    # would be a link to another site: the location is one slash and an encoded path.
    location = "/" + quote(path, safe="/:@!$&'()*+,;=~-._").lstrip("/")
    kept = [(k, v) for k, v in parse_qsl(query_string, keep_blank_values=True) if k != "token"]
    return location + ("?" + urlencode(kept) if kept else "")


def host_name(host_header: str) -> str:
    """'127.0.0.1:8765' → '127.0.0.1', '[::1]:8765' → '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class SecurityMiddleware:
    def __init__(
        self, app: ASGIApp, *, extra_hosts: Iterable[str] = (), access_token: str | None = None
    ) -> None:
        self.app = app
        self.allowed_hosts = frozenset(LOOPBACK_HOSTS | {h.lower() for h in extra_hosts})
        self.access_token = access_token
        # Beyond loopback the server is reached by whatever name the network gives it;
        # the token, which a rebinding page cannot know, then does the Host check's job.
        self.any_host = access_token is not None and "*" in self.allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    response_headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(
        self, scope: Scope, headers: Headers
    ) -> PlainTextResponse | RedirectResponse | None:
        host = host_name(headers.get("host", ""))
        if host not in self.allowed_hosts and not self.any_host:
            return PlainTextResponse(
                "This loragate server only answers to its own address "
                "(http://127.0.0.1 or http://localhost). The request named another "
                "host, which is how DNS-rebinding attacks reach local servers.",
                status_code=421,
            )
        if self.access_token is not None:
            token_refusal = self._check_token(scope, headers)
            if token_refusal is not None:
                return token_refusal
        method = scope.get("method", "GET")
        if method not in SAFE_METHODS and not self._same_origin(headers):
            return PlainTextResponse(
                "Refused: this change came from another website. loragate only accepts "
                "changes made from its own pages.",
                status_code=403,
            )
        return None

    @staticmethod
    def _same_origin(headers: Headers) -> bool:
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site in ("same-origin", "none")
        origin = headers.get("origin")
        if origin is None:
            return True  # not a browser (curl, the CLI, tests): no ambient credentials
        if origin == "null":
            return False
        return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()

    def _check_token(
        self, scope: Scope, headers: Headers
    ) -> PlainTextResponse | RedirectResponse | None:
        assert self.access_token is not None
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer ") and self._token_ok(authorization[7:]):
            return None
        if any(self._token_ok(value) for value in token_cookies(headers.get("cookie", ""))):
            return None
        query_string = scope.get("query_string", b"").decode("latin-1")
        offered = next((v for k, v in parse_qsl(query_string) if k == "token"), "")
        if offered and self._token_ok(offered) and scope.get("method") == "GET":
            location = landing_location(scope.get("path", "/"), query_string)
            response = RedirectResponse(location, status_code=303)
            response.set_cookie(TOKEN_COOKIE, offered, httponly=True, samesite="strict")
            return response
        return PlainTextResponse(
            "This loragate server needs its access token. Open the address it printed "
            "when it started (it ends with ?token=...).",
            status_code=401,
        )

    def _token_ok(self, offered: str) -> bool:
        assert self.access_token is not None
        return hmac.compare_digest(offered.encode(), self.access_token.encode())
