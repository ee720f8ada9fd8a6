"""The dry run's live log in words: loragate's own trainer prints JSON events for
loragate (read by app/training/trainer_output.py), and the Dry run page shows each as a
sentence. External trainers' lines are shown as they print them."""

from __future__ import annotations

from app.training.trainer_output import Failure, Finished, Progress, Sample, Saved, TrainerEvent


def describe(event: TrainerEvent) -> str:
    """A native trainer event as a log line an artist reads."""
    if isinstance(event, Progress):
        if event.step == 0:
            return f"Training {event.total} steps"
        loss = "" if event.loss is None else f", loss {event.loss:.4f}"
        return f"Step {event.step} of {event.total}{loss}"
    if isinstance(event, Saved):
        return f"Saved a checkpoint at step {event.step} and read it back"
    if isinstance(event, Sample):
        return "Drew a sample image"
    if isinstance(event, Failure):
        return f"Stopped: {event.message}"
    assert isinstance(event, Finished)
    return "Finished" if event.complete else "Stopped early, as asked"
