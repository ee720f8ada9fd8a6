"""Benchmark: reading the grimoire's settings files, in one process run.

    .venv/bin/python bench/grimoire.py [--words 60000] [--levels 9]

Times, on a temporary copy of the grimoire:

- ``load_eye`` of an eye.md whose style-word list is ``--words`` long (60,000 words is
  just under the 1 MB limit): the first read parses it, every later read of the same
  content reuses the parse (what each page does several times per request);
- a page's worth of reads (``file_problems``, as the notice at the top of every page
  asks) on unchanged files;
- the refusal of a YAML alias bomb ``--levels`` deep (9 levels: 9**10 values if
  expanded; issue 11 measured 3.8 s for a 332-byte bomb before aliases were refused,
  nine times more per level).

Nothing here is part of the tests.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from app.grimoire import GrimoireError, file_problems, load_eye
from app.settings import REPO_ROOT


def _timed(function, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "---\n" + "\n".join(lines) + f"\nstyle_words: *a{levels}\n---\n"


def _refused(grimoire: Path) -> None:
    try:
        load_eye(grimoire)
    except GrimoireError:
        return
    raise SystemExit("the alias bomb was read, not refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=60_000)
    parser.add_argument("--levels", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        grimoire = Path(tmp) / "grimoire"
        shutil.copytree(REPO_ROOT / "grimoire", grimoire, ignore=shutil.ignore_patterns("training"))
        words = "".join(f"  - word{index}\n" for index in range(args.words))
        eye = grimoire / "eye.md"
        eye.write_text(f"---\nstyle_words:\n{words}---\n")
        size = eye.stat().st_size
        first = _timed(lambda: load_eye(grimoire))
        again = _timed(lambda: load_eye(grimoire), repeat=50)
        page = _timed(lambda: file_problems(grimoire), repeat=50)
        print(f"eye.md with {args.words:,} style words ({size / 1024**2:.2f} MB):")
        print(f"  first read (parse):       {first * 1000:9.1f} ms")
        print(f"  later reads (cached):     {again * 1000:9.3f} ms")
        print(f"  a page's notice check:    {page * 1000:9.3f} ms (studio.md and eye.md)")
        eye.write_text(_bomb(args.levels))
        bomb = _timed(lambda: _refused(grimoire))
        print(
            f"alias bomb, {args.levels} levels ({eye.stat().st_size} bytes): refused in "
            f"{bomb * 1000:.2f} ms"
        )


if __name__ == "__main__":
    main()
