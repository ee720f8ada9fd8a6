"""Where loragate keeps things and how it listens. Every value can be set with a
``LORAGATE_`` environment variable (``LORAGATE_PORT=9000``) or a ``.env`` file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# The installed package: templates, static files, migrations and the reference documents
# travel inside it, so a `pip install .` (not editable) serves the app from any folder.
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
# No training image needs more (a 100-megapixel 16-bit TIFF is about 600 MB; PNG and
# JPEG files of any sensible size are far smaller). A file past it is refused before a
# byte of it is copied or read.
DEFAULT_MAX_FILE_BYTES = 512 * 1024**2

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ENV_PREFIX = "LORAGATE_"
PORT_MIN, PORT_MAX = 1, 65535


class SettingsError(ValueError):
    """A setting loragate cannot work with (a port that is not a number, a data folder
    that is a file); the message names the variable and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_plain_errors(exc)) from None

    grimoire_dir: Path = Field(default=REPO_ROOT / "grimoire")
    data_dir: Path = Field(default=REPO_ROOT / "data")
    database_path: Path | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=PORT_MIN, le=PORT_MAX)
    # Required whenever ``host`` is not a loopback address: anyone on the network
    # could otherwise start GPU jobs or read the artist's images.
    access_token: str | None = None

    max_upload_bytes: int = 2 * 1024**3
    max_upload_files: int = 20_000
    max_zip_entries: int = 20_000
    max_zip_uncompressed_bytes: int = 8 * 1024**3
    max_zip_ratio: float = 200.0
    max_image_pixels: int = 89_478_485  # Pillow's own default decompression-bomb limit
    # The most one file (an image or a caption) may hold, in a folder, a zip or an upload.
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # The models offered by name (app/data/models_catalogue.toml when unset): a studio
    # with its own mirror (HF_ENDPOINT) lists what that mirror holds, in the same format.
    models_catalogue: Path | None = None

    @property
    def database_file(self) -> Path:
        return self.database_path or (self.data_dir / "loragate.db")

    @property
    def training_dir(self) -> Path:
        return self.grimoire_dir / "training"

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    def ensure_dirs(self) -> None:
        """Create loragate's folders and prove each can be written, or SettingsError
        naming the variable that points at it."""
        for folder, variable in (
            (self.data_dir, "DATA_DIR"),
            (self.database_file.parent, "DATABASE_PATH"),
            (self.training_dir, "GRIMOIRE_DIR"),
        ):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                if isinstance(exc, (FileExistsError, NotADirectoryError)):
                    reason = "a part of that path is a file, not a folder"
                raise _folder_error(folder, variable, f"it cannot be created: {reason}") from None
            try:
                # A folder can exist and still refuse files (/proc, a read-only mount).
                tempfile.TemporaryFile(dir=folder).close()
            except OSError as exc:
                reason = f"files cannot be written in it: {exc.strerror or exc}"
                raise _folder_error(folder, variable, reason) from None


def _folder_error(folder: Path, variable: str, reason: str) -> SettingsError:
    return SettingsError(
        f"the folder {folder} cannot be used ({reason}). Point {ENV_PREFIX}{variable} "
        "at a folder you can write to."
    )


# Plainer words than pydantic's for the settings people get wrong most.
_RULES = {"port": f"it must be a whole number from {PORT_MIN} to {PORT_MAX}"}


def _plain_errors(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        rule = _RULES.get(name, error["msg"])
        problems.append(f"{ENV_PREFIX}{name.upper()} is “{error.get('input')}”: {rule}.")
    return " ".join(problems)


class InsecureBindError(RuntimeError):
    """Raised when the server would listen beyond loopback without an access token."""


def check_bind(settings: Settings) -> None:
    if not settings.is_loopback and not settings.access_token:
        raise InsecureBindError(
            f"Refusing to listen on {settings.host}: anyone who can reach this machine "
            "could read your images and start GPU jobs. Set LORAGATE_ACCESS_TOKEN "
            "(or --token) to a long random secret, or keep the default 127.0.0.1."
        )
