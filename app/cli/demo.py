"""``loragate demo``: create the demo project — thirteen freely usable sample photos
and two flawed copies planted for the audit to find, with a tiny model with random
weights that trains on a CPU in minutes and draws noise — then import and audit the
photos, as the projects page's “Try the demo” button does. Run twice, it names the demo that exists; ``--fresh``
makes another under the next free name.

Exit status: 0 created (or it exists already), 1 failed, 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json
from app.cli.jobs import wait_for
from app.cli.progress import StderrProgress
from app.words import plural

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="create the demo project (sample photos, a tiny noise model) to try loragate on a CPU",
        description=__doc__.split("\n\n")[0].replace("``", "") if __doc__ else None,
    )
    parser.add_argument(
        "--fresh", action="store_true", help="make another demo project even if one exists"
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from app.demo import DEMO_MODEL_NAME, DEMO_MODEL_WORDS, DemoRefused
    from app.demo.create import DemoExists, start_demo
    from app.worker import Worker

    workspace = open_workspace()
    try:
        worker = Worker(workspace)
        try:
            started = start_demo(workspace, worker, fresh=args.fresh)
        except DemoExists as exc:
            if args.json:
                print_json({"created": False, "exists": True, "project": exc.project.slug})
            else:
                print(str(exc))
            return EXIT_OK
        except DemoRefused as exc:
            sys.stderr.write(f"loragate: {exc}\n")
            return EXIT_FAILED
        progress = StderrProgress()
        ended = wait_for(worker, started.job.id or 0, progress)
        progress.finish()
    finally:
        workspace.close()
    slug = started.project.slug
    if ended.state != "done":
        message = ended.error or ended.message or f"the demo's job ended {ended.state}"
        sys.stderr.write(f"loragate: the demo project {slug} was created, but {message}\n")
        return EXIT_FAILED
    report, summary = ended.result["import"], ended.result["audit"]
    if args.json:
        print_json({"created": True, "project": slug, "import": report, "gate": summary})
        return EXIT_OK
    print(f"Created the demo project “{started.project.name}” (folder {slug}).")
    print(f"Its base model, “{DEMO_MODEL_NAME}”, is {DEMO_MODEL_WORDS}")
    print(report["summary"])
    print(
        f"The audit found {plural(summary['block'], 'blocking problem')} and "
        f"{plural(summary['warn'], 'warning')}: every caption waits for your approval, "
        "and a duplicate photo and one far too small were planted for it to find."
    )
    print(
        f"Next: open it in the browser (`loragate serve`) and fix what the audit found, "
        f"or go on here: `loragate curate {slug}`, `loragate captions {slug}`, "
        f"`loragate gates {slug}`."
    )
    return EXIT_OK
