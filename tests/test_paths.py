from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.paths import (
    MAX_NAME_BYTES,
    MAX_PATH_BYTES,
    UnsafePathError,
    is_inside,
    safe_join,
    typed_path,
)


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


def test_typed_path_expands_the_home_folder() -> None:
    assert typed_path("~/models/x.safetensors") == Path.home() / "models" / "x.safetensors"
    assert typed_path("/models/x.safetensors") == Path("/models/x.safetensors")


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("~nosuchuser-loragate/x.safetensors", "names a user this computer does not have"),
        ("/models/" + "b" * 256, f"longer than {MAX_NAME_BYTES} bytes"),
        ("/models/" + "é" * 128, f"longer than {MAX_NAME_BYTES} bytes"),  # 256 bytes
        ("/" + "/".join(["m" * 200] * 21), f"longer than {MAX_PATH_BYTES:,} bytes"),
        ("/models/a\x00b", "NUL"),
    ],
)
def test_typed_path_refuses_what_no_file_system_here_holds(typed: str, words: str) -> None:
    with pytest.raises(UnsafePathError, match=words):
        typed_path(typed)
