"""The Python versions in play: loragate's own, and the one the trainer runs with (a
clone's virtual environment can hold another), against what each supports."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from app.findings import Finding


@dataclass(frozen=True)
class PythonRange:
    minimum: tuple[int, int]
    tested_up_to: tuple[int, int] | None
    words: str  # where the range comes from


# loragate: pyproject.toml (requires-python >= 3.11). sd-scripts' README: "Python
# 3.10.x ... 3.11.x and 3.12.x will work but not tested". SimpleTuner 3.2 and newer
# need 3.12 (PyPI metadata). ai-toolkit's README installs with Python 3.10 or newer.
RANGES = {
    "native": PythonRange((3, 11), None, "loragate needs Python 3.11 or newer"),
    "kohya": PythonRange(
        (3, 10), (3, 12), "sd-scripts is tested on Python 3.10; 3.11 and 3.12 work untested"
    ),
    "simpletuner": PythonRange((3, 12), None, "SimpleTuner 3.2 and newer need Python 3.12"),
    "ai-toolkit": PythonRange((3, 10), None, "ai-toolkit needs Python 3.10 or newer"),
}


def parse(version: str | None) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def loragate_python() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def python_findings(backend: str, version: str | None, python: str) -> list[Finding]:
    """Findings for the trainer's Python ``version`` (as the child process reported it)."""
    found = parse(version)
    allowed = RANGES.get(backend)
    if found is None or allowed is None:
        return []
    shown = f"{found[0]}.{found[1]}"
    if found < allowed.minimum:
        severity = "warn" if backend == "simpletuner" else "block"
        return [
            Finding(
                code="python.too_old",
                severity=severity,
                subject=python,
                message=f"The trainer runs with Python {shown} ({python}); {allowed.words}.",
                why="Its code uses language features or packages that the older Python lacks; "
                "it fails at import or installs an old release that no longer works."
                if severity == "block"
                else "pip then installs an older SimpleTuner release (3.1.x), which breaks "
                "with current diffusers.",
                fix="Create the trainer's virtual environment with a newer Python (for example "
                f"`python{allowed.minimum[0]}.{allowed.minimum[1]} -m venv venv` inside the "
                "clone) and reinstall its requirements there.",
                source="preflight-checklist#python",
            )
        ]
    if allowed.tested_up_to and found > allowed.tested_up_to:
        return [
            Finding(
                code="python.untested",
                severity="warn",
                subject=python,
                message=f"The trainer runs with Python {shown} ({python}); {allowed.words}.",
                why="Binary packages (PyTorch, bitsandbytes, xformers) arrive for a new Python "
                "months later; an install may be missing pieces.",
                fix="If the dry run (Gate 4) fails at import, recreate the trainer's venv with "
                f"Python {allowed.tested_up_to[0]}.{allowed.tested_up_to[1]} or older.",
                source="preflight-checklist#python",
            )
        ]
    return []
