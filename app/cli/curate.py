"""``loragate curate PROJECT``: the Curate page from a shell. Without options it shows
each concept's images, repeats and share of every epoch, and the run's step count with
the project's config; ``--exclude``/``--include IMAGE...`` take images out of training or
put them back, ``--repeats CONCEPT=N`` sets how many times each image of a concept is
shown per epoch. Every change is journaled, then Gate 1 is checked again.

Exit status: 0 shown or changed, 1 a change was refused (the reason is printed; the
changes before it were made), 2 wrong usage (nothing was changed).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.cli.common import (
    add_json_flag,
    fail_usage,
    open_workspace,
    print_json,
    project_context,
)
from app.cli.images import named_images
from app.cli.recheck import check_dataset, outcome_json, outcome_line
from app.words import plural

if TYPE_CHECKING:
    from app.curation.balance import Balance

EXIT_OK, EXIT_REFUSED = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "curate",
        help="include or exclude images and set repeats per concept (the Curate page)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    parser.add_argument(
        "--exclude",
        action="extend",
        nargs="+",
        default=[],
        metavar="IMAGE",
        help="leave these images out",
    )
    parser.add_argument(
        "--include",
        action="extend",
        nargs="+",
        default=[],
        metavar="IMAGE",
        help="train on these images again",
    )
    parser.add_argument(
        "--repeats",
        action="append",
        default=[],
        metavar="CONCEPT=N",
        help="show each image of CONCEPT N times per epoch; repeatable",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="do not check Gate 1 again after the changes"
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def _repeats(values: list[str], concepts: dict[str, int]) -> dict[str, int]:
    """``CONCEPT=N`` pairs, checked against the dataset's concepts before any change."""
    from app.curation.balance import MAX_REPEATS

    wanted: dict[str, int] = {}
    for value in values:
        concept, sep, number = value.rpartition("=")
        if not sep or not number.strip().isdigit():
            fail_usage(f"--repeats takes CONCEPT=N (for example mira=10), not “{value}”.")
        if concept not in concepts:
            fail_usage(
                f"--repeats: there is no concept “{concept}” in this dataset; its concepts: "
                f"{', '.join(sorted(concepts)) or 'none yet'}."
            )
        repeats = int(number)
        if not 1 <= repeats <= MAX_REPEATS:
            fail_usage(f"--repeats {value}: repeats are a whole number from 1 to {MAX_REPEATS}.")
        wanted[concept] = repeats
    return wanted


def handle(args: argparse.Namespace) -> int:
    from app.curation.balance import balance, set_repeats
    from app.curation.report import decisions
    from app.dataset.decisions import DecisionError, set_included

    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        both = set(args.exclude) & set(args.include)
        if both:
            fail_usage(f"{sorted(both)[0]} is named to be both excluded and included.")
        excluded = named_images(ctx, args.exclude)
        included = named_images(ctx, args.include)
        current = {line.concept: line.repeats for line in balance(ctx).concepts}
        repeats = _repeats(args.repeats, current)
        messages: list[str] = []
        changed = False
        try:
            for items, include in ((excluded, False), (included, True)):
                for item in items:
                    if item.image.included == include:
                        state = "included" if include else "excluded"
                        messages.append(f"{item.image.path} was {state} already.")
                        continue
                    set_included(ctx, item.image.id or 0, include)
                    changed = True
                    verb = "Included" if include else "Excluded"
                    messages.append(f"{verb} {item.image.path}.")
            for concept, number in repeats.items():
                if current[concept] == number:
                    messages.append(f"Repeats of “{concept}” were {number} already.")
                    continue
                change = set_repeats(ctx, concept, number)
                changed = True
                messages.append(f"Repeats of “{concept}”: {change.old} → {change.new}.")
        except DecisionError as exc:
            for message in messages:
                print(message)
            sys.stderr.write(f"loragate: {exc}\n")
            return EXIT_REFUSED
        outcome = check_dataset(ctx) if changed and not args.no_check else None
        now = balance(ctx)
        left_out = decisions(ctx).excluded
        if args.json:
            print_json(
                _json(now)
                | {
                    "excluded_images": [{"path": path, "why": why} for path, why in left_out],
                    "changes": messages,
                    "gate": outcome_json(outcome),
                }
            )
            return EXIT_OK
        for message in messages:
            print(message)
        _print(now)
        if left_out:
            print(f"Left out of training ({len(left_out)}):")
            for path, why in left_out:
                print(f"  {path} ({why})")
        if outcome is not None:
            print(outcome_line(outcome, ctx.project.slug))
        return EXIT_OK
    finally:
        workspace.close()


def _json(now: Balance) -> dict[str, Any]:
    plan = now.plan
    return {
        "concepts": [
            {
                "concept": line.concept,
                "repeats": line.repeats,
                "images": line.images,
                "excluded": line.excluded,
                "samples": line.samples,
                "share": round(now.share(line), 4),
            }
            for line in now.concepts
        ],
        "samples_per_epoch": now.samples,
        "steps": plan.total_steps if plan else None,
        "step_formula": plan.formula() if plan else None,
        "config_error": now.config_error,
    }


def _print(now: Balance) -> None:
    print(f"{'concept':20} {'images':>7} {'excluded':>9} {'repeats':>8} {'samples':>8}  share")
    for line in now.concepts:
        print(
            f"{line.concept:20} {line.images:7} {line.excluded:9} {line.repeats:8} "
            f"{line.samples:8}  {now.share(line):.0%}"
        )
    print(f"Each epoch shows {plural(now.samples, 'sample')}.")
    if now.plan is not None:
        print(f"Steps: {now.plan.formula()}")
    elif now.config_error:
        print(f"The step count cannot be worked out: {now.config_error}")
