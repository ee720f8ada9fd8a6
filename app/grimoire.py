"""The grimoire: the artist's studio state as Markdown files a person reads and edits.

``eye.md`` and ``studio.md`` each start with a YAML front-matter block (between
``---`` lines) that loragate reads and writes, followed by a free body that belongs to
the person and is never touched. The front matter is edited round-trip with
ruamel.yaml so the person's own comments and key order survive loragate's writes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from app.fsutil import atomic_write_text

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?(.*)\Z", re.S | re.M)


class GrimoireError(ValueError):
    """A grimoire file that cannot be read as it stands; the message says where and why."""


@dataclass
class MarkdownDoc:
    path: Path
    front: Any  # ruamel CommentedMap: a dict that remembers comments
    body: str


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def read_doc(path: Path) -> MarkdownDoc:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GrimoireError(f"{path.name} is missing from {path.parent}.") from None
    except UnicodeDecodeError as exc:
        raise GrimoireError(f"{path.name} is not UTF-8 text ({exc.reason}).") from None
    match = _FRONT_MATTER.match(text)
    if match is None:
        # A file without front matter is all body: loragate adds an empty block.
        return MarkdownDoc(path=path, front=_yaml().load("{}"), body=text)
    try:
        front = _yaml().load(match.group(1)) or _yaml().load("{}")
    except YAMLError as exc:
        raise GrimoireError(
            f"The settings block at the top of {path.name} is not valid YAML: {exc}"
        ) from None
    if not isinstance(front, dict):
        raise GrimoireError(f"The settings block at the top of {path.name} must be a mapping.")
    return MarkdownDoc(path=path, front=front, body=match.group(2))


def write_doc(doc: MarkdownDoc) -> None:
    buffer = io.StringIO()
    _yaml().dump(doc.front, buffer)
    atomic_write_text(doc.path, f"---\n{buffer.getvalue()}---\n{doc.body}")


def update_doc(path: Path, mutate: Callable[[Any], None]) -> MarkdownDoc:
    doc = read_doc(path)
    mutate(doc.front)
    write_doc(doc)
    return doc


# --- studio.md -------------------------------------------------------------------


class BaseModelEntry(BaseModel):
    name: str
    path: str
    family: str  # sd15 | sd2 | sdxl | flux
    prediction: str = "epsilon"  # epsilon | v_prediction
    notes: str = ""


class GpuEntry(BaseModel):
    name: str | None = None  # None: detect with NVML
    vram_gb: float | None = None
    hourly_cost: float = 0.0
    currency: str = "USD"


class BackendPaths(BaseModel):
    kohya: str | None = None
    simpletuner: str | None = None
    ai_toolkit: str | None = None


class CaptionerPaths(BaseModel):
    wd14: str | None = None
    natural: str | None = None


class RegisteredLora(BaseModel):
    name: str
    path: str
    trigger_word: str
    family: str
    weight: float = 1.0
    project: str = ""
    registered_at: str = ""
    notes: str = ""


class Studio(BaseModel):
    base_models: list[BaseModelEntry] = Field(default_factory=list)
    gpu: GpuEntry = Field(default_factory=GpuEntry)
    backends: BackendPaths = Field(default_factory=BackendPaths)
    captioners: CaptionerPaths = Field(default_factory=CaptionerPaths)
    loras: list[RegisteredLora] = Field(default_factory=list)

    def base_model(self, name: str) -> BaseModelEntry | None:
        return next((entry for entry in self.base_models if entry.name == name), None)


class Eye(BaseModel):
    style_words: list[str] = Field(default_factory=list)
    likes: list[str] = Field(default_factory=list)
    avoid: list[str] = Field(default_factory=list)


def _parse(model: type[BaseModel], doc: MarkdownDoc) -> Any:
    try:
        return model.model_validate(_plain(doc.front))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise GrimoireError(
            f"{doc.path.name} has settings loragate cannot use: {problems}"
        ) from None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def studio_path(grimoire_dir: Path) -> Path:
    return grimoire_dir / "studio.md"


def eye_path(grimoire_dir: Path) -> Path:
    return grimoire_dir / "eye.md"


def load_studio(grimoire_dir: Path) -> Studio:
    studio: Studio = _parse(Studio, read_doc(studio_path(grimoire_dir)))
    return studio


def load_eye(grimoire_dir: Path) -> Eye:
    eye: Eye = _parse(Eye, read_doc(eye_path(grimoire_dir)))
    return eye


def register_lora(grimoire_dir: Path, lora: RegisteredLora) -> None:
    """Add (or replace, by name) a LoRA in studio.md, keeping everything else as it was."""

    def mutate(front: Any) -> None:
        loras = front.get("loras")
        if loras is None:
            front["loras"] = loras = _yaml().load("[]")
        for index, existing in enumerate(list(loras)):
            if isinstance(existing, dict) and existing.get("name") == lora.name:
                del loras[index]
        loras.append(lora.model_dump())

    update_doc(studio_path(grimoire_dir), mutate)


def update_gpu(grimoire_dir: Path, gpu: GpuEntry) -> None:
    """Write the GPU block of studio.md: each key is set in place, so the comments and
    the order of the file, its other settings and its body stay as they were."""

    def mutate(front: Any) -> None:
        block = front.get("gpu")
        if not isinstance(block, dict):
            front["gpu"] = block = _yaml().load("{}")
        for key, value in gpu.model_dump().items():
            block[key] = value

    update_doc(studio_path(grimoire_dir), mutate)
