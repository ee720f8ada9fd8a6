"""``loragate``: the command line. Each subcommand lives in its own module, exposes
``register(subparsers)`` and calls the same domain functions as the web pages.

Exit status: 0 pass (warnings allowed), 1 blocked or failed, 2 wrong usage (a bad
setting included), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

# The module that registers each command. Only the module of the command asked for is
# imported, so that `loragate serve` answers (or refuses) before the audit's, the
# gates' and the web app's modules load; `--help` imports them all.
COMMANDS = {
    "serve": "serve",
    "project": "project",
    "audit": "audit",
    "duplicates": "audit",
    "structure": "structure",
    "config": "config",
    "vram": "config",
    "env": "env",
    # The pages' work as commands.
    "import": "importing",
    "captions": "captions",
    "curate": "curate",
    "gates": "gates",
    "dry-run": "dryrun",
    "jobs": "jobs",
    "train": "train",
    "monitor": "train",
    "models": "models",
    "demo": "demo",
    "bundle": "bundle",
    "eval-grid": "evaluate",
}

EXIT_OK, EXIT_BLOCKED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _modules(argv: Sequence[str]) -> list[ModuleType]:
    asked = next((arg for arg in argv if not arg.startswith("-")), None)
    names = [COMMANDS[asked]] if asked in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return [importlib.import_module(f"app.cli.{name}") for name in names]


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loragate",
        description="Train LoRAs that are worth the GPU hours.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _modules(argv):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    result: int = args.handler(args)
    return result


def run() -> None:
    """The console entry point: what every command shares when it ends badly. Ctrl-C
    is a one-line goodbye and a closed pipe (`| head`) silence, never a traceback."""
    try:
        status = _run()
        sys.stdout.flush()  # inside the try: the reader may be gone before the last write
    except KeyboardInterrupt:
        sys.stderr.write("\nloragate: interrupted.\n")
        status = EXIT_INTERRUPTED
    except BrokenPipeError:
        # Send what Python still flushes at exit nowhere, instead of a second error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = EXIT_BLOCKED
    sys.exit(status)


def _run() -> int:
    # Imported here, inside run()'s guard: a Ctrl-C while they load is handled too.
    from app.cli.common import printable_output
    from app.settings import SettingsError

    printable_output()
    try:
        return main()
    except SettingsError as exc:  # a bad LORAGATE_ variable or folder: wrong usage
        sys.stderr.write(f"loragate: {exc}\n")
        return EXIT_USAGE
