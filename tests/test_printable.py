"""app.printable: control characters become escapes that a terminal shows as text and
that JSON reads back as the original characters."""

from __future__ import annotations

import json

import pytest

from app.printable import printable

AWKWARD = "a\x1b[31mred\x07\x9b2J\x7f\u2028\r\n\ttab.png"


def test_every_control_character_is_escaped() -> None:
    assert printable(AWKWARD) == "a\\u001b[31mred\\u0007\\u009b2J\\u007f\\u2028\\r\\n\\ttab.png"
    assert printable("plain, ünïcode ✓") == "plain, ünïcode ✓"


def test_a_stream_keeps_its_own_line_breaks() -> None:
    assert printable("one\x1b\ntwo\tthree", keep="\n\t") == "one\\u001b\ntwo\tthree"


@pytest.mark.parametrize("indent", [None, 2])
def test_json_stays_json_with_the_same_values(indent: int | None) -> None:
    value = {"files": [AWKWARD, "plain.png"], AWKWARD: 1}
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    assert json.loads(printable(text, keep="\n\t")) == value
