"""``loragate eval-grid PROJECT``: the Evaluation page's grid from a shell. The same job
as the page ("evaluation.grid", run by the worker in a child process, waiting its turn
for the GPU); this command follows it with progress on stderr (Ctrl-C cancels it), then
prints where each contact sheet PNG is and its effect and leak curves.

Which LoRA: ``--lora`` names a file of the project (its path in the project folder, or
its file name); ``--run R`` takes run R's final file, ``--checkpoint`` another of its
files (or ``all`` of them, side by side). Neither: the newest run's final file.

Exit status: 0 the grid is made, 1 the job failed or could not start (the reason is
printed), 2 wrong usage (a weight, seed or LoRA that cannot be used).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import add_json_flag, fail_usage, open_workspace, print_json, project_context
from app.cli.jobs import wait_for
from app.cli.progress import StderrProgress
from app.cli.recheck import busy_message
from app.workspace import ProjectContext

if TYPE_CHECKING:  # the domain modules load when the command runs, not on --help
    from app.evaluation.loras import LoraFile

EXIT_OK, EXIT_FAILED = 0, 1
ALL = "all"


def register(subparsers: Any) -> None:
    from app.evaluation.job import DEFAULT_STEPS, DEFAULT_WEIGHTS

    parser = subparsers.add_parser(
        "eval-grid",
        help="make a LoRA's evaluation grid: its contact sheet and effect and leak curves",
        # The first paragraph whole: its first line alone stops mid-sentence.
        description=__doc__.split("\n\n")[0].replace("``", "") if __doc__ else None,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project's short name (slug)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--lora",
        metavar="NAME",
        help="a LoRA file of the project: its path in the project folder or its file name",
    )
    which.add_argument("--run", metavar="R", type=int, help="a training run's number")
    parser.add_argument(
        "--checkpoint",
        metavar="C",
        action="append",
        help="with --run: final, a step number, 'epoch N', or all (repeat to compare several)",
    )
    parser.add_argument(
        "--weights",
        nargs="+",
        metavar="W",
        help="LoRA strengths, one column each (default: "
        + " ".join(f"{w:g}" for w in DEFAULT_WEIGHTS)
        + ")",
    )
    parser.add_argument("--seeds", nargs="+", metavar="S", help="fixed seeds (default: 1 2)")
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"denoising steps per image (default {DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--resolution",
        type=int,
        metavar="PX",
        help="image size in pixels (default: the project's training resolution)",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def _known(loras: list[LoraFile]) -> str:
    if not loras:
        return (
            "This project has no LoRA file yet: a finished run's files appear in runs/, and "
            "a LoRA made elsewhere can be copied into loras/ in the project folder."
        )
    return "Known LoRA files:\n" + "\n".join(f"  {lora.id}  ({lora.label})" for lora in loras)


def _named(loras: list[LoraFile], name: str) -> LoraFile:
    """The LoRA whose id, id without ``.safetensors`` or file name is ``name``."""
    for lora in loras:
        if name in (lora.id, lora.id.removesuffix(".safetensors")):
            return lora
    by_file = [lora for lora in loras if name in (lora.path.name, lora.path.stem)]
    if len(by_file) == 1:
        return by_file[0]
    if by_file:
        fail_usage(f"“{name}” names several LoRA files; give its path.\n{_known(by_file)}")
    fail_usage(f"“{name}” is not a LoRA file of this project.\n{_known(loras)}")


def _of_run(ctx: ProjectContext, run: int, checkpoints: list[str]) -> list[LoraFile]:
    from app.evaluation.loras import LoraNotFound, final_of_run, loras_of_run
    from app.runs.records import get_run

    record = get_run(ctx, run)
    recorded = record.output_files if record is not None else []
    try:
        files = loras_of_run(ctx.dir, run, recorded)
    except LoraNotFound as exc:
        fail_usage(f"{exc}\n{_known(_listed(ctx))}")
    if not checkpoints:
        return [final_of_run(ctx.dir, run, recorded)]
    if ALL in checkpoints:
        return files
    chosen = []
    for wanted in checkpoints:
        match = [lora for lora in files if wanted in (lora.label, str(lora.step))]
        if not match:
            choices = ", ".join(
                lora.label if lora.step is None else str(lora.step) for lora in files
            )
            fail_usage(f"run {run} has no checkpoint “{wanted}”: it has {choices} (or all).")
        chosen += match
    return chosen


def _listed(ctx: ProjectContext) -> list[LoraFile]:
    from app.evaluation.loras import list_loras

    return list_loras(ctx.dir)


def choose_loras(ctx: ProjectContext, args: argparse.Namespace) -> list[LoraFile]:
    from app.evaluation.loras import default_lora

    if args.checkpoint and args.run is None:
        fail_usage("--checkpoint chooses among a run's files: give --run R with it.")
    if args.run is not None:
        return _of_run(ctx, args.run, args.checkpoint or [])
    loras = _listed(ctx)
    if args.lora is not None:
        return [_named(loras, args.lora)]
    found = default_lora(loras)
    if found is None:
        fail_usage(_known(loras))
    return [found]


def _refuse(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print_json({"evaluated": False, "error": message})
    else:
        sys.stderr.write(f"No grid was made: {message}\n")
    return EXIT_FAILED


def handle(args: argparse.Namespace) -> int:
    from app.evaluation.job import GRID_JOB, GridRefused, grid_request, parse_numbers
    from app.worker import JobBusy, Worker

    workspace = open_workspace()
    try:
        ctx = project_context(workspace, args.project)
        loras = choose_loras(ctx, args)
        try:
            request = grid_request(
                ctx,
                [lora.id for lora in loras],
                parse_numbers(" ".join(args.weights), "weights") if args.weights else None,
                parse_numbers(" ".join(args.seeds), "seeds") if args.seeds else None,
                args.steps,
                args.resolution,
            )
        except GridRefused as exc:
            fail_usage(str(exc))
        worker = Worker(workspace)
        try:
            job = worker.start(GRID_JOB, ctx.project.id, request.params(), title=request.title())
        except JobBusy as exc:
            return _refuse(args, busy_message(exc.job))
        progress = StderrProgress()
        if job.state == "queued":
            progress.stage("Waiting for the GPU: another job is using it")
        ended = wait_for(worker, job.id or 0, progress)
        progress.finish()
        if ended.state != "done":
            return _refuse(args, ended.error or ended.message or f"the grid ended {ended.state}.")
        return _report(ctx, args, ended.result.get("loras", []))
    finally:
        workspace.close()


def _report(ctx: ProjectContext, args: argparse.Namespace, lora_ids: list[str]) -> int:
    from app.evaluation.sheet import read_sheet

    sheets = []
    for lora_id in lora_ids:
        sheet = read_sheet(ctx.dir, lora_id)
        if sheet is None:
            return _refuse(args, f"the sheet of {lora_id} cannot be read after the grid.")
        sheets.append(sheet | {"sheet_png": str(sheet_path(ctx.dir, lora_id))})
    if args.json:
        print_json({"evaluated": True, "sheets": sheets})
        return EXIT_OK
    for sheet in sheets:
        print(f"{sheet['lora']} ({sheet['label']}): {len(sheet['cells'])} images")
        print(f"  Contact sheet: {sheet['sheet_png']}")
        print_curves(sheet["curves"])
    print(
        "Change from the base model: the mean difference of the final latents from weight 0 "
        "on the same seeds, with the trigger and without it. It measures how far the LoRA "
        "moves the picture, not how good the picture is."
    )
    print(
        "Pick the cell that looks right on the project's Evaluation page (`loragate serve`): "
        "that file and weight become the recommendation you register in the studio."
    )
    return EXIT_OK


def print_curves(curves: dict[str, Any]) -> None:
    print(f"  {'weight':>8}  {'with trigger':>12}  {'without':>8}")
    for weight, effect, leak in zip(
        curves["weights"], curves["effect"], curves["leak"], strict=True
    ):
        print(f"  {weight:>8g}  {effect:>12.4f}  {leak:>8.4f}")


def sheet_path(project_dir: Path, lora_id: str) -> Path:
    from app.evaluation.sheet import SHEET_PNG, sheet_dir

    return sheet_dir(project_dir, lora_id) / SHEET_PNG
