"""``loragate dry-run PROJECT [--steps N] [--json]``: Gate 4 from a shell. A few real
steps of the project's trainer (3 unless asked, 2-5) in a scratch folder, with one
checkpoint saved and read back and each sample prompt drawn once; the seconds per step
and peak GPU memory it measured replace the estimates. The same job the Dry run page
starts, run by the worker in a child process; this command follows it with progress
on stderr (Ctrl-C cancels it). It starts only when Gates 1-3 pass now.

Exit status: 0 the dry run passed (warnings allowed), 1 it blocked, failed or was
refused (the reasons are printed), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json, project_context
from app.cli.jobs import wait_for
from app.cli.progress import StderrProgress
from app.cli.recheck import busy_message
from app.words import GATE_WORDS

EXIT_OK, EXIT_BLOCKED = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dry-run",
        help="Gate 4: a few real training steps, measured (exit 0 pass, 1 blocked)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    parser.add_argument(
        "--steps",
        type=int,
        choices=range(2, 6),
        default=3,
        metavar="N",
        help="steps to train, 2 to 5 (default 3; the first is not measured)",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def _refuse(args: argparse.Namespace, reasons: list[str]) -> int:
    if args.json:
        print_json({"ran": False, "reasons": reasons})
    else:
        sys.stderr.write("The dry run did not start:\n")
        for reason in reasons:
            sys.stderr.write(f"  {reason}\n")
    return EXIT_BLOCKED


def handle(args: argparse.Namespace) -> int:
    from app.gates.dryrun_job import DryRunRefused, start_dry_run
    from app.worker import JobBusy, Worker

    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        worker = Worker(workspace)
        try:
            job = start_dry_run(worker, ctx, args.steps)
        except DryRunRefused as exc:
            return _refuse(
                args, [*exc.reasons, f"`loragate gates {args.project}` shows what to do."]
            )
        except JobBusy as exc:
            return _refuse(args, [busy_message(exc.job)])
        progress = StderrProgress()
        ended = wait_for(worker, job.id or 0, progress)
        progress.finish()
    finally:
        workspace.close()
    if ended.state != "done":
        tail = ended.result.get("log_tail", [])
        return _refuse(args, [ended.error or ended.message or f"it ended {ended.state}", *tail])
    result = ended.result
    if args.json:
        print_json({"ran": True, **result})
    else:
        _print(result)
    return EXIT_OK if result["verdict"] in ("pass", "warn") else EXIT_BLOCKED


def _print(result: dict[str, Any]) -> None:
    print(f"Gate 4 · Dry run {GATE_WORDS[result['verdict']]}.")
    measured = result.get("measurement")
    if measured:
        print(f"  {measured_line(measured)}")
    for finding in result["findings"]:
        print(f"  [{finding['severity']}] {finding['message']}")
        print(f"      why: {finding['why']}")
        print(f"      fix: {finding['fix']}")
    for line in result.get("log_tail", []):
        print(f"  | {line}")


def measured_line(m: dict[str, Any]) -> str:
    line = (
        f"Measured {m['seconds_per_step']:.2f} s per step on {m.get('gpu_name') or 'this machine'}"
    )
    if m.get("estimated_seconds_per_step"):
        line += f" (estimated {m['estimated_seconds_per_step']:.2f} s)"
    if m.get("peak_vram_gb") is not None:
        line += f", peak GPU memory {m['peak_vram_gb']:.1f} GB"
        if m.get("estimated_vram_gb"):
            line += f" (estimated {m['estimated_vram_gb']:.1f} GB)"
    return line + "."
