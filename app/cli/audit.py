"""``loragate audit DIR`` and ``loragate duplicates DIR``: the dataset audit on any
folder, no project needed (the workflow's dataset-audit.sh and find-duplicates.sh).

Measurements are cached in ``<data dir>/audit-cache.sqlite`` by absolute path, size and
mtime (then content hash), so a second run only measures what changed.

Exit status: 0 the gate passes (warnings allowed) / no duplicates, 1 it blocks /
duplicates found, 2 wrong usage.
"""

from __future__ import annotations

import argparse
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import add_json_flag, fail_usage, interrupt_at_safe_points, print_json
from app.intent import CAPTION_FORMATS, MODEL_FAMILIES, TRAINING_TYPES, check_trigger_word
from app.paths import UnsafePathError, user_path
from app.printable import printable
from app.settings import Settings
from app.words import GATE_WORDS, plural

if TYPE_CHECKING:
    from app.curation.folder_audit import AuditOptions, AuditReport
    from app.findings import Finding

# The audit's modules (Pillow, NumPy, SciPy, the tokenizer) load when a command runs,
# so that `loragate --help` and usage errors answer at once.
DEFAULT_NEAR_THRESHOLD = 10  # app.dataset.duplicates.DEFAULT_NEAR_THRESHOLD
MAX_THRESHOLD = 32  # app.dataset.duplicates.MAX_THRESHOLD
# app.dataset.whole_dataset_checks.DATASET_SUBJECT and app.captions.content_lint.DATASET_SUBJECT
WHOLE_SET_SUBJECTS = frozenset({".", "captions"})

EXIT_OK, EXIT_BLOCKED = 0, 1
_HEADINGS = {"block": "Blocking", "warn": "Warnings", "info": "Notes"}
_MARKS = {"block": "✗", "warn": "!", "info": "·"}


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser(
        "audit", help="audit a folder of images and captions (Gate 1's checks)"
    )
    audit.add_argument("dir", metavar="DIR", help="the folder to audit")
    audit.add_argument(
        "--type", dest="training_type", required=True, choices=sorted(TRAINING_TYPES)
    )
    audit.add_argument("--trigger", required=True, help="the trigger word every caption needs")
    audit.add_argument("--family", required=True, choices=sorted(MODEL_FAMILIES))
    audit.add_argument(
        "--format",
        dest="caption_format",
        choices=sorted(CAPTION_FORMATS),
        default=None,
        help="how the captions are written (default: what the family reads best, as a "
        "new project would choose)",
    )
    _add_common(audit)
    add_json_flag(audit)
    audit.set_defaults(handler=handle_audit)

    duplicates = subparsers.add_parser(
        "duplicates", help="list groups of exact and near-duplicate images in a folder"
    )
    duplicates.add_argument("dir", metavar="DIR", help="the folder to search")
    _add_common(duplicates)
    add_json_flag(duplicates)
    duplicates.set_defaults(handler=handle_duplicates)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold",
        type=int,
        default=DEFAULT_NEAR_THRESHOLD,
        help=f"near-duplicate threshold in differing hash bits, 0-{MAX_THRESHOLD} "
        f"(default {DEFAULT_NEAR_THRESHOLD})",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="processes to use (default: every core)"
    )


def _folder(args: argparse.Namespace) -> Path:
    try:
        folder = user_path(args.dir)
        mode = folder.stat().st_mode
    except UnsafePathError as exc:
        fail_usage(f"{args.dir}: {exc}")
    except (FileNotFoundError, NotADirectoryError):
        fail_usage(f"{args.dir}: no such folder.")
    except OSError as exc:
        fail_usage(f"{args.dir}: loragate cannot look at it ({(exc.strerror or '').lower()}).")
    if not stat.S_ISDIR(mode):
        fail_usage(f"{args.dir} is a file; give the folder that holds the images.")
    if not 0 <= args.threshold <= MAX_THRESHOLD:
        fail_usage(f"--threshold must be between 0 and {MAX_THRESHOLD}.")
    if args.workers is not None and args.workers < 1:
        fail_usage("--workers must be at least 1.")
    return folder.resolve()


def _run(args: argparse.Namespace, options: AuditOptions) -> tuple[AuditReport, dict[str, str]]:
    from app.curation.fingerprint import folder_parts
    from app.curation.folder_audit import audit_folder
    from app.dataset.cache import FolderCache

    folder = _folder(args)
    settings = Settings()
    cache = FolderCache(settings.data_dir, folder)
    try:
        with interrupt_at_safe_points() as check:
            report = audit_folder(folder, options, cache, settings=settings, check_cancelled=check)
    finally:
        cache.close()
    return report, folder_parts(report.scan, options)


def handle_audit(args: argparse.Namespace) -> int:
    from app.captions.intent import CaptionIntent
    from app.curation.folder_audit import AuditOptions
    from app.findings import make_result

    # The wizard's rules for a trigger word (a comma would split it into two tags).
    errors = check_trigger_word(args.trigger).errors
    if errors:
        fail_usage(f"--trigger “{args.trigger}”: {' '.join(errors)}")
    options = AuditOptions(
        training_type=args.training_type,
        trigger=args.trigger.strip(),
        family=args.family,
        near_threshold=args.threshold,
        max_pixels=Settings().max_image_pixels,
        max_file_bytes=Settings().max_file_bytes,
        workers=args.workers,
        # The content-style lint a project's Gate 1 runs, on the caption files as they are.
        caption_intent=CaptionIntent(
            training_type=args.training_type,
            trigger=args.trigger.strip(),
            caption_format=args.caption_format
            or MODEL_FAMILIES[args.family].recommended_caption_format,
        ),
    )
    report, parts = _run(args, options)
    result = make_result("dataset", report.findings, parts, report.stats)
    if args.json:
        print_json(result.to_json())
    else:
        _print_audit(result.verdict, result.findings, report.stats)
    return EXIT_BLOCKED if result.verdict == "block" else EXIT_OK


def _print_audit(verdict: str, findings: list[Finding], stats: dict[str, Any]) -> None:
    counts = stats["findings"]
    print(
        f"Gate 1 · Dataset {GATE_WORDS[verdict]}: {plural(stats['included'], 'image')} to train, "
        f"{counts['block']} blocking, {plural(counts['warn'], 'warning')}, "
        f"{plural(counts['info'], 'note')}."
    )
    for severity in ("block", "warn", "info"):
        chosen = [f for f in findings if f.severity == severity]
        if not chosen:
            continue
        print(f"\n{_HEADINGS[severity]}")
        by_code: dict[str, list[Finding]] = {}
        for item in chosen:
            by_code.setdefault(item.code, []).append(item)
        for items in by_code.values():
            # The explanation once per kind of problem, then every occurrence.
            for item in items:
                print(f"  {_MARKS[severity]} {printable(_located(item))}")
            if severity != "info":
                print(f"      why: {items[0].why}")
                print(f"      fix: {items[0].fix}")
                print(f"      more: app/docs/{items[0].source.replace('#', '.md#')}")
    print(
        f"\n{plural(stats['files'], 'file')}, {plural(stats['images'], 'image')} "
        f"({stats['excluded']} excluded), {plural(stats['captions'], 'caption')}, "
        f"{plural(stats['junk'], 'junk file')} ignored."
    )


def _located(item: Finding) -> str:
    """The message, led by its file when the message does not name it (the caption
    lint's messages are written for the grid, where the picture says which)."""
    if item.subject in WHOLE_SET_SUBJECTS or item.subject in item.message:
        return item.message
    return f"{item.subject}: {item.message}"


def handle_duplicates(args: argparse.Namespace) -> int:
    from app.curation.folder_audit import AuditOptions

    # Captions and the dataset's kind do not matter for duplicates.
    options = AuditOptions(
        training_type="style",
        trigger="-",
        family="sdxl",
        near_threshold=args.threshold,
        max_pixels=Settings().max_image_pixels,
        workers=args.workers,
    )
    report, _ = _run(args, options)
    groups = [
        {
            "kind": group.kind,
            "members": group.members,
            "max_distance": group.max_distance,
            "exact_sets": group.exact_sets,
        }
        for group in report.groups
    ]
    if args.json:
        print_json(
            {"threshold": args.threshold, "images": report.stats["images"], "groups": groups}
        )
    elif not groups:
        images = plural(report.stats["images"], "image")
        print(f"No duplicates among {images} (threshold {args.threshold}).")
    else:
        print(
            f"{plural(len(groups), 'group')} of duplicates among "
            f"{plural(report.stats['images'], 'image')} (threshold {args.threshold}):"
        )
        for group in groups:
            if group["kind"] == "exact":
                print("\n  exact copies (the same pixels):")
            else:
                print(
                    "\n  near-duplicates (pHash and dHash differ in at most "
                    f"{group['max_distance']} bits):"
                )
            for member in group["members"]:
                print(f"    {printable(member)}")
    sys.stdout.flush()
    return EXIT_BLOCKED if groups else EXIT_OK
