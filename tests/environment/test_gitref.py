from __future__ import annotations

from pathlib import Path

from app.environment.gitref import head_commit

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


def test_loose_ref_wins_over_packed(tmp_path: Path) -> None:
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/dev\n")
    (git / "packed-refs").write_text(f"{'1' * 40} refs/heads/dev\n")
    assert head_commit(tmp_path) == "dev@111111111111"
    (git / "refs" / "heads" / "dev").write_text(COMMIT + "\n")
    assert head_commit(tmp_path) == "dev@89abcdef0123"


def test_worktree_checkout_reads_the_main_repositorys_refs(tmp_path: Path) -> None:
    main_git = tmp_path / "main" / ".git"
    (main_git / "refs" / "heads").mkdir(parents=True)
    (main_git / "refs" / "heads" / "feature").write_text(COMMIT)
    worktree_git = main_git / "worktrees" / "wt"
    worktree_git.mkdir(parents=True)
    (worktree_git / "HEAD").write_text("ref: refs/heads/feature\n")
    (worktree_git / "commondir").write_text("../..\n")
    checkout = tmp_path / "wt"
    checkout.mkdir()
    (checkout / ".git").write_text(f"gitdir: {worktree_git}\n")
    assert head_commit(checkout) == "feature@89abcdef0123"


def test_not_a_clone_and_a_ref_that_escapes(tmp_path: Path) -> None:
    assert head_commit(tmp_path) is None
    (tmp_path / "secret").write_text("do not read")
    git = tmp_path / "repo" / ".git"
    git.mkdir(parents=True)
    (git / "HEAD").write_text("ref: ../../secret\n")
    # The ref name comes from a file: it may not leave the git directory.
    assert head_commit(tmp_path / "repo") == "../../secret"
