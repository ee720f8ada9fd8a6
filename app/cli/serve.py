"""``loragate serve``: the web app on http://127.0.0.1:8765."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="start the web app")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8765)")
    parser.add_argument("--token", help="access token, required beyond loopback")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
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
        return 2
    address = f"http://{settings.host}:{settings.port}"
    if settings.is_loopback:
        print(f"loragate is serving at {address}  (grimoire: {settings.grimoire_dir})", flush=True)
    else:
        print(
            f"WARNING: loragate listens on {settings.host}, reachable from other machines.\n"
            f"Open {address}/?token=<your token> once in the browser.",
            flush=True,
        )
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0
