"""The gate wording lives in ``app.words.GATE_WORDS``: the pages (tests/web/test_dataset.py),
the CLI, the journal and the dataset report say a status the same way."""

from __future__ import annotations

import re

from app.settings import PACKAGE_DIR
from app.words import GATE_WORDS

# A mapping that gives a gate status its own words ("warn": "PASSES WITH WARNINGS", "block":
# "NO-GO", ...) instead of reading GATE_WORDS.
OWN_WORDING = re.compile(
    r"""["'](warn|block|not_run|stale)["']\s*:\s*["'](?i:pass|go\b|blocks\b|blocked\b|no-go|has not|is out)"""
    r"""|\bNO-GO\b"""
)


def test_no_module_keeps_its_own_gate_wording() -> None:
    kept = [
        f"{path.relative_to(PACKAGE_DIR)}: {match.group(0)}"
        for path in PACKAGE_DIR.rglob("*.py")
        if path.name != "words.py"
        for match in OWN_WORDING.finditer(path.read_text())
    ]
    assert not kept, kept


def test_every_status_has_words() -> None:
    assert set(GATE_WORDS) == {"not_run", "pass", "warn", "block", "stale"}
