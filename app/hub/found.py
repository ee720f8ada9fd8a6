"""The models already on this computer, found without the network: the base models
studio.md lists, what huggingface_hub's cache holds, and the checkpoints in the folders
studio.md's ``model_folders`` names (ComfyUI's ``models/checkpoints`` and A1111's
``models/Stable-diffusion`` inside an install folder, or any plain folder). The family
of each checkpoint is read from its safetensors header (``model_detect``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.grimoire import Studio
from app.hub.catalogue import CatalogueEntry
from app.hub.pull import cached_files, hub_cache, snapshot_commit, storage_folder
from app.paths import UnsafePathError, user_path
from app.training.model_detect import ModelFileError, detect

# Inside an install folder: where ComfyUI and AUTOMATIC1111 keep checkpoints.
TOOL_FOLDERS = {"models/checkpoints": "ComfyUI", "models/Stable-diffusion": "A1111"}
# Checkpoints are looked for this many folders deep (ComfyUI users sort them in folders).
SEARCH_DEPTH = 3


@dataclass(frozen=True)
class FoundModel:
    name: str
    path: Path
    kind: str  # base | captioner
    family: str | None  # base models: read from the header
    source: str  # a hub repository, or "local"
    revision: str
    where: str  # where it was found, in words
    captioner: str = ""  # captioners: wd14 | natural
    in_studio: bool = False  # studio.md lists it by name

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"path": str(self.path)}


def _family(path: Path) -> str | None:
    try:
        found = detect(path)
    except (ModelFileError, OSError):
        return None
    return found.family if found.layout in ("single-file", "diffusers") else None


def _studio_models(studio: Studio) -> list[FoundModel]:
    found = []
    for entry in studio.base_models:
        try:
            path = user_path(entry.path)
        except UnsafePathError:
            continue
        found.append(
            FoundModel(
                entry.name,
                path,
                "base",
                entry.family,
                entry.source,
                entry.revision,
                "studio.md",
                in_studio=True,
            )
        )
    return found


def _cached_models(catalogue: dict[str, CatalogueEntry]) -> list[FoundModel]:
    cache = hub_cache()
    found = []
    for entry in catalogue.values():
        paths = cached_files(entry, cache)
        if paths is None:
            continue
        first = paths[entry.files[0]]
        commit = snapshot_commit(entry, cache, first)
        if entry.kind == "captioner":
            path = storage_folder(entry, cache) / "snapshots" / commit
            family = None
        else:
            path, family = first, _family(first) or entry.family
        found.append(
            FoundModel(
                entry.name,
                path,
                entry.kind,
                family,
                entry.repo,
                commit,
                "Hugging Face cache",
                captioner=entry.captioner,
            )
        )
    return found


def _checkpoints(folder: Path, depth: int = SEARCH_DEPTH) -> list[Path]:
    found: list[Path] = []
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return found
    for child in children:
        if child.is_symlink() and child.is_dir():
            continue  # a link to a folder could lead back to where it started
        if child.is_dir() and depth > 1:
            found += _checkpoints(child, depth - 1)
        elif child.suffix.lower() == ".safetensors" and child.is_file():
            found.append(child)
    return found


def _folder_models(studio: Studio) -> list[FoundModel]:
    found = []
    for configured in studio.model_folders:
        try:
            root = user_path(configured)
        except UnsafePathError:
            continue
        searched = [(root / sub, tool) for sub, tool in TOOL_FOLDERS.items()]
        searched = [(folder, tool) for folder, tool in searched if folder.is_dir()]
        for folder, tool in searched or [(root, "")]:
            label = f"{tool} checkpoints in {root}" if tool else f"the folder {root}"
            for path in _checkpoints(folder):
                family = _family(path)
                if family is None:
                    continue  # a LoRA, a VAE or an unknown model: not a base model
                name = path.relative_to(folder).with_suffix("").as_posix()
                found.append(FoundModel(name, path, "base", family, "local", "", label))
    return found


def _key(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def found_models(studio: Studio, catalogue: dict[str, CatalogueEntry]) -> list[FoundModel]:
    """Every model found on this computer, once each (studio.md's name first)."""
    seen: set[Path] = set()
    result = []
    for model in _studio_models(studio) + _cached_models(catalogue) + _folder_models(studio):
        key = _key(model.path)
        if key in seen:
            continue
        seen.add(key)
        result.append(model)
    return result
