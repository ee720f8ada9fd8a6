"""A small Hugging Face Hub stand-in for the tests: a real HTTP server on a free port that
answers the requests huggingface_hub makes to download a file — HEAD and GET on
``/{repo}/resolve/{revision}/{file}`` with ``X-Repo-Commit``, ``ETag`` /
``X-Linked-Etag`` (the LFS SHA-256), ``X-Linked-Size``, ``Content-Length`` and Range
requests for resuming — for a few repositories of tiny files made by the tests. Point
``HF_ENDPOINT`` at ``url``. Every request is counted, so a test can prove that none was
made. Gated repositories answer 401 with the hub's ``X-Error-Code: GatedRepo``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save

from tests.live_server import free_port

LFS_SUFFIXES = (".safetensors", ".onnx")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


def tiny_checkpoint(padding_bytes: int = 64 * 1024) -> bytes:
    """A safetensors file whose header reads as Stable Diffusion 1.x (its cross-attention
    reads 768-wide text features), padded to ``padding_bytes`` of weights."""
    tensors = {
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (
            np.ones((4, 768), dtype=np.float16)
        ),
        "model.diffusion_model.padding": np.arange(padding_bytes, dtype=np.uint8),
    }
    return save(tensors)


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    gated: bool = False
    corrupt: set[str] = field(default_factory=set)  # served with one byte changed

    def etag(self, name: str) -> str:
        data = self.files[name]
        if name.endswith(LFS_SUFFIXES):
            return hashlib.sha256(data).hexdigest()
        return git_blob_sha1(data)

    def served(self, name: str) -> bytes:
        data = self.files[name]
        if name in self.corrupt:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        return data


@dataclass
class Request:
    method: str
    path: str
    range: str | None


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        # Slow serving: after this many bytes of a GET, send 64 KB every slow_delay s.
        self.slow_after: int | None = None
        self.slow_delay = 0.1
        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                return None

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _error(self, status: int, code: str, message: str, commit: str = "") -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                if commit:
                    self.send_header("X-Repo-Commit", commit)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _answer(self, body: bool) -> None:
                hub.requests.append(Request(self.command, self.path, self.headers.get("Range")))
                match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path)
                repo = hub.repos.get(match.group(1)) if match else None
                if match is None or repo is None:
                    self._error(404, "RepoNotFound", "Repository not found")
                    return
                revision, name = match.group(2), match.group(3)
                if repo.gated:
                    self._error(
                        401,
                        "GatedRepo",
                        f"Access to model {match.group(1)} is restricted. You must have "
                        "access to it and be authenticated to access it. Please log in.",
                    )
                    return
                if revision not in ("main", repo.commit):
                    self._error(404, "RevisionNotFound", "Invalid rev id")
                    return
                if name not in repo.files:
                    self._error(404, "EntryNotFound", "Entry not found", repo.commit)
                    return
                data = repo.served(name)
                start = 0
                wanted = self.headers.get("Range")
                ranged = wanted is not None and _RANGE.match(wanted) is not None
                if ranged:
                    start = int(_RANGE.match(wanted).group(1))  # type: ignore[union-attr]
                self.send_response(206 if ranged and body else 200)
                self.send_header("X-Repo-Commit", repo.commit)
                etag = repo.etag(name)
                self.send_header("ETag", f'"{etag}"')
                if name.endswith(LFS_SUFFIXES):
                    self.send_header("X-Linked-Etag", f'"{etag}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Accept-Ranges", "bytes")
                part = data[start:] if body else data
                if ranged and body:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if body:
                    self._send(part, start)

            def _send(self, part: bytes, start: int) -> None:
                sent = 0
                try:
                    while sent < len(part):
                        slow = hub.slow_after is not None and start + sent >= hub.slow_after
                        step = 64 * 1024 if slow else len(part) - sent
                        if hub.slow_after is not None and not slow:
                            step = min(step, hub.slow_after - start - sent)
                        self.wfile.write(part[sent : sent + step])
                        self.wfile.flush()
                        sent += step
                        if slow:
                            time.sleep(hub.slow_delay)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler


def _file_toml(item: tuple[str, int] | dict[str, Any]) -> str:
    """A file as (name, size), or as a mapping with a base model part's keys."""
    fields = dict(zip(("name", "size"), item, strict=True)) if isinstance(item, tuple) else item
    return (
        "{ "
        + ", ".join(
            f"{key} = {value}" if isinstance(value, int) else f'{key} = "{value}"'
            for key, value in fields.items()
        )
        + " }"
    )


def catalogue_toml(entries: list[dict[str, Any]]) -> str:
    """A models catalogue (the format of app/data/models_catalogue.toml)."""
    lines = []
    for entry in entries:
        lines.append("[[model]]")
        for key, value in entry.items():
            if key == "files":
                files = ", ".join(_file_toml(item) for item in value)
                lines.append(f"files = [{files}]")
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            else:
                lines.append(f'{key} = "{value}"')
        lines.append("")
    return "\n".join(lines)


def write_catalogue(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(catalogue_toml(entries), "utf-8")
    return path
