from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.paths import NameTooLong, UnsafePathError, is_inside, safe_join, user_path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "data" / "proj"
    (project / "images").mkdir(parents=True)
    (project / "images" / "a.png").write_bytes(b"x")
    (tmp_path / "data" / "proj2").mkdir()
    (tmp_path / "data" / "proj2" / "secret.txt").write_text("secret")
    return project


def test_plain_relative_path_resolves_inside(root: Path) -> None:
    assert safe_join(root, "images/a.png") == (root / "images" / "a.png").resolve()


def test_path_that_does_not_exist_yet_is_allowed(root: Path) -> None:
    assert safe_join(root, "new/file.txt") == (root / "new" / "file.txt").resolve()


def test_inner_dotdot_that_stays_inside_is_allowed(root: Path) -> None:
    assert safe_join(root, "images/../images/a.png") == (root / "images" / "a.png").resolve()


@pytest.mark.parametrize(
    "attack",
    [
        "../proj2/secret.txt",  # sibling whose name starts with the root's name
        "..",
        "images/../../proj2/secret.txt",
        "/etc/passwd",
        "C:/Windows/system.ini",
        "..\\proj2\\secret.txt",
        "images\\..\\..\\x",
        "images/a.png\x00.txt",
    ],
)
def test_attacks_are_refused(root: Path, attack: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_join(root, attack)


def test_sibling_prefix_is_not_inside(root: Path) -> None:
    sibling = root.parent / "proj2" / "secret.txt"
    assert not is_inside(root, sibling)
    assert os.fspath(sibling).startswith(os.fspath(root))  # what a prefix check would get wrong


def test_symlink_out_of_root_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "escape").symlink_to(tmp_path / "data" / "proj2")
    with pytest.raises(UnsafePathError):
        safe_join(root, "escape/secret.txt")


def test_symlink_file_out_of_root_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "images" / "link.txt").symlink_to(tmp_path / "data" / "proj2" / "secret.txt")
    with pytest.raises(UnsafePathError):
        safe_join(root, "images/link.txt")


def test_symlink_inside_root_is_followed(root: Path) -> None:
    (root / "alias").symlink_to(root / "images")
    assert safe_join(root, "alias/a.png") == (root / "images" / "a.png").resolve()


@pytest.mark.parametrize(
    ("relative", "words"),
    [
        ("a" * 256, "is 256 bytes long; a file or folder name can be at most 255 bytes"),
        ("images/" + "é" * 128 + ".png", "is 260 bytes long"),
        ("a/" * 2049, "bytes long; a path can be at most 4,096 bytes"),
    ],
)
def test_names_longer_than_a_file_system_takes_are_refused(
    root: Path, relative: str, words: str
) -> None:
    """The system only says "File name too long" (and ``Path.exists`` raises it); the
    refusal names the limit, for a path from a request or a zip and one typed in."""
    with pytest.raises(NameTooLong, match=words):
        safe_join(root, relative)
    with pytest.raises(NameTooLong, match=words):
        user_path(f"{root}/{relative}")
    assert safe_join(root, "a" * 255) == root.resolve() / ("a" * 255)


def test_a_typed_path_expands_the_home_folder_or_says_the_user_is_unknown() -> None:
    assert user_path("~/x") == Path.home() / "x"
    assert user_path("~root/x") == Path("/root/x")
    with pytest.raises(UnsafePathError, match="“~nosuchuser” would be the home folder"):
        user_path("~nosuchuser/pictures")
    with pytest.raises(UnsafePathError, match="NUL"):
        user_path("/tmp/a\x00b")
