"""``loragate gates PROJECT [--check]``: where the four gates stand now, as the project's
overview shows them: each gate's stored verdict, whether it is still current (a gate
whose inputs changed since it ran is stale, with the reasons) and what it found.

Without ``--check`` nothing is run or written. With it, every gate that has not run or
is out of date is checked again first, in order, with progress on stderr; that includes
Gate 4, the dry run (a few real training steps, through the worker), once Gates 1-3
pass.

Exit status: 0 when all four gates have each run, none blocks and none is stale
(warnings allowed): training may start; 1 otherwise; 2 wrong usage.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json, project_context
from app.cli.recheck import CHECKABLE, FOREGROUND, check_stale, foreground
from app.findings import Finding
from app.gate_records import findings_of
from app.gates.state import GateState, gate_module, gate_states
from app.resources import source_href
from app.words import GATE_WORDS

# Occurrences of one kind of finding printed before "and N more".
SHOWN_PER_CODE = 3


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gates",
        help="where Gates 1-4 stand now (exit 0 only when all four pass and are current)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="check again every gate that has not run or is out of date, the dry run "
        "included once Gates 1-3 pass (Gate 3 takes a while, the dry run minutes)",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def available(state: GateState) -> bool:
    return gate_module(state.name) is not None


def passes(states: list[GateState]) -> bool:
    return all(state.passes_now for state in states if state.name in CHECKABLE)


def handle(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        note = None
        if args.check:
            with foreground(ctx) as busy:
                if busy is None:
                    check_stale(ctx, FOREGROUND)
                else:
                    note = busy + " Nothing was checked."
            if busy is None:
                check_stale(ctx, ("dryrun",))
        states = gate_states(ctx)
        ok = passes(states)
        if args.json:
            print_json(
                {
                    "project": ctx.project.slug,
                    "passes": ok,
                    "gates": [_gate_json(state) for state in states],
                    "note": note,
                }
            )
        else:
            _print(ctx.project.slug, states, ok, note)
        return 0 if ok else 1
    finally:
        workspace.close()


def _gate_json(state: GateState) -> dict[str, Any]:
    record = state.record
    return {
        "gate": state.name,
        "title": state.title,
        "available": available(state),
        "status": state.status if available(state) else "not_available",
        "stale_reasons": state.stale_reasons,
        "verdict": record.verdict if record else None,
        "checked_at": record.created_at.isoformat() if record else None,
        "findings": [f.model_dump() for f in findings_of(record)] if record else [],
    }


def _print(slug: str, states: list[GateState], ok: bool, note: str | None) -> None:
    if note:
        print(note)
    for state in states:
        if not available(state):
            print(f"{state.title}: not available yet (loragate cannot run it so far).")
            continue
        record = state.record
        when = f" (checked {record.created_at:%Y-%m-%d %H:%M} UTC)" if record else ""
        print(f"{state.title} {GATE_WORDS[state.status]}{when}.")
        if state.status == "stale":
            print(f"  Since then: {'; '.join(state.stale_reasons)}.")
            if record is not None:
                print(f"  When it was checked it said: {GATE_WORDS[record.verdict]}.")
        if record is not None and state.status in ("block", "warn", "stale"):
            _print_findings(findings_of(record))
    print()
    if ok:
        print("All four gates pass and are current: training may start.")
    else:
        print(
            f"Not every gate passes now. `loragate gates {slug} --check` checks again the "
            "ones that have not run or are out of date."
        )


def _print_findings(findings: list[Finding]) -> None:
    by_code: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.severity != "info":
            by_code.setdefault(finding.code, []).append(finding)
    for items in sorted(by_code.values(), key=lambda items: items[0].severity != "block"):
        first = items[0]
        for item in items[:SHOWN_PER_CODE]:
            print(f"  [{item.severity}] {item.message}")
        if len(items) > SHOWN_PER_CODE:
            print(f"  … and {len(items) - SHOWN_PER_CODE} more like it.")
        print(f"      fix: {first.fix}")
        print(f"      more: {source_href(first.source)}")
