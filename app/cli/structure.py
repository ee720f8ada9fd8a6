"""``loragate structure PROJECT [--out DIR]``: write the training folder (the workflow's
structure-dataset.sh): the included images and their approved captions in kohya layout,
``{repeats}_{concept}/``, where every backend's config points. Gate 1 runs first; while
it blocks nothing is written.

Exit status: 0 written, 1 refused (the reasons are printed), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json, project_context

EXIT_OK, EXIT_REFUSED = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "structure",
        help="write a project's images and approved captions in kohya layout for training",
    )
    parser.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="where to write it (default: the project's kohya/ folder, which configs use)",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from app.curation.layout import LayoutRefused, write_layout

    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        out = Path(args.out) if args.out else None
        try:
            result = write_layout(ctx, out)
        except LayoutRefused as exc:
            if args.json:
                print_json({"written": False, "reasons": exc.reasons})
            else:
                sys.stderr.write("Nothing was written.\n")
                for reason in exc.reasons:
                    sys.stderr.write(f"  {reason}\n")
            return EXIT_REFUSED
        if args.json:
            print_json(
                {
                    "written": True,
                    "out": str(result.out),
                    "folders": result.folders,
                    "images": result.images,
                    "linked": result.linked,
                    "copied": result.copied,
                    "gate": result.verdict,
                }
            )
        else:
            print(result.summary())
            how = "hard-linked" if result.linked and not result.copied else "copied"
            if result.linked and result.copied:
                how = f"{result.linked} hard-linked, {result.copied} copied"
            print(f"Images {how}; Gate 1 {result.verdict}.")
        return EXIT_OK
    finally:
        workspace.close()
