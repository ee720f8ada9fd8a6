"""``loragate env [--project P] [--json]``: Gate 3, the environment check, from a shell.

With a project its config, trainer and model family are judged and the result is stored
(the overview's Gate 3 light shows it); without one the machine is judged against
loragate's defaults (native trainer, device cuda, bf16) and nothing is stored.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json, project_context
from app.environment.checklist import GROUPS, group_of
from app.findings import GateResult
from app.gate_records import record_result
from app.gates.environment import evaluate, judge, machine_inputs
from app.resources import source_href
from app.words import GATE_WORDS

MARKS = {"pass": "[ok]   ", "warn": "[warn] ", "block": "[BLOCK]", "skipped": "[skip] "}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "env",
        help="check the GPU, driver, PyTorch, trainer, disk and memory (Gate 3)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--project", metavar="P", help="judge (and store) for this project")
    add_json_flag(parser)
    parser.set_defaults(handler=handle_env)


def handle_env(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    try:
        if args.project:
            ctx = project_context(workspace, args.project)
            result = evaluate(ctx)
            record_result(ctx, result)
            where = f"for project “{ctx.project.slug}” (stored; the overview shows it)"
        else:
            result = judge(machine_inputs(workspace))
            where = "for this machine with loragate's defaults (not stored; use --project)"
    finally:
        workspace.close()
    if args.json:
        print_json(result.to_json())
    else:
        print_report(result, where)
    return 1 if result.verdict == "block" else 0


def print_report(result: GateResult, where: str) -> None:
    print(f"Gate 3 · Environment {GATE_WORDS[result.verdict]} {where}\n")
    checks = {check["key"]: check for check in result.stats.get("checks", [])}
    for key, title in GROUPS:
        check = checks.get(key, {"status": "pass", "facts": []})
        print(f"{MARKS.get(check['status'], '       ')} {title}")
        for label, value in check["facts"]:
            print(f"          {label}: {value}")
        for finding in result.findings:
            if group_of(finding) != key:
                continue
            print(f"        - {finding.severity}: {finding.message}")
            print(f"          why: {finding.why}")
            print(f"          fix: {finding.fix}")
            print(f"          source: {source_href(finding.source)}")
    print()
