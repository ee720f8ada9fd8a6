"""Text that came from outside (file names, folder names) made safe to print: control
characters become visible escapes, so a name cannot move the terminal's cursor, recolour
or retitle it (``ESC [``, ``ESC ]``), or split one journal line into two.

The escapes are JSON's (``\\n``, ``\\u001b``): text that is already JSON stays valid
JSON after escaping, so one filter can sit in front of everything a command prints.
"""

from __future__ import annotations

import re

# C0 controls, DEL, the C1 controls (0x9b is an 8-bit "ESC ["), and the two Unicode
# line separators that some viewers break lines at.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT.get(char) or f"\\u{ord(char):04x}"


def printable(text: str, keep: str = "") -> str:
    """``text`` with every control character escaped, except those in ``keep`` (a
    stream of lines keeps its own ``"\\n"``)."""
    if keep:
        return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
    return _CONTROL.sub(_escape, text)
