"""The commit a git clone has checked out, read from its files: no ``git`` process (which
can hang on a network filesystem or a credential prompt), just ``.git/HEAD`` and the
ref it names (loose, or in ``packed-refs``)."""

from __future__ import annotations

from pathlib import Path

from app.paths import UnsafePathError, safe_join

_READ_LIMIT = 1 << 20  # packed-refs of huge repositories: enough, never unbounded


def git_dir(clone: Path) -> Path | None:
    dot_git = clone / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = _read(dot_git)
        if text.startswith("gitdir:"):
            target = Path(text.partition(":")[2].strip())
            return target if target.is_absolute() else (clone / target).resolve()
    return None


def head_commit(clone: Path) -> str | None:
    """``main@1a2b3c4d5e6f`` (branch and short commit), a bare short commit when detached,
    or None when ``clone`` is not a readable git checkout."""
    directory = git_dir(clone)
    if directory is None:
        return None
    head = _read(directory / "HEAD").strip()
    if not head:
        return None
    if not head.startswith("ref:"):
        return head[:12]
    ref = head.partition(":")[2].strip()
    branch = ref.removeprefix("refs/heads/")
    commit = _loose_ref(directory, ref) or _packed_ref(directory, ref)
    if commit is None and (directory / "commondir").is_file():
        # Worktrees keep branch refs in the main repository's git directory.
        common = (directory / _read(directory / "commondir").strip()).resolve()
        commit = _loose_ref(common, ref) or _packed_ref(common, ref)
    return f"{branch}@{commit[:12]}" if commit else branch


def _loose_ref(directory: Path, ref: str) -> str | None:
    # The ref name comes from a file: it must stay inside the git directory. (``gitdir``
    # and ``commondir`` point elsewhere by design; git itself follows them.)
    try:
        path = safe_join(directory, ref)
    except UnsafePathError:
        return None
    value = _read(path).strip()
    return value or None


def _packed_ref(directory: Path, ref: str) -> str | None:
    for line in _read(directory / "packed-refs").splitlines():
        commit, _, name = line.partition(" ")
        if name.strip() == ref:
            return commit
    return None


def _read(path: Path) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return handle.read(_READ_LIMIT)
    except OSError:
        return ""
