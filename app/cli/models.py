"""``loragate models list [--json]`` and ``loragate models pull NAME [--json]``: the
models loragate knows by name. ``list`` reads only this computer (studio.md, the
Hugging Face cache, the folders studio.md names) and never the network; ``pull``
downloads a catalogue model with huggingface_hub as a worker job (progress on stderr,
Ctrl-C cancels and keeps what arrived for the next pull), then records it in studio.md.

Exit status: 0 done, 1 refused or failed (the reason is printed), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json
from app.words import human_bytes

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models", help="list the models on this computer and those loragate can download"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="models found here, then the catalogue")
    add_json_flag(listing)
    listing.set_defaults(handler=handle_list)
    pulling = actions.add_parser("pull", help="download a catalogue model by name")
    pulling.add_argument("name", metavar="NAME", help="a name from `loragate models list`")
    add_json_flag(pulling)
    pulling.set_defaults(handler=handle_pull)


def _gated_words(entry: Any) -> str:
    return f"gated: accept the terms at {entry.page}, then log in" if entry.gated else "open"


def _revision_words(entry: Any) -> str:
    """Which bytes a name means: a pinned commit, or whatever the hub has newest (the
    commit that arrives is recorded in studio.md)."""
    return "pinned" if entry.pinned else "newest revision, not pinned"


def handle_list(args: argparse.Namespace) -> int:
    from app.grimoire import GrimoireError, Studio
    from app.hub.catalogue import CatalogueError, load_catalogue
    from app.hub.found import found_models
    from app.settings import Settings

    settings = Settings()
    problems = []
    try:
        catalogue = load_catalogue(settings)
    except CatalogueError as exc:
        catalogue, problems = {}, [str(exc)]
    try:
        from app.grimoire import load_studio

        studio = load_studio(settings.grimoire_dir)
    except GrimoireError as exc:
        studio = Studio()
        problems.append(f"studio.md cannot be read, so its models are not listed: {exc}")
    found = found_models(studio, catalogue)
    here = {model.name for model in found if model.source != "local"}
    offered = [entry for entry in catalogue.values() if entry.name not in here]
    if args.json:
        print_json(
            {
                "found": [model.to_json() for model in found],
                "catalogue": [
                    {
                        "name": e.name,
                        "title": e.title,
                        "kind": e.kind,
                        "family": e.family,
                        "captioner": e.captioner,
                        "repo": e.repo,
                        "revision": e.revision,
                        "pinned": e.pinned,
                        "parts": [item.part for item in e.parts],
                        "size": e.size,
                        "licence": e.licence,
                        "gated": e.gated,
                        "page": e.page,
                        "on_this_computer": e.name in here,
                    }
                    for e in catalogue.values()
                ],
                "problems": problems,
            }
        )
        return EXIT_OK
    for problem in problems:
        sys.stderr.write(f"loragate: {problem}\n")
    print("On this computer:" if found else "No model found on this computer yet.")
    for model in found:
        what = model.family or model.captioner or "?"
        at = f", commit {model.revision[:12]}" if model.revision else ""
        print(f"  {model.name:<28} {what:<8} {model.path}  ({model.where}{at})")
    if offered:
        print("\nDownloadable by name (`loragate models pull NAME`):")
        for entry in offered:
            what = entry.family or entry.captioner
            parts = f"; with {', '.join(i.part for i in entry.parts)}" if entry.parts else ""
            print(
                f"  {entry.name:<28} {what:<8} {human_bytes(entry.size):>9}  {entry.title}; "
                f"{entry.licence}; {_gated_words(entry)}; {_revision_words(entry)}{parts}"
            )
    return EXIT_OK


def _refuse(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print_json({"pulled": False, "error": message})
    else:
        sys.stderr.write(f"Nothing was added: {message}\n")
    return EXIT_FAILED


def handle_pull(args: argparse.Namespace) -> int:
    from app.cli.jobs import wait_for
    from app.cli.progress import StderrProgress
    from app.hub.catalogue import CatalogueError, find_entry
    from app.hub.jobs import PULL_JOB, pull_params, pull_title
    from app.worker import JobBusy, Worker

    workspace = open_workspace()
    try:
        settings = workspace.settings
        try:
            entry = find_entry(settings, args.name)
            params = pull_params(settings, args.name)
        except CatalogueError as exc:
            return _refuse(args, str(exc))
        worker = Worker(workspace)
        try:
            job = worker.start(PULL_JOB, None, params, title=pull_title(entry))
        except JobBusy as exc:
            return _refuse(args, f"{exc} One download runs at a time; wait for it to end.")
        progress = StderrProgress()
        ended = wait_for(worker, job.id or 0, progress)
        progress.finish()
    finally:
        workspace.close()
    if ended.state != "done":
        return _refuse(args, ended.error or ended.message or f"the download ended {ended.state}.")
    if args.json:
        print_json({"pulled": True, **ended.result})
    else:
        print(ended.result["message"])
        print(f"  {ended.result['path']}")
    return EXIT_OK
