"""What an external trainer's dry run must have done besides training steps, and says
nothing about when it exits 0 (issue 14): saved a checkpoint during training whose file
reads back, and drawn a sample image when the project has sample prompts. The plan
(plan.py ``lowered``) asks each trainer for both within the few steps.

Where each trainer shows them (trainer_output.py has the formats):
- kohya sd-scripts prints ``saving checkpoint: PATH`` at every save (``-stepNNNNNNNN``
  during training), ai-toolkit ``Saved checkpoint to PATH`` (``_NNNNNNNNN`` during
  training); both name the final LoRA too, and every file named must read back.
- SimpleTuner prints nothing at a save: its checkpoints are the
  ``OUTPUT/checkpoint-N/`` folders, its final LoRA ``OUTPUT/pytorch_lora_weights.safetensors``.
- None of the three prints a line per sample image: they are the image files under the
  output folder (kohya ``OUTPUT/sample``, SimpleTuner ``OUTPUT/validation_images``,
  ai-toolkit ``OUTPUT/NAME/samples``).

"Reads back" is the check every run's final LoRA passes (app/training/lora_check.py): a
complete .safetensors file holding LoRA weights, without loading a model. loragate's own
trainer proves all of this itself (it reloads its checkpoint and reports each sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.findings import Finding
from app.training.dryrun.findings import finding
from app.training.lora_check import lora_problem

EXTERNAL = ("kohya", "simpletuner", "ai-toolkit")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SIMPLETUNER_LORA = "pytorch_lora_weights.safetensors"


@dataclass
class Saves:
    """The saves a trainer's output named: ``during`` carry a step number (checkpoints
    during training), ``final`` the last LoRA."""

    during: list[str] = field(default_factory=list)
    final: list[str] = field(default_factory=list)

    def add(self, path: str | None, step: int | None) -> None:
        if path:
            (self.during if step is not None else self.final).append(path)


def _files_on_disk(backend: str, output: Path, saves: Saves) -> tuple[list[Path], list[Path]]:
    """(checkpoints during training, final LoRAs) as the trainer reported or wrote them."""
    if backend == "simpletuner":
        during = sorted(output.glob(f"checkpoint-*/{SIMPLETUNER_LORA}"))
        final = [output / SIMPLETUNER_LORA]
        return during, final
    return [Path(p) for p in saves.during], [Path(p) for p in saves.final]


def proof_findings(
    backend: str, output: Path, saves: Saves, sample_prompts: list[str]
) -> list[Finding]:
    """What the dry run of ``backend`` (writing under ``output``) failed to prove; empty
    for loragate's own trainer, which checks its saves and samples itself."""
    if backend not in EXTERNAL:
        return []
    findings = []
    during, final = _files_on_disk(backend, output, saves)
    if not during:
        findings.append(
            finding(
                "no_save",
                "The trainer finished without saving a checkpoint during the dry run, "
                "though it was asked to save one before its last step.",
                subject="save_every_n_steps",
            )
        )
    for path in during + final:
        problem = (
            lora_problem(path)
            if path.is_file() or path in final
            else f"The trainer reported saving {path.name}, but the file is not there."
        )
        if problem is not None:
            findings.append(finding("bad_save", problem, subject=str(path)))
    if any(prompt.strip() for prompt in sample_prompts) and not _images(output):
        findings.append(
            finding(
                "no_sample",
                "The trainer finished without drawing a sample image, though the project "
                "has sample prompts and the dry run asked for them at its last step.",
                subject="sample_prompts",
            )
        )
    return findings


def _images(output: Path) -> list[Path]:
    return [p for p in output.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
