"""The project's base model: where it is (a studio.md name or an absolute path), what
the artist said it is, and a cheap fingerprint of the file so that replacing it makes
Gate 2 stale."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from app.grimoire import GrimoireError
from app.paths import UnsafePathError, user_path
from app.training.model_detect import MAX_HEADER_BYTES
from app.workspace import ProjectContext

# Diffusers folders: the files that say what the model is (small, read whole).
CONFIG_FILE_NAMES = ("model_index.json", "config.json", "scheduler_config.json")


@dataclass(frozen=True)
class BaseModelRefInfo:
    reference: str  # as the project stores it
    path: Path | None  # None when it cannot be resolved
    source: str  # "studio" | "path"
    studio_family: str | None  # what studio.md says, for studio entries
    prediction_type: str  # epsilon | v_prediction (studio.md; epsilon for bare paths)
    problem: str | None = None  # why it cannot be used, in plain words
    parts: dict[str, Path] = field(default_factory=dict)  # studio.md's parts, by role


def _parts(parts: dict[str, str]) -> dict[str, Path]:
    """studio.md's parts of a base model; a path no computer could hold is left out (the
    trainer then says which part it misses)."""
    found = {}
    for role, value in parts.items():
        try:
            found[role] = user_path(value)
        except UnsafePathError:
            continue
    return found


def resolve_base_model(ctx: ProjectContext) -> BaseModelRefInfo:
    reference = ctx.project.base_model
    try:
        entry = ctx.workspace.studio().base_model(reference)
    except GrimoireError as exc:
        entry = None
        studio_problem: str | None = f"studio.md cannot be read: {exc}"
    else:
        studio_problem = None
    if entry is not None:
        try:
            path: Path | None = user_path(entry.path)
        except UnsafePathError as exc:
            path, problem = None, f"studio.md points “{entry.name}” at {entry.path}: {exc}"
        else:
            problem = (
                None
                if path.exists()
                else f"studio.md points “{entry.name}” at {path}, which does not exist."
            )
        return BaseModelRefInfo(
            reference,
            path if problem is None else None,
            "studio",
            entry.family,
            entry.prediction or "epsilon",
            problem,
            _parts(entry.parts),
        )
    try:
        path = user_path(reference)
    except UnsafePathError as exc:
        return BaseModelRefInfo(reference, None, "path", None, "epsilon", str(exc))
    if not path.is_absolute():
        problem = studio_problem or (
            f"“{reference}” is neither a model in studio.md nor an absolute path."
        )
        return BaseModelRefInfo(reference, None, "path", None, "epsilon", problem)
    if not path.exists():
        return BaseModelRefInfo(
            reference, None, "path", None, "epsilon", f"Nothing exists at {path}."
        )
    return BaseModelRefInfo(reference, path, "path", None, "epsilon")


def base_model_digest(path: Path | None) -> str:
    """SHA-256 over what identifies the model without reading its weights: size, mtime
    and the header bytes of a single file; the config files (and the weight files'
    sizes and mtimes) of a diffusers folder."""
    digest = hashlib.sha256()
    if path is None or not path.exists():
        digest.update(b"missing")
        return digest.hexdigest()
    if path.is_dir():
        for item in sorted(path.rglob("*")):
            if not item.is_file() or item.is_symlink():
                continue
            stat = item.stat()
            relative = item.relative_to(path).as_posix()
            digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
            if item.name in CONFIG_FILE_NAMES and stat.st_size < 1_000_000:
                digest.update(item.read_bytes())
        return digest.hexdigest()
    stat = path.stat()
    digest.update(f"{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    with path.open("rb") as handle:
        prefix = handle.read(8)
        digest.update(prefix)
        if path.suffix.lower() == ".safetensors" and len(prefix) == 8:
            (length,) = struct.unpack("<Q", prefix)
            digest.update(handle.read(min(length, MAX_HEADER_BYTES)))
    return digest.hexdigest()
