"""The event file's lines are JSON that SQLite and a browser read: a loss that went NaN
must not hide a run's chart."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from app.worker.eventfile import EventWriter, read_lines


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_non_finite_loss_is_written_as_null_and_sqlite_reads_every_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path)
    writer.write("step", step=1, loss=0.25)
    writer.write("step", step=2, loss=float("nan"), extra={"lr": float("inf")})
    writer.close()
    # A writer other than loragate's own (a trainer's print) with a bare NaN.
    with path.open("a") as stray:
        stray.write('{"type": "step", "step": 3, "loss": NaN}\n')
    lines = read_lines(path, 0)
    assert [_strict(line.data)["step"] for line in lines] == [1, 2, 3]  # type: ignore[index]
    with sqlite3.connect(":memory:") as db:
        losses = [
            db.execute("SELECT json_extract(?, '$.loss')", (line.data,)).fetchone()[0]
            for line in lines
        ]
    assert losses == [0.25, None, None]
