"""``loragate project create|list|show``: the intent interview without a browser."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.common import add_json_flag, open_workspace, print_json, project_context
from app.intent import BACKENDS, CAPTION_FORMATS, MODEL_FAMILIES, TRAINING_TYPES
from app.printable import printable
from app.projects import Intent, IntentErrors, create_project, list_projects, project_record


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("project", help="create, list and show projects")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a project (the intent interview)")
    create.add_argument("name")
    create.add_argument(
        "--type", dest="training_type", required=True, choices=sorted(TRAINING_TYPES)
    )
    create.add_argument("--trigger", required=True, help="the trigger word")
    create.add_argument(
        "--base-model", required=True, help="a model name from studio.md, or an absolute path"
    )
    create.add_argument("--family", required=True, choices=sorted(MODEL_FAMILIES))
    create.add_argument(
        "--caption-format",
        choices=sorted(CAPTION_FORMATS),
        help="default: the one recommended for the family",
    )
    create.add_argument("--must-vary", default="")
    create.add_argument("--must-stay", default="")
    create.add_argument("--backend", default="native", choices=BACKENDS)
    add_json_flag(create)
    create.set_defaults(handler=handle_create)

    listing = actions.add_parser("list", help="list projects")
    add_json_flag(listing)
    listing.set_defaults(handler=handle_list)

    show = actions.add_parser("show", help="show one project")
    show.add_argument("slug")
    add_json_flag(show)
    show.set_defaults(handler=handle_show)


def handle_create(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    caption_format = args.caption_format or MODEL_FAMILIES[args.family].recommended_caption_format
    intent = Intent(
        name=args.name,
        training_type=args.training_type,
        trigger_word=args.trigger,
        base_model=args.base_model,
        model_family=args.family,
        caption_format=caption_format,
        must_vary=args.must_vary,
        must_stay=args.must_stay,
        backend=args.backend,
    )
    try:
        project, validated = create_project(workspace, intent)
    except IntentErrors as exc:
        if args.json:
            print_json({"created": False, "errors": exc.errors})
        else:
            sys.stderr.write("The project was not created:\n")
            for field, message in exc.errors.items():
                sys.stderr.write(f"  {field.replace('_', ' ')}: {message}\n")
        return 1
    if args.json:
        print_json(
            {"created": True, "project": project_record(project), "warnings": validated.warnings}
        )
        return 0
    print(f"Created “{printable(project.name)}” in {workspace.project_dir(project.slug)}")
    for messages in validated.warnings.values():
        for message in messages:
            print(f"  warning: {message}")
    print()
    print(TRAINING_TYPES[project.training_type].content_style)
    return 0


def handle_list(args: argparse.Namespace) -> int:
    projects = list_projects(open_workspace())
    if args.json:
        print_json([project_record(project) for project in projects])
        return 0
    if not projects:
        print("No projects yet. Create one with `loragate project create` or `loragate serve`.")
    for project in projects:
        print(
            f"{project.slug:30} {project.training_type:10} {project.model_family:6} "
            f"trigger={project.trigger_word}"
        )
    return 0


def handle_show(args: argparse.Namespace) -> int:
    from app.gates.state import gate_states

    workspace = open_workspace()
    ctx = project_context(workspace, args.slug)
    states = gate_states(ctx)
    if args.json:
        print_json(
            {
                "project": project_record(ctx.project),
                "gates": {state.name: state.status for state in states},
                "dir": str(ctx.dir),
            }
        )
        return 0
    record = project_record(ctx.project)
    for key, value in record.items():
        print(f"{key:15} {printable(str(value))}")
    print(f"{'folder':15} {ctx.dir}")
    for state in states:
        print(f"{state.title:25} {state.status.replace('_', ' ')}")
    return 0
