"""``loragate bundle export PROJECT --out FILE`` and ``loragate bundle import PROJECT FILE``:
train on a rented GPU without losing the gates. Export packs the checked dataset, the
trainer's config, a launch script and a README with the time and cost on a named
rented GPU (Gates 1 and 2 must pass); import brings the run's results.zip back as the
project's next run (``runs/<number>/``, on the Runs page), refusing a hostile archive whole.

Exit status: 0 done, 1 refused (the reason is printed; nothing was written), 2 wrong usage.
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
        "bundle",
        help="export a project for a rented GPU, or import the results of that run",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write the bundle (a .zip) for a rented GPU")
    export.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    export.add_argument("--out", required=True, metavar="FILE", help="the .zip to write")
    export.add_argument(
        "--gpu",
        metavar="NAME",
        help="the rented GPU class to estimate for, e.g. “RTX 4090 24 GB” or “A100 80 GB” "
        "(default: the cheapest whose memory fits)",
    )
    export.add_argument(
        "--price-per-hour", type=float, metavar="USD", help="your provider's hourly price"
    )
    export.add_argument(
        "--with-model", action="store_true", help="put the base model into the bundle too"
    )
    add_json_flag(export)
    export.set_defaults(handler=handle_export)
    imported = actions.add_parser("import", help="bring a run's results.zip into the project")
    imported.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    imported.add_argument("file", metavar="FILE", help="the results.zip the launch script packed")
    add_json_flag(imported)
    imported.set_defaults(handler=handle_import)


def _refuse(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print_json({"done": False, "error": message})
    else:
        sys.stderr.write(f"loragate: {message}\n")
    return EXIT_REFUSED


def handle_export(args: argparse.Namespace) -> int:
    from app.bundle.export import ExportRefused, export_bundle

    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        try:
            exported = export_bundle(
                ctx,
                Path(args.out).expanduser().absolute(),
                gpu_title=args.gpu,
                price_per_hour=args.price_per_hour,
                include_model=args.with_model,
            )
        except ExportRefused as exc:
            return _refuse(args, f"No bundle was written: {exc}")
    finally:
        workspace.close()
    estimate = exported.estimate
    if args.json:
        print_json(
            {
                "done": True,
                "path": str(exported.path),
                "backend": exported.backend,
                "gpu": exported.gpu.title,
                "estimate": estimate.to_json(),
            }
        )
        return EXIT_OK
    print(f"Wrote {exported.path} ({exported.files} files, trainer {exported.backend}).")
    print(
        f"On a rented {exported.gpu.title}: about {estimate.duration_words()} for "
        f"{estimate.steps:,} steps, about {estimate.cost:.2f} {estimate.currency}. "
        "Its README says how to run it."
    )
    return EXIT_OK


def handle_import(args: argparse.Namespace) -> int:
    from app.bundle.import_ import ResultsRefused, import_results

    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        try:
            imported = import_results(ctx, Path(args.file).expanduser().absolute())
        except ResultsRefused as exc:
            return _refuse(args, str(exc))
    finally:
        workspace.close()
    if args.json:
        print_json(
            {
                "done": True,
                "folder": str(imported.path),
                "loras": imported.loras,
                "checkpoints": imported.checkpoints,
                "files": imported.files,
            }
        )
        return EXIT_OK
    print(imported.summary())
    return EXIT_OK
