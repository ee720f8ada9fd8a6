"""Where loragate keeps things and how it listens. Every value can be set with a
``LORAGATE_`` environment variable (``LORAGATE_PORT=9000``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# No training image needs more (a 100-megapixel 16-bit TIFF is about 600 MB; PNG and
# JPEG files of any sensible size are far smaller). A file past it is refused before a
# byte of it is copied or read.
DEFAULT_MAX_FILE_BYTES = 512 * 1024**2

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LORAGATE_", env_file=".env", extra="ignore")

    grimoire_dir: Path = Field(default=REPO_ROOT / "grimoire")
    data_dir: Path = Field(default=REPO_ROOT / "data")
    database_path: Path | None = None

    host: str = "127.0.0.1"
    port: int = 8765
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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_file.parent.mkdir(parents=True, exist_ok=True)
        self.training_dir.mkdir(parents=True, exist_ok=True)


class InsecureBindError(RuntimeError):
    """Raised when the server would listen beyond loopback without an access token."""


def check_bind(settings: Settings) -> None:
    if not settings.is_loopback and not settings.access_token:
        raise InsecureBindError(
            f"Refusing to listen on {settings.host}: anyone who can reach this machine "
            "could read your images and start GPU jobs. Set LORAGATE_ACCESS_TOKEN "
            "(or --token) to a long random secret, or keep the default 127.0.0.1."
        )
