"""The catalogue of models loragate offers by name: each with its hub repository, a
pinned revision, its files and their sizes, its licence, and whether the hub asks the
artist to accept terms and log in first. Read from ``app/data/models_catalogue.toml``
(or the file ``LORAGATE_MODELS_CATALOGUE`` names, in the same format).

A base model's first file is its checkpoint; the files after it are the parts a trainer
needs beside it (Flux's text encoders and autoencoder for sd-scripts), each named by
``part`` and possibly from another repository (``repo``, ``revision``). They are
downloaded by the same pull and recorded in studio.md under the model's ``parts``.

Pickled weights (.ckpt, .bin, .pt, .pth) are refused when the catalogue is read:
unpickling runs whatever code the file carries, so such a name is never offered."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path, PurePosixPath
from typing import Any

from app.settings import Settings
from app.training.model_detect import PICKLED_SUFFIXES

KINDS = ("base", "captioner")
CAPTIONER_KINDS = ("wd14", "natural")
HUB_PAGE = "https://huggingface.co"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class CatalogueError(ValueError):
    """The catalogue file cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class HubFile:
    name: str  # the path inside the repository
    size: int  # bytes
    part: str = ""  # a base model's companion file: its role (clip_l, t5xxl, ae)
    repo: str = ""  # another repository than the entry's; "" for the entry's own
    revision: str = ""  # that repository's revision


@dataclass(frozen=True)
class CatalogueEntry:
    name: str  # what the artist types: `loragate models pull sdxl-base-1.0`
    title: str
    kind: str  # base | captioner
    repo: str
    revision: str  # a commit hash, or a branch ("main") where none was pinned
    files: tuple[HubFile, ...]
    licence: str
    licence_url: str
    gated: bool
    family: str = ""  # base models: sd15 | sdxl | flux
    captioner: str = ""  # captioners: wd14 | natural

    @property
    def size(self) -> int:
        return sum(item.size for item in self.files)

    @property
    def page(self) -> str:
        """The repository's page, where a gated model's terms are accepted."""
        return f"{HUB_PAGE}/{self.repo}"

    @property
    def weights(self) -> HubFile:
        """The file a base model is used by (its checkpoint)."""
        return self.files[0]

    @property
    def parts(self) -> tuple[HubFile, ...]:
        return tuple(item for item in self.files if item.part)

    def repo_of(self, item: HubFile) -> str:
        return item.repo or self.repo

    def revision_of(self, item: HubFile) -> str:
        if item.repo:
            return item.revision or "main"
        return self.revision

    @property
    def pinned(self) -> bool:
        """Whether every file comes from a fixed commit (not a branch that can move)."""
        return all(_COMMIT.match(self.revision_of(item)) for item in self.files)


def _entry(raw: dict[str, Any], where: str) -> CatalogueEntry:
    try:
        files = tuple(
            HubFile(
                str(f["name"]),
                int(f["size"]),
                str(f.get("part", "")),
                str(f.get("repo", "")),
                str(f.get("revision", "")),
            )
            for f in raw["files"]
        )
        entry = CatalogueEntry(
            name=str(raw["name"]),
            title=str(raw["title"]),
            kind=str(raw["kind"]),
            repo=str(raw["repo"]),
            revision=str(raw.get("revision") or "main"),
            files=files,
            licence=str(raw.get("licence", "")),
            licence_url=str(raw.get("licence_url", "")),
            gated=bool(raw.get("gated", False)),
            family=str(raw.get("family", "")),
            captioner=str(raw.get("captioner", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogueError(f"{where}: an entry lacks or misspells {exc}.") from None
    label = f"{where}: “{entry.name}”"
    if entry.kind not in KINDS:
        raise CatalogueError(f"{label} has kind “{entry.kind}”; it must be base or captioner.")
    if entry.kind == "base" and (not entry.family or not files or files[0].part):
        raise CatalogueError(
            f"{label} is a base model: it needs a family, and its first file is the checkpoint."
        )
    roles = [item.part for item in files[1:]] if entry.kind == "base" else []
    if not all(roles) or len(set(roles)) != len(roles):
        raise CatalogueError(
            f"{label}: every file after the checkpoint names its part (clip_l, t5xxl, ae), "
            "each once."
        )
    if entry.kind != "base" and any(item.part or item.repo for item in files):
        raise CatalogueError(f"{label} is a captioner: its files come from its own repository.")
    if entry.kind == "captioner" and entry.captioner not in CAPTIONER_KINDS:
        raise CatalogueError(f"{label} is a captioner: say wd14 or natural.")
    if not files:
        raise CatalogueError(f"{label} lists no files.")
    for item in files:
        path = PurePosixPath(item.name)
        if path.is_absolute() or ".." in path.parts:
            raise CatalogueError(f"{label} names a file outside its repository: {item.name}.")
        if path.suffix.lower() in PICKLED_SUFFIXES:
            raise CatalogueError(
                f"{label} lists {item.name}, a pickled file: loading it would run whatever "
                "code it carries. Offer its .safetensors file instead."
            )
    return entry


def read_catalogue(text: str, where: str) -> dict[str, CatalogueEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{where} is not valid TOML: {exc}") from None
    entries: dict[str, CatalogueEntry] = {}
    for raw in data.get("model", []):
        entry = _entry(raw, where)
        if entry.name in entries:
            raise CatalogueError(f"{where} lists “{entry.name}” twice.")
        entries[entry.name] = entry
    return entries


def load_catalogue(settings: Settings) -> dict[str, CatalogueEntry]:
    """Every model offered by name, in the file's order."""
    if settings.models_catalogue is not None:
        path = Path(settings.models_catalogue).expanduser()
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogueError(f"The models catalogue {path} cannot be read: {exc}") from None
        return read_catalogue(text, path.name)
    resource = importlib_resources.files("app") / "data" / "models_catalogue.toml"
    return read_catalogue(resource.read_text("utf-8"), "models_catalogue.toml")


def find_entry(settings: Settings, name: str) -> CatalogueEntry:
    catalogue = load_catalogue(settings)
    entry = catalogue.get(name.strip())
    if entry is None:
        raise CatalogueError(
            f"“{name}” is not a model loragate offers by name. Known names: {', '.join(catalogue)}."
        )
    return entry
