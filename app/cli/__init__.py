"""``loragate``: the command line. Each subcommand lives in its own module, exposes
``register(subparsers)`` and calls the same domain functions as the web pages.

Exit status: 0 pass (warnings allowed), 1 blocked or failed, 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.cli import (
    audit,
    captions,
    config,
    curate,
    env,
    gates,
    importing,
    jobs,
    project,
    serve,
    structure,
)

COMMANDS = (serve, project, audit, structure, config, env, jobs)
# The pages' work as commands (import, captions, curate, gates).
COMMANDS += (importing, captions, curate, gates)

EXIT_OK, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loragate",
        description="Train LoRAs that are worth the GPU hours.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


def run() -> None:
    sys.exit(main())
