"""``loragate serve``: the web app on http://127.0.0.1:8765.

Everything that can be refused is checked before the web app is imported (which takes
seconds): the settings, the bind rule, the folders, and the address itself, which is
bound here and handed to uvicorn. Exit 2 for a setting or address that cannot work,
1 when the port is taken or the system refuses it, 0 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from typing import TYPE_CHECKING, Any

from app.settings import PORT_MAX, PORT_MIN

if TYPE_CHECKING:
    from app.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="start the web app")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=port_number, help=f"port, {PORT_MIN}-{PORT_MAX} (default 8765)"
    )
    parser.add_argument("--token", help="access token, required beyond loopback")
    parser.set_defaults(handler=handle)


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a port number") from None
    if not PORT_MIN <= port <= PORT_MAX:
        raise argparse.ArgumentTypeError(
            f"{port} is not a port: choose one from {PORT_MIN} to {PORT_MAX}"
        )
    return port


class _ListenError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def listen(settings: Settings) -> socket.socket:
    """A socket bound to the host and port (as uvicorn would bind it), or _ListenError
    with the reason in plain words."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise _ListenError(*_bind_problem(settings, exc)) from None
    return sock


def _bind_problem(settings: Settings, exc: OSError) -> tuple[str, int]:
    own = "use an address of this computer (0.0.0.0 for all of them) or keep the default 127.0.0.1"
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on “{settings.host}”: no such address. Instead, {own}.", EXIT_USAGE
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{settings.host} is not an address of this computer: {own}.", EXIT_USAGE
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {settings.port} is already in use on {settings.host} (another loragate, "
            "or another program). Stop it, or choose another --port.",
            EXIT_FAILED,
        )
    if exc.errno == errno.EACCES:
        return (
            f"this system does not let loragate listen on port {settings.port} (ports "
            "below 1024 need administrator rights): choose another --port.",
            EXIT_FAILED,
        )
    where = f"{settings.host}:{settings.port}"
    return f"cannot listen on {where}: {exc.strerror or exc}.", EXIT_FAILED


def handle(args: argparse.Namespace) -> int:
    from app.settings import InsecureBindError, Settings, check_bind

    overrides = {
        key: value
        for key, value in (("host", args.host), ("port", args.port), ("access_token", args.token))
        if value is not None
    }
    settings = Settings(**overrides)
    try:
        check_bind(settings)
    except InsecureBindError as exc:
        sys.stderr.write(f"loragate: {exc}\n")
        return EXIT_USAGE
    settings.ensure_dirs()
    try:
        sock = listen(settings)
    except _ListenError as exc:
        sys.stderr.write(f"loragate: {exc}\n")
        return exc.status
    address = f"http://{settings.host}:{settings.port}"
    if settings.is_loopback:
        print(f"loragate is serving at {address}  (grimoire: {settings.grimoire_dir})", flush=True)
    else:
        print(
            f"WARNING: loragate listens on {settings.host}, reachable from other machines.\n"
            f"Open {address}/?token=<your token> once in the browser.",
            flush=True,
        )
    import uvicorn

    from app.main import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        return EXIT_OK  # Ctrl-C is how a server is stopped
    finally:
        sock.close()
    return EXIT_OK if server.started else EXIT_FAILED
