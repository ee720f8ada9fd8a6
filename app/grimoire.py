"""The grimoire: the artist's studio state as Markdown files a person reads and edits.

``eye.md`` and ``studio.md`` each start with a YAML front-matter block (between
``---`` lines) that loragate reads and writes, followed by a free body that belongs to
the person and is never touched. The front matter is edited round-trip with
ruamel.yaml so the person's own comments and key order survive loragate's writes.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import io
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from app.fsutil import atomic_write_text

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?(.*)\Z", re.S | re.M)

# Hand-written settings: far below these. A larger file is refused before it is parsed
# (ruamel takes seconds per megabyte), and nesting is bounded before the composer's
# recursion could reach Python's limit.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32


class GrimoireError(ValueError):
    """A grimoire file that cannot be read as it stands; the message says where and why."""


@dataclass
class MarkdownDoc:
    path: Path
    front: Any  # ruamel CommentedMap: a dict that remembers comments
    body: str


class _AliasRefused(YAMLError):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line  # counted from 0 within the settings block


class _NoAliasComposer(Composer):
    """Aliases (``*name``) are refused: nine aliases per level expand nine-fold per
    level, so a few hundred bytes become billions of values (a "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            raise _AliasRefused(self.parser.peek_event().start_mark.line)
        return super().compose_node(parent, index)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Composer = _NoAliasComposer
    yaml.max_depth = MAX_DEPTH
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _os_problem(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path.name} is missing from {path.parent}."
    if exc.errno == errno.ELOOP:
        return f"{path.name} is a symbolic link that leads back to itself, not to a file."
    if isinstance(exc, PermissionError):
        return f"{path.name} cannot be read: loragate has no permission to open it."
    return f"{path.name} cannot be read ({exc.strerror or exc})."


def _read_bytes(path: Path) -> bytes:
    """The file's bytes when it is a regular file of a readable size, or GrimoireError.
    Opened without blocking, so a named pipe in its place cannot hang a page."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise GrimoireError(_os_problem(path, exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise GrimoireError(f"{path.name} is a folder; loragate needs a text file there.")
        if not stat.S_ISREG(mode):
            raise GrimoireError(f"{path.name} is not a regular file; loragate needs a text file.")
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # one byte more tells "too large"
    except OSError as exc:
        raise GrimoireError(_os_problem(path, exc)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise GrimoireError(
            f"{path.name} is larger than {MAX_FILE_BYTES // 1024**2} MB, far more than "
            "hand-written settings need; loragate does not read it."
        )
    return data


def _decoded(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GrimoireError(f"{path.name} is not UTF-8 text ({exc.reason}).") from None


def _doc(path: Path, text: str) -> MarkdownDoc:
    match = _FRONT_MATTER.match(text)
    if match is None:
        # A file without front matter is all body: loragate adds an empty block.
        return MarkdownDoc(path=path, front=_yaml().load("{}"), body=text)
    block = f"The settings block at the top of {path.name}"
    try:
        front = _yaml().load(match.group(1)) or _yaml().load("{}")
    except _AliasRefused as exc:
        line = exc.line + 2  # the block starts below the file's first line, "---"
        raise GrimoireError(
            f"{block} repeats a value with a YAML alias (*name) on line {line}, which "
            "loragate does not read: write the values out in full instead."
        ) from None
    except (MaxDepthExceededError, RecursionError):
        raise GrimoireError(
            f"{block} nests lists or mappings more than {MAX_DEPTH} levels deep, which "
            "loragate does not read: an unclosed or repeated “[” or “{” is the usual cause."
        ) from None
    except YAMLError as exc:
        raise GrimoireError(f"{block} is not valid YAML: {exc}") from None
    if not isinstance(front, dict):
        raise GrimoireError(f"{block} must be a mapping.")
    return MarkdownDoc(path=path, front=front, body=match.group(2))


def read_doc(path: Path) -> MarkdownDoc:
    data = _read_bytes(path)
    return _doc(path, _decoded(path, data))


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
    # Files a trainer needs beside the checkpoint, by role: Flux's clip_l, t5xxl and ae
    # for sd-scripts. Written when such a model is downloaded by name. (Declared before
    # source and revision so a written entry ends with a plain value.)
    parts: dict[str, str] = Field(default_factory=dict)
    source: str = "local"  # a hub repository ("owner/name") it was downloaded from
    revision: str = ""  # the hub commit it was downloaded at


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


class CaptionerModelEntry(BaseModel):
    """A captioner downloaded by name: where it came from. ``captioners:`` says which
    folder each kind uses; this list says what those folders hold."""

    name: str
    kind: str  # wd14 | natural
    path: str
    source: str = "local"  # the hub repository it was downloaded from
    revision: str = ""  # the hub commit it was downloaded at


class RegisteredLora(BaseModel):
    name: str
    path: str  # the file in the studio's LoRA folder
    trigger_word: str
    family: str
    weight: float = 1.0  # the recommended strength
    weight_range: list[float] = Field(default_factory=list)  # [low, high] that still work
    base_model: str = ""
    caption_format: str = ""
    dataset_size: int | None = None
    project: str = ""
    source: str = ""  # the file in the project it was copied from
    registered_at: str = ""
    notes: str = ""


class Studio(BaseModel):
    base_models: list[BaseModelEntry] = Field(default_factory=list)
    gpu: GpuEntry = Field(default_factory=GpuEntry)
    backends: BackendPaths = Field(default_factory=BackendPaths)
    captioners: CaptionerPaths = Field(default_factory=CaptionerPaths)
    captioner_models: list[CaptionerModelEntry] = Field(default_factory=list)
    # Where registering copies a finished LoRA (the folder your image tool reads LoRAs
    # from). None: ``loras/`` beside studio.md.
    lora_folder: str | None = None
    loras: list[RegisteredLora] = Field(default_factory=list)
    # Folders holding checkpoints: ComfyUI's or A1111's install folder (their
    # models/checkpoints and models/Stable-diffusion are searched), or a plain folder.
    model_folders: list[str] = Field(default_factory=list)

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


Loaded = TypeVar("Loaded", bound=BaseModel)

# Pages read studio.md and eye.md several times per request: each file is parsed once
# per content. The key is a digest of the bytes, not (mtime, size): timestamps tick
# only every few milliseconds, so two saves of the same length within one tick would
# look alike. Reading a file of at most MAX_FILE_BYTES costs far less than parsing it.
# Results and problems alike are kept; callers only read what they get.
_CACHE_ENTRIES = 32
_cache: OrderedDict[tuple[Path, type[BaseModel]], tuple[bytes, BaseModel | str]] = OrderedDict()
_cache_lock = threading.Lock()


def _load(model: type[Loaded], path: Path) -> Loaded:
    data = _read_bytes(path)
    version = hashlib.sha256(data).digest()
    slot = (path, model)
    with _cache_lock:
        cached = _cache.get(slot)
    if cached is not None and cached[0] == version:
        outcome = cached[1]
    else:
        try:
            outcome = _parse(model, _doc(path, _decoded(path, data)))
        except GrimoireError as exc:
            outcome = str(exc)
        with _cache_lock:
            _cache[slot] = (version, outcome)
            _cache.move_to_end(slot)
            while len(_cache) > _CACHE_ENTRIES:
                _cache.popitem(last=False)
    if isinstance(outcome, str):
        raise GrimoireError(outcome)
    return outcome  # type: ignore[return-value]


def load_studio(grimoire_dir: Path) -> Studio:
    return _load(Studio, studio_path(grimoire_dir))


def load_eye(grimoire_dir: Path) -> Eye:
    return _load(Eye, eye_path(grimoire_dir))


def file_problems(grimoire_dir: Path) -> list[str]:
    """Why studio.md or eye.md cannot be read, one sentence per file: what every page
    shows while loragate works with that file's defaults."""
    found = []
    for load in (load_studio, load_eye):
        try:
            load(grimoire_dir)
        except GrimoireError as exc:
            found.append(str(exc))
    return found


def register_lora(grimoire_dir: Path, lora: RegisteredLora) -> None:
    """Add a LoRA to studio.md, or update the entry of that name where it stands."""
    _put_by_name(grimoire_dir, "loras", lora.model_dump())


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


def _block_list(front: Any, key: str) -> Any:
    """The list under ``key``, created when missing; an empty ``[]`` turns into a block
    list, so the entries added to it read one per line like the rest of the file."""
    items = front.get(key)
    if not isinstance(items, list):
        front[key] = items = _yaml().load("[]")
    if not items:
        items.fa.set_block_style()
    return items


def _pop_trailing_comment(node: Any) -> Any:
    """Take the comment lines ruamel keeps after a block collection's last item: they
    sit on its innermost last item (a hand-written entry may end with a list), in slot
    2 of a mapping key and slot 0 of a list index, after that item's own end-of-line
    comment when it has one (which stays)."""
    if not len(node):
        return None
    last = list(node)[-1] if isinstance(node, dict) else len(node) - 1
    value = node[last]
    if isinstance(value, dict | list):
        found = _pop_trailing_comment(value)
        if found is not None:
            return found
    slot = node.ca.items.get(last)
    position = 2 if isinstance(node, dict) else 0
    token = slot[position] if slot else None
    if token is None:
        return None
    if token.value.startswith("\n"):  # no end-of-line comment: every line moves
        slot[position] = None
        if not any(slot):
            del node.ca.items[last]
        return token
    own_line, _, following = token.value.partition("\n")
    if not following:
        return None
    moved = copy.copy(token)
    token.value, moved.value = own_line + "\n", "\n" + following
    return moved


def _append_mapping(items: Any, values: dict[str, Any]) -> None:
    """Append a mapping (its last value a scalar) to a block list. ruamel keeps the
    comment lines that follow a list on its last entry, so a plain append would land
    below them (the next setting's heading): they move to the new last entry instead."""
    added = _yaml().load("{}")
    added.update(values)
    trailing = _pop_trailing_comment(items)
    if trailing is not None:
        added.ca.items[list(added)[-1]] = [None, None, trailing, None]
    items.append(added)


def _put_by_name(grimoire_dir: Path, key: str, values: dict[str, Any]) -> None:
    """Add an entry to one of studio.md's lists, or update the entry of that name in
    place: the keys given are set, keys the artist wrote by hand stay, its comments and
    position stay, a hand-made duplicate is folded into the first; the rest of the file
    (comments, order, body) stays as it was."""

    def mutate(front: Any) -> None:
        items = _block_list(front, key)
        same = [
            item for item in items if isinstance(item, dict) and item.get("name") == values["name"]
        ]
        if not same:
            _append_mapping(items, values)
            return
        kept = same[0]
        for name, value in values.items():
            kept[name] = value
        for extra in same[1:]:
            items.remove(extra)

    update_doc(studio_path(grimoire_dir), mutate)


def record_base_model(grimoire_dir: Path, entry: BaseModelEntry) -> None:
    """Add a base model to studio.md, or update the one of that name in place."""
    _put_by_name(grimoire_dir, "base_models", entry.model_dump(exclude_unset=True))


def record_captioner(grimoire_dir: Path, entry: CaptionerModelEntry) -> None:
    """Add a downloaded captioner to studio.md's ``captioner_models``, or update the one
    of that name in place."""
    _put_by_name(grimoire_dir, "captioner_models", entry.model_dump())


def set_captioner_folder(grimoire_dir: Path, kind: str, folder: Path) -> None:
    """Point ``captioners: <kind>:`` in studio.md at ``folder``, keeping its comment."""

    def mutate(front: Any) -> None:
        block = front.get("captioners")
        if not isinstance(block, dict):
            front["captioners"] = block = _yaml().load("{}")
        block[kind] = str(folder)

    update_doc(studio_path(grimoire_dir), mutate)
