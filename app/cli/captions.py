"""``loragate captions``: the caption grid from a shell. List the captions (filtered as
on the page), approve, reject or edit them, return them to draft, and settle an edit
made outside loragate; then Gate 1 is checked again.

Every change names the caption version it was read at (``IMAGE@VERSION``; the listing
shows it, and ``--seen FILE`` takes the versions from a ``--json`` listing): a caption
changed since it was read (in the grid, by a batch, by another command) is refused and
left as it is, exactly as the grid refuses it.

Exit status: 0 every change was made (or the listing was printed), 1 some change was
refused (the others are made; each refusal says why), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from app.cli.common import (
    add_json_flag,
    fail_usage,
    open_workspace,
    print_json,
    project_context,
)
from app.cli.images import Named, named_images
from app.cli.recheck import check_dataset, foreground, outcome_json, outcome_line

if TYPE_CHECKING:
    from app.captions.grid import Card
    from app.captions.store import CaptionConflict
    from app.workspace import ProjectContext

# The captioning modules (Pillow, NumPy, the tokenizer) load when a command runs, so
# that `loragate --help` and usage errors answer at once.

STATUS_ACTIONS = {"approve": "approved", "reject": "rejected", "draft": "draft"}
ACTIONS = ("list", *STATUS_ACTIONS, "edit", "resolve")
USAGE = """loragate captions PROJECT [--status FILTER] [--concept C] [--tag T] [--json]
       loragate captions approve|reject|draft PROJECT IMAGE@VERSION... [--seen FILE]
       loragate captions edit PROJECT IMAGE@VERSION --text TEXT
       loragate captions resolve PROJECT IMAGE --keep file|loragate"""
EXIT_OK, EXIT_REFUSED = 0, 1


class IntermixedParser(argparse.ArgumentParser):
    """Options and image names in any order: people put the options last, ``xargs`` puts
    the names last. (argparse only reads the positionals given before the first option.)"""

    _inside = False

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._inside:  # parse_known_intermixed_args calls back into this method
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "captions",
        usage=USAGE,
        help="list, approve, reject and edit captions (the Captions page)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "words",
        nargs="+",
        metavar="[ACTION] PROJECT [IMAGE@VERSION ...]",
        help=f"ACTION: {', '.join(ACTIONS)} (default: list)",
    )
    listing = parser.add_argument_group("listing")
    listing.add_argument(
        "--status",
        default="all",
        metavar="FILTER",
        help="which captions to list: a filter of the Captions page, such as unapproved, "
        "approved, flagged or no_caption (default: all; a wrong one lists them all)",
    )
    listing.add_argument("--concept", default="", help="only this concept (folder)")
    listing.add_argument("--tag", default="", help="only captions with this tag")
    changes = parser.add_argument_group("changes")
    changes.add_argument(
        "--seen",
        metavar="FILE",
        help="the images and versions of a `captions --json` listing (- reads stdin)",
    )
    changes.add_argument("--text", help="edit: the new caption (- reads stdin)")
    changes.add_argument(
        "--keep",
        choices=("file", "loragate"),
        help="resolve: keep the caption file's text (as a draft) or loragate's",
    )
    changes.add_argument(
        "--no-check", action="store_true", help="do not check Gate 1 again after the changes"
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)
    parser.__class__ = IntermixedParser  # the subcommand's parser, made by add_parser


def handle(args: argparse.Namespace) -> int:
    words: list[str] = args.words
    action, rest = (words[0], words[1:]) if words[0] in ACTIONS else ("list", words)
    if not rest:
        fail_usage(f"name the project: `loragate captions {action} PROJECT ...`.")
    project, images = rest[0], rest[1:]
    _check_options(args, action, images)
    workspace = open_workspace()
    try:
        ctx = project_context(workspace, project)
        if action == "list":
            return _list(ctx, args)
        return _change(ctx, args, action, images)
    finally:
        workspace.close()


def _check_options(args: argparse.Namespace, action: str, images: list[str]) -> None:
    """Options that belong to another action are a usage error, not silently ignored."""
    if action == "list" and images:
        fail_usage(
            f"the listing takes one project, not images ({images[0]}…); to change captions "
            "name the action first: `loragate captions approve PROJECT IMAGE@VERSION`."
        )
    if action != "list" and (args.status != "all" or args.concept or args.tag):
        fail_usage("--status, --concept and --tag choose what the listing shows.")
    if args.text is not None and action != "edit":
        fail_usage("--text goes with `captions edit`.")
    if args.keep is not None and action != "resolve":
        fail_usage("--keep goes with `captions resolve`.")
    if args.seen is not None and action not in STATUS_ACTIONS:
        fail_usage("--seen goes with `captions approve`, `reject` or `draft`.")
    if action in ("edit", "resolve") and len(images) != 1:
        fail_usage(f"`captions {action}` takes one image.")
    if action == "edit" and args.text is None:
        fail_usage("`captions edit` needs the new caption: --text TEXT (or --text - for stdin).")
    if action == "resolve" and args.keep is None:
        fail_usage("`captions resolve` needs --keep file or --keep loragate.")
    if action in STATUS_ACTIONS and not images and args.seen is None:
        fail_usage(f"name the images to {action} (IMAGE@VERSION...), or give --seen FILE.")


# --- listing -----------------------------------------------------------------------


def _list(ctx: ProjectContext, args: argparse.Namespace) -> int:
    from app.captions.grid import FILTERS, GridQuery, caption_grid
    from app.captions.sync import take_in

    if args.status not in FILTERS:
        fail_usage(f"--status {args.status}: choose one of {', '.join(FILTERS)}.")
    with foreground(ctx) as busy:
        if busy is None:
            # As the page does: caption files dropped in the folder are listed as drafts.
            take_in(ctx)
    query = GridQuery(args.status, args.tag, args.concept)
    grid = caption_grid(ctx, query, per_page=sys.maxsize)
    if args.json:
        print_json(
            {
                "project": ctx.project.slug,
                "status": query.filter,
                "concept": query.concept,
                "tag": query.tag,
                "approved": grid.progress.approved,
                "included": grid.progress.included,
                "images": [_card_json(card) for card in grid.cards],
            }
        )
        return EXIT_OK
    progress = grid.progress
    print(
        f"“{ctx.project.name}”: {progress.approved} of {progress.included} included images "
        "have an approved caption (Gate 1 needs every one)."
    )
    shown = FILTERS[query.filter] + "".join(
        f", {label} “{value}”"
        for label, value in (("concept", query.concept), ("tag", query.tag))
        if value
    )
    print(f"Showing {shown}: {len(grid.cards)}.")
    for finding in grid.dataset_findings:
        print(f"  [{finding.severity}] {finding.message}")
    for card in grid.cards:
        _print_card(ctx, card)
    if grid.cards:
        print(f"\nApprove as read: `loragate captions approve {ctx.project.slug} IMAGE@VERSION...`")
    return EXIT_OK


def _card_json(card: Card) -> dict[str, Any]:
    return {
        "id": card.image.id,
        "path": card.image.path,
        "concept": card.image.concept,
        "included": card.image.included,
        "status": card.status,
        "version": card.version,
        "text": card.text,
        "tokens": card.tokens,
        "source": card.caption.source if card.caption else None,
        "note": card.caption.note if card.caption and card.caption.note else None,
        "changed_outside": card.outside is not None,
        "file_text": card.outside.text if card.outside else None,
        "findings": [
            {"code": f.code, "severity": f.severity, "message": f.message} for f in card.findings
        ],
    }


def _print_card(ctx: ProjectContext, card: Card) -> None:
    where = "" if card.image.included else "  (excluded)"
    print(f"\n{card.status:9} {card.image.path}@{card.version}{where}")
    print(f"    {card.text}" if card.caption else "    (no caption yet)")
    if card.outside is not None:
        now = "deleted" if card.outside.text is None else f"now reads: {card.outside.text}"
        print(f"    ! the caption file was changed outside loragate ({now})")
        print(
            f"      keep one: `loragate captions resolve {ctx.project.slug} {card.image.path} "
            "--keep file` (or --keep loragate)"
        )
    for finding in card.findings:
        if finding.severity != "info":
            print(f"    ! {finding.message}")


# --- changes -----------------------------------------------------------------------


def _seen(ctx: ProjectContext, source: str) -> list[str]:
    """IMAGE@VERSION for every captioned image of a ``captions --json`` listing."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
        listing = json.loads(text)
        entries = listing["images"]
        return [
            f"{entry['path']}@{int(entry['version'])}"
            for entry in entries
            if entry["status"] != "none"
        ]
    except OSError as exc:
        fail_usage(f"--seen {source}: {exc.strerror or exc}.")
    except (ValueError, KeyError, TypeError):
        fail_usage(
            f"--seen {source} is not a listing from `loragate captions {ctx.project.slug} --json`."
        )


def _change(ctx: ProjectContext, args: argparse.Namespace, action: str, names: list[str]) -> int:
    from app.captions.store import CaptionConflict, CaptionError

    if args.seen is not None:
        names = [*names, *_seen(ctx, args.seen)]
    wants_version = action != "resolve"
    named = named_images(ctx, names, versions=wants_version)
    if wants_version:
        missing = [item.image.path for item in named if item.version is None]
        if missing:
            fail_usage(
                f"give the caption version you read with each image, as "
                f"{missing[0]}@VERSION (`loragate captions {ctx.project.slug}` shows it): a "
                "caption changed since you read it is refused, as on the Captions page."
            )
    text = None
    if action == "edit":
        text = sys.stdin.read().rstrip("\n") if args.text == "-" else args.text
    done: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for item in named:
        try:
            done.append(_apply(ctx, action, item, text, args.keep))
        except CaptionConflict as conflict:
            refused.append(_conflict(ctx, item, conflict))
        except CaptionError as exc:
            refused.append({"path": item.image.path, "reason": "refused", "message": str(exc)})
    changed = any(entry["changed"] for entry in done)
    outcome = check_dataset(ctx) if changed and not args.no_check else None
    if args.json:
        print_json(
            {"action": action, "done": done, "refused": refused, "gate": outcome_json(outcome)}
        )
    else:
        for entry in done:
            print(entry["message"])
        for entry in refused:
            sys.stderr.write(f"{entry['path']}: {entry['message']}\n")
        if outcome is not None:
            print(outcome_line(outcome, ctx.project.slug))
    return EXIT_REFUSED if refused else EXIT_OK


def _apply(
    ctx: ProjectContext, action: str, item: Named, text: str | None, keep: str | None
) -> dict[str, Any]:
    from app.captions.grid import single_card
    from app.captions.store import resolve_outside, save_text, set_status

    image = item.image
    path, image_id = image.path, image.id or 0
    if action == "edit":
        saved = save_text(ctx, image_id, text or "", item.version or 0)
        caption = saved.caption
        message = (
            f"Saved the caption of {path}@{caption.version} (a draft now): {caption.text}"
            if saved.changed
            else f"{path} already reads like that; nothing changed."
        )
        if saved.note:
            message += f"\n  loragate changed what you typed: {saved.note}"
        return _entry(path, caption.status, caption.version, saved.changed, message)
    if action == "resolve":
        card = single_card(ctx, image_id)
        if card is None or card.outside is None:
            message = f"The caption file of {path} holds what loragate saved: nothing to settle."
            return _entry(
                path, card.status if card else "none", card.version if card else 0, False, message
            )
        choice: Literal["file", "loragate"] = "file" if keep == "file" else "loragate"
        resolved = resolve_outside(ctx, image_id, choice)
        if resolved is None:
            message = f"{path} has no caption now: its file was deleted, and that was accepted."
            return _entry(path, "none", 0, True, message)
        whose = "the file's text, as a draft" if choice == "file" else "loragate's text"
        message = f"Kept {whose} for {path}@{resolved.version}: {resolved.text}"
        return _entry(path, resolved.status, resolved.version, True, message)
    status = STATUS_ACTIONS[action]
    version = item.version or 0
    caption = set_status(ctx, image_id, status, version)
    changed = caption.version != version
    verb = {"approved": "Approved", "rejected": "Rejected", "draft": "Returned to draft"}[status]
    message = (
        f"{verb} the caption of {path} (now {path}@{caption.version})."
        if changed
        else f"{path} was {status} already."
    )
    return _entry(path, caption.status, caption.version, changed, message)


def _entry(path: str, status: str, version: int, changed: bool, message: str) -> dict[str, Any]:
    return {
        "path": path,
        "status": status,
        "version": version,
        "changed": changed,
        "message": message,
    }


def _conflict(ctx: ProjectContext, item: Named, conflict: CaptionConflict) -> dict[str, Any]:
    path = item.image.path
    if conflict.reason == "outside":
        message = (
            "its caption file was changed outside loragate, so nothing was changed here. "
            f"The file now reads: {conflict.theirs if conflict.theirs is not None else '(deleted)'}"
            f"\n  Keep one first: `loragate captions resolve {ctx.project.slug} {path} --keep "
            "file` "
            "(or --keep loragate)."
        )
    else:
        message = (
            f"the caption changed since you read it (you read version {item.version}, it is "
            f"now {conflict.version}), so nothing was changed. It now reads: "
            f"{conflict.theirs if conflict.theirs is not None else '(no caption)'}"
            f"\n  Read it, then name {path}@{conflict.version}."
        )
    return {
        "path": path,
        "reason": conflict.reason,
        "message": message,
        "version": conflict.version,
        "text": conflict.theirs,
    }
