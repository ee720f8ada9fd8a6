"""Where audit measurements are kept so that a second audit only measures what changed.

A file is looked up by (path, size, mtime); when that misses, its content hash is the
second key (a renamed, copied or touched file is not measured again). Measurements are
versioned with ``ANALYSIS_VERSION``, so a change in how loragate measures invalidates them.

- ``FolderCache``: a small SQLite file under the data folder, for ``loragate audit DIR``
  on folders that belong to no project (keyed by absolute path).
- ``MemoryCache``: for one process (benchmarks, tests).
- Projects keep theirs in the ``datasetimage`` table (``app.dataset.records``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.dataset.files import FileEntry, shown_name
from app.dataset.measure_file import ANALYSIS_VERSION


@dataclass
class AuditedFile:
    path: str  # relative to the audited folder
    size: int
    mtime_ns: int
    sha256: str | None
    metrics: dict[str, Any]
    pixel_sha256: str | None = None

    @property
    def is_image(self) -> bool:
        return self.metrics.get("kind") == "image"

    @property
    def identity(self) -> str:
        """Equal for files that show the same pixels (as far as is known)."""
        return f"pixels:{self.pixel_sha256}" if self.pixel_sha256 else f"bytes:{self.sha256}"


class MetricsCache(Protocol):
    def lookup(self, entry: FileEntry) -> AuditedFile | None: ...

    def known_sha256(self) -> frozenset[str]: ...

    def by_sha256(self, sha256: str) -> dict[str, Any] | None: ...

    def store(self, files: Sequence[AuditedFile]) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self.files: dict[str, AuditedFile] = {}

    def lookup(self, entry: FileEntry) -> AuditedFile | None:
        hit = self.files.get(entry.path)
        if hit and (hit.size, hit.mtime_ns) == (entry.size, entry.mtime_ns):
            return hit
        return None

    def known_sha256(self) -> frozenset[str]:
        return frozenset(f.sha256 for f in self.files.values() if f.sha256)

    def by_sha256(self, sha256: str) -> dict[str, Any] | None:
        return next((f.metrics for f in self.files.values() if f.sha256 == sha256), None)

    def store(self, files: Sequence[AuditedFile]) -> None:
        for audited in files:
            self.files[audited.path] = audited


class FolderCache:
    """Measurements of any folder's files, keyed by absolute path."""

    FILE_NAME = "audit-cache.sqlite"

    def __init__(self, data_dir: Path, root: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.connection = sqlite3.connect(data_dir / self.FILE_NAME, timeout=10)
        self.connection.execute("PRAGMA journal_mode = WAL")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS measured (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, sha256 TEXT, version INTEGER, metrics TEXT, pixel_sha256 TEXT)"
        )
        self.connection.execute("CREATE INDEX IF NOT EXISTS measured_sha ON measured (sha256)")
        self.connection.commit()

    def _key(self, relative: str) -> str:
        # The scan only hands over clean names, but the audited folder's own path may
        # hold bytes that are not UTF-8, which SQLite cannot take as text.
        return shown_name(str(self.root / relative))

    def lookup(self, entry: FileEntry) -> AuditedFile | None:
        row = self.connection.execute(
            "SELECT sha256, metrics, pixel_sha256 FROM measured "
            "WHERE path = ? AND size = ? AND mtime_ns = ? AND version = ?",
            (self._key(entry.path), entry.size, entry.mtime_ns, ANALYSIS_VERSION),
        ).fetchone()
        if row is None:
            return None
        return AuditedFile(
            entry.path, entry.size, entry.mtime_ns, row[0], json.loads(row[1]), row[2]
        )

    def known_sha256(self) -> frozenset[str]:
        rows = self.connection.execute(
            "SELECT DISTINCT sha256 FROM measured WHERE version = ? AND sha256 IS NOT NULL",
            (ANALYSIS_VERSION,),
        )
        return frozenset(row[0] for row in rows)

    def by_sha256(self, sha256: str) -> dict[str, Any] | None:
        row = self.connection.execute(
            "SELECT metrics FROM measured WHERE sha256 = ? AND version = ? LIMIT 1",
            (sha256, ANALYSIS_VERSION),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def store(self, files: Sequence[AuditedFile]) -> None:
        with self.connection:
            self.connection.executemany(
                "INSERT OR REPLACE INTO measured VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        self._key(f.path),
                        f.size,
                        f.mtime_ns,
                        f.sha256,
                        ANALYSIS_VERSION,
                        json.dumps(f.metrics),
                        f.pixel_sha256,
                    )
                    for f in files
                ],
            )

    def close(self) -> None:
        self.connection.close()
