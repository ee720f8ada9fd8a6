"""``loragate import PROJECT SOURCE``: copy a folder or a zip archive of images (and
their caption files) into a project's dataset, then check Gate 1 — the Import page,
from a shell. The same importer as the page: originals are only read, junk is skipped
and listed, links are never followed, a zip is unpacked with its guards against zip
slip and zip bombs. The work is the Import page's job, run by the worker in a child
process; this command follows it, with progress on stderr (Ctrl-C cancels it).

Exit status: 0 imported (Gate 1's verdict is printed; a blocking Gate 1 is the next
thing to work on, not a failed import), 1 refused (the reason is printed; nothing was
imported), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json, project_context
from app.cli.jobs import wait_for
from app.cli.progress import StderrProgress
from app.cli.recheck import busy_message
from app.words import GATE_WORDS, plural

EXIT_OK, EXIT_REFUSED = 0, 1
TITLE = "Importing and auditing images"
# Refused and renamed files listed by name before "and N more".
LISTED = 10


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="copy a folder or a zip of images and captions into a project, then check Gate 1",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    parser.add_argument("source", metavar="SOURCE", help="a folder, or a .zip archive")
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def _refuse(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print_json({"imported": False, "error": message})
    else:
        sys.stderr.write(f"Nothing was imported: {message}\n")
    return EXIT_REFUSED


def handle(args: argparse.Namespace) -> int:
    from app.curation.importer import ImportRefused, validate_source
    from app.curation.tasks import IMPORT_JOB, import_params
    from app.dataset.inventory import dataset_dir
    from app.dataset.staging import ArchiveRefused, StagingFolder, unpack_zip
    from app.worker import JobBusy, JobRefused, Worker

    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        worker = Worker(workspace)
        source = Path(args.source).expanduser().absolute()
        progress = StderrProgress()
        try:
            if source.is_file():
                if not zipfile.is_zipfile(source):
                    return _refuse(
                        args, f"{source} is a file but not a zip archive: give a folder or a .zip."
                    )
                # Unpacked next to loragate's data; the job imports from there, then
                # removes it.
                with StagingFolder(ctx.settings) as staging:
                    progress.stage(f"Unpacking {source.name}")
                    unpacked = unpack_zip(source, staging.path, ctx.settings)
                    params = import_params(
                        staging.path,
                        label=f"the zip {source.name}",
                        staging=staging.path,
                        skipped=unpacked.skipped,
                    )
                    job = worker.start(IMPORT_JOB, ctx.project.id, params, title=TITLE)
                    staging.hand_over()
            else:
                folder = validate_source(args.source, dataset_dir(ctx))
                params = import_params(folder, label=str(folder))
                job = worker.start(IMPORT_JOB, ctx.project.id, params, title=TITLE)
        except (ImportRefused, ArchiveRefused) as exc:
            progress.finish()
            return _refuse(args, str(exc))
        except JobBusy as exc:
            progress.finish()
            return _refuse(args, busy_message(exc.job))
        except JobRefused as exc:  # archived, deleted or held by another command meanwhile
            progress.finish()
            return _refuse(args, str(exc))
        # The same job the Import page starts, in a child process under the worker's
        # one lock; this command follows it to its end.
        ended = wait_for(worker, job.id or 0, progress)
        progress.finish()
    finally:
        workspace.close()
    if ended.state != "done":
        return _refuse(args, ended.error or ended.message or f"the import ended {ended.state}.")
    report, summary = ended.result["import"], ended.result["audit"]
    if args.json:
        print_json({"imported": True, "import": report, "gate": summary})
        return EXIT_OK
    print(report["summary"])
    for title, items in (
        (
            "Renamed",
            [f"{item['from']} → {item['to']} ({item['why']})" for item in report["renamed"]],
        ),
        ("Refused", [f"{item['path']}: {item['why']}" for item in report["refused"]]),
    ):
        if items:
            print(f"{title}:")
            for line in items[:LISTED]:
                print(f"  {line}")
            if len(items) > LISTED:
                print(f"  … and {len(items) - LISTED} more (--json lists them all)")
    print(
        f"Gate 1 {GATE_WORDS[summary['verdict']]}: {plural(summary['images'], 'image')} to train, "
        f"{summary['block']} blocking, {plural(summary['warn'], 'warning')}."
    )
    if summary["block"]:
        print(
            f"Next: read and approve the captions (`loragate captions {args.project}`), then "
            f"`loragate gates {args.project}`."
        )
    return EXIT_OK
