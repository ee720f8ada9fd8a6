"""Naming a project's images on the command line: by their path in the dataset, as
``loragate captions PROJECT`` lists them (``10_mira/001.png``), optionally with the
caption version read (``10_mira/001.png@3``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.common import fail_usage

if TYPE_CHECKING:
    from app.models import DatasetImage
    from app.workspace import ProjectContext


@dataclass(frozen=True)
class Named:
    image: DatasetImage
    version: int | None  # the caption version the person read; None when not given


def _dataset_path(ctx: ProjectContext, name: str) -> str:
    """``name`` as a path inside the dataset: a full path into the dataset folder (tab
    completion from inside it) works as well as the listed one."""
    from app.dataset.inventory import dataset_dir

    path = Path(name)
    if path.is_absolute():
        root = dataset_dir(ctx).resolve()
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            return name
    return name.removeprefix("./")


def _split_version(name: str, known: set[str]) -> tuple[str, int | None]:
    """``path@3`` → (path, 3); a path that itself ends in ``@3`` is the path."""
    path, sep, version = name.rpartition("@")
    if sep and version.isdigit() and name not in known:
        return path, int(version)
    return name, None


def named_images(
    ctx: ProjectContext, names: Sequence[str], *, versions: bool = False
) -> list[Named]:
    """The images ``names`` stand for, in order, or a usage error naming the ones that
    are not in the dataset (nothing is changed). With ``versions``, each name may carry
    ``@VERSION``."""
    from app.dataset.records import load_rows

    rows = {row.path: row for row in load_rows(ctx)}
    known = set(rows)
    found: list[Named] = []
    unknown: list[str] = []
    for name in names:
        path, version = _split_version(name, known) if versions else (name, None)
        path = _dataset_path(ctx, path)
        row = rows.get(path)
        if row is None:
            unknown.append(name)
        else:
            found.append(Named(row, version))
    if unknown:
        hints = []
        for name in unknown[:5]:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hints.append(f"“{name}”" + (f" (did you mean {close[0]}?)" if close else ""))
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        fail_usage(
            f"not in the dataset of “{ctx.project.slug}”: {', '.join(hints)}{more}. Name "
            f"images by their path in the dataset, as `loragate captions {ctx.project.slug}` "
            "lists them."
        )
    return found
