"""requirements.lock: the exact version of every package `make run` and `make test`
install, for the Makefile to install with ``pip install -c requirements.lock``.

    python tools/lock.py write requirements.lock   (`make lock`, in a fresh venv)
    python tools/lock.py check requirements.lock   (`make lock-check`, CI)

``write`` pins what loragate[dev] needs, as installed in this Python, following each
package's requirements from loragate's own, torch's included. torch itself is left
out, and so are the libraries only a CUDA build of it needs (nvidia-*, triton): the
torch build is chosen per machine (the CPU wheel, or a CUDA build for a GPU), and a
CUDA build brings its own. What every build needs (sympy, mpmath, networkx,
setuptools, ...) is pinned like the rest: the Makefile installs torch with the lock. Requirements whose markers do not hold here (another OS or Python) are
not followed, so the lock is exact for Linux and the Python it was written with.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "loragate"
ROOT_EXTRAS = ("dev",)
LEFT_TO_THE_MACHINE = frozenset({"torch"})
CUDA_ONLY = ("nvidia-", "triton", "cuda-")
HEADER = """\
# The exact versions `make run` and `make test` install: pip install -c requirements.lock.
# Written by `make lock` (tools/lock.py) from a fresh venv; do not edit by hand.
# torch and what only its CUDA builds need are left out: the build is chosen per machine.
"""


def _installed() -> dict[str, metadata.Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}


def _requirements(dist: metadata.Distribution, extras: set[str]) -> list[Requirement]:
    wanted = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(
            marker.evaluate(default_environment() | {"extra": extra}) for extra in extras | {""}
        ):
            wanted.append(requirement)
    return wanted


def needed() -> dict[str, str]:
    """Every installed package loragate[dev] needs, not through torch: name → version."""
    installed = _installed()
    found: dict[str, str] = {}
    queue: list[tuple[str, set[str]]] = [(PROJECT, set(ROOT_EXTRAS))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop()
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        dist = installed.get(name)
        if dist is None:
            raise SystemExit(f"{name} is needed but not installed in {sys.executable}.")
        if name != PROJECT and name not in LEFT_TO_THE_MACHINE:
            found[name] = dist.version
        for requirement in _requirements(dist, extras):
            child = canonicalize_name(requirement.name)
            if name in LEFT_TO_THE_MACHINE and child.startswith(CUDA_ONLY):
                continue  # a CUDA build's own libraries (nvidia-ml-py is loragate's, kept)
            queue.append((child, set(requirement.extras)))
    return dict(sorted(found.items()))


def read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
            if match is None:
                raise SystemExit(f"{path}: “{line}” is not a name==version pin.")
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def write(path: Path) -> None:
    pins = needed()
    path.write_text(HEADER + "".join(f"{name}=={v}\n" for name, v in pins.items()), "utf-8")
    print(f"{path}: {len(pins)} packages pinned.")


def check(path: Path) -> int:
    """0 when this Python has every locked package at its locked version."""
    installed = _installed()
    wrong = []
    for name, version in read_lock(path).items():
        dist = installed.get(name)
        if dist is None:
            wrong.append(f"{name}: locked at {version}, not installed")
        elif dist.version != version:
            wrong.append(f"{name}: locked at {version}, installed {dist.version}")
    if wrong:
        print(f"{sys.executable} does not match {path}:", *wrong, sep="\n  ")
        print("Install from the lock again (make clean test), or refresh it with make lock.")
        return 1
    print(f"{sys.executable} matches {path} ({len(read_lock(path))} packages).")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("write", "check"):
        print("usage: python tools/lock.py write|check requirements.lock", file=sys.stderr)
        return 2
    if argv[0] == "write":
        write(Path(argv[1]))
        return 0
    return check(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
