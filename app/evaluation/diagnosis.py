"""Symptoms → likely causes → fixes, each decided by this run's numbers (``RunNumbers``)
and each linking the section of failure-modes.md that explains it. Pure functions: the
page, the command line and the tests call them with numbers and get advice back.

An advice's ``change`` is a set of config values; ``apply_fix`` (app/evaluation/fixes.py)
saves it as a new config version, which makes Gates 2 and 4 stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.evaluation.run_numbers import RunNumbers

DOC = "failure-modes"
# Thresholds, explained with their sources in failure-modes.md.
VIEWS_HIGH = 150  # each image seen more often than this: memorised rather than learned
VIEWS_LOW = 30  # seen less often than this: too little to learn from
VIEWS_TARGET = 100
ADAMW_LR_HIGH = 3e-4
ADAMW_LR_LOW = 2e-5
LR_EXPLODES = 1e-3
SMALL_DATASET = 15
RANK_HIGH = 64
TAG_EVERYWHERE = 0.8  # a tag in this share of the captions or more is "always there"
LEAK_RATIO = 0.5  # leak curve at least half the effect curve: the LoRA acts without its trigger
NO_EFFECT = 1e-4
MIN_RESOLUTION = {"sd15": 512, "sd2": 768, "sdxl": 1024, "flux": 1024}


@dataclass(frozen=True)
class Symptom:
    key: str
    title: str
    source: str


SYMPTOMS: tuple[Symptom, ...] = (
    Symptom("no_effect", "No visible effect at weight 1", f"{DOC}#no-effect"),
    Symptom(
        "overfit",
        "Copies of training images, burned colours or artefacts (overfitting)",
        f"{DOC}#overfitting",
    ),
    Symptom("leak", "The style or character shows up without the trigger", f"{DOC}#leaking"),
    Symptom("missing", "Parts of the concept are missing", f"{DOC}#missing-parts"),
    Symptom("broken", "Black or pure-noise images", f"{DOC}#black-or-noisy-images"),
    Symptom("loss", "The loss never fell, or it exploded", f"{DOC}#loss-curve"),
)
SYMPTOM_KEYS = tuple(symptom.key for symptom in SYMPTOMS)


@dataclass(frozen=True)
class Advice:
    code: str  # stable: diagnosis.<symptom>.<cause>
    symptom: str
    cause: str
    evidence: str  # this run's numbers that point at the cause
    fix: str
    source: str
    change: dict[str, Any] = field(default_factory=dict)  # config values that apply the fix


@dataclass(frozen=True)
class LossShape:
    kind: str  # "falling" | "flat" | "exploded" | "unknown"
    first: float | None
    last: float | None


def loss_shape(loss: list[float | None]) -> LossShape:
    """Compares the mean of the first and last quarters: per-step loss is too noisy to
    read point by point."""
    if any(value is None for value in loss):
        return LossShape("exploded", None, None)
    values = [v for v in loss if v is not None]
    if len(values) < 8:
        return LossShape("unknown", None, None)
    quarter = len(values) // 4
    first = sum(values[:quarter]) / quarter
    last = sum(values[-quarter:]) / quarter
    if last > 2 * first or max(values) > 10 * max(first, 1e-9):
        return LossShape("exploded", first, last)
    if last < 0.9 * first:
        return LossShape("falling", first, last)
    return LossShape("flat", first, last)


def _loss_source(n: RunNumbers) -> str:
    """Said after a loss figure read from the trainer's running average: its shape is
    smoother and lags behind what each step's loss did."""
    if not n.loss_smoothed:
        return ""
    return " (the trainer's running average of the loss, avr_loss: it printed no per-step loss)"


def _lr_words(n: RunNumbers) -> str:
    return f"learning rate {n.unet_lr:g} ({n.optimizer})"


def _fewer_epochs(n: RunNumbers) -> dict[str, Any]:
    if n.views_per_image <= 0:
        return {}
    epochs = max(1, round(n.epochs * VIEWS_TARGET / n.views_per_image))
    return {"epochs": epochs} if epochs != n.epochs else {}


def _more_epochs(n: RunNumbers) -> dict[str, Any]:
    if n.views_per_image <= 0:
        return {}
    return {
        "epochs": min(1000, max(n.epochs + 1, round(n.epochs * VIEWS_TARGET / n.views_per_image)))
    }


def _adaptive(n: RunNumbers) -> bool:
    return n.optimizer == "prodigy"


def _no_effect(n: RunNumbers) -> list[Advice]:
    src = f"{DOC}#no-effect"
    found = []
    shape = loss_shape(n.loss)
    if _adaptive(n) and n.unet_lr < 0.5:
        found.append(
            Advice(
                "diagnosis.no_effect.prodigy_lr",
                "no_effect",
                "Prodigy was given a small learning rate",
                f"{_lr_words(n)}; Prodigy sets its own step size and expects about 1.0",
                "Set the learning rate to 1.0 for Prodigy.",
                src,
                {"unet_lr": 1.0, "text_encoder_lr": 1.0},
            )
        )
    elif not _adaptive(n) and n.unet_lr < ADAMW_LR_LOW:
        found.append(
            Advice(
                "diagnosis.no_effect.lr_low",
                "no_effect",
                "The learning rate is too low to move the LoRA",
                f"{_lr_words(n)}, below {ADAMW_LR_LOW:g}",
                "Double the learning rate.",
                src,
                {"unet_lr": n.unet_lr * 2, "text_encoder_lr": n.text_encoder_lr * 2},
            )
        )
    if n.views_per_image < VIEWS_LOW:
        found.append(
            Advice(
                "diagnosis.no_effect.few_steps",
                "no_effect",
                "Too few steps per image",
                f"each image was seen {n.views_per_image:g} times ({n.total_steps} steps, {n.images} images); fewer than {VIEWS_LOW} rarely teaches anything",
                f"Train longer: about {VIEWS_TARGET} views per image.",
                src,
                _more_epochs(n),
            )
        )
    if n.alpha / n.rank < 0.25:
        found.append(
            Advice(
                "diagnosis.no_effect.alpha_small",
                "no_effect",
                "Network alpha much smaller than the rank scales every update down",
                f"alpha {n.alpha:g} for rank {n.rank}: updates scaled by {n.alpha / n.rank:g}",
                "Set alpha to half the rank.",
                src,
                {"network_alpha": n.rank / 2},
            )
        )
    if shape.kind == "flat":
        found.append(
            Advice(
                "diagnosis.no_effect.loss_flat",
                "no_effect",
                "The loss did not fall: training did not take hold",
                f"loss {shape.first:.4f} at the start, {shape.last:.4f} at the end{_loss_source(n)}",
                "Raise the learning rate or train longer (the causes above say which).",
                src,
            )
        )
    if n.curves is not None and max(n.curves.effect, default=0.0) < NO_EFFECT:
        found.append(
            Advice(
                "diagnosis.no_effect.measured",
                "no_effect",
                "The grid measured no change at any weight",
                "the effect curve is flat at 0: the file's up-weights are zero or it was never trained",
                "Check that the run finished; evaluate its final LoRA rather than an early checkpoint.",
                src,
            )
        )
    return found


def _overfit(n: RunNumbers) -> list[Advice]:
    src = f"{DOC}#overfitting"
    found = []
    if n.views_per_image > VIEWS_HIGH:
        found.append(
            Advice(
                "diagnosis.overfit.many_steps",
                "overfit",
                "Too many steps per image: the LoRA memorised the pictures",
                f"each image was seen {n.views_per_image:g} times ({n.total_steps} steps, {n.images} images), more than {VIEWS_HIGH}",
                f"Fewer epochs (about {VIEWS_TARGET} views per image), or use an earlier checkpoint.",
                src,
                _fewer_epochs(n),
            )
        )
    if not _adaptive(n) and n.unet_lr > ADAMW_LR_HIGH:
        found.append(
            Advice(
                "diagnosis.overfit.lr_high",
                "overfit",
                "The learning rate is high: burned colours and artefacts",
                f"{_lr_words(n)}, above {ADAMW_LR_HIGH:g}",
                "Halve the learning rate.",
                src,
                {"unet_lr": n.unet_lr / 2, "text_encoder_lr": n.text_encoder_lr / 2},
            )
        )
    if n.images < SMALL_DATASET:
        found.append(
            Advice(
                "diagnosis.overfit.small_dataset",
                "overfit",
                "Few images: each one weighs a lot",
                f"{n.images} images (fewer than {SMALL_DATASET})",
                "Add varied images (other poses, settings, lighting); until then, use an earlier checkpoint or a lower weight.",
                f"{DOC}#overfitting",
            )
        )
    if n.rank > RANK_HIGH:
        found.append(
            Advice(
                "diagnosis.overfit.rank_high",
                "overfit",
                "A high rank has room to store the images themselves",
                f"rank {n.rank}",
                "Lower the rank to 32.",
                src,
                {"network_rank": 32, "network_alpha": 16.0},
            )
        )
    return found


def _leak(n: RunNumbers) -> list[Advice]:
    src = f"{DOC}#leaking"
    found = []
    if n.curves is not None:
        at_one = n.curves.at(1.0)
        if at_one and at_one[0] > 0 and at_one[1] >= LEAK_RATIO * at_one[0]:
            found.append(
                Advice(
                    "diagnosis.leak.measured",
                    "leak",
                    "The grid measured the LoRA acting without its trigger",
                    f"at weight 1 the change without the trigger is {at_one[1]:.3f}, {at_one[1] / at_one[0]:.0%} of the change with it",
                    "Use a lower weight, and see the causes below.",
                    src,
                )
            )
    if n.train_text_encoder:
        found.append(
            Advice(
                "diagnosis.leak.text_encoder",
                "leak",
                "The text encoder was trained: every word can shift, not only the trigger",
                f"text encoder trained at learning rate {n.text_encoder_lr:g}",
                "Train the UNet only.",
                src,
                {"train_text_encoder": False},
            )
        )
    if n.trigger_share < 1.0:
        found.append(
            Advice(
                "diagnosis.leak.trigger_missing",
                "leak",
                "Some captions lack the trigger, so the look is learned without it",
                f"{n.trigger_share:.0%} of {n.captions} captions hold the trigger word",
                "Put the trigger word in every caption (Captions page).",
                src,
            )
        )
    if n.views_per_image > VIEWS_HIGH:
        found.append(
            Advice(
                "diagnosis.leak.many_steps",
                "leak",
                "Long training pushes the look into the whole model",
                f"each image was seen {n.views_per_image:g} times",
                f"Fewer epochs (about {VIEWS_TARGET} views per image).",
                src,
                _fewer_epochs(n),
            )
        )
    return found


def _missing(n: RunNumbers) -> list[Advice]:
    src = f"{DOC}#missing-parts"
    found = []
    frequent = [tag for tag in n.tags if tag.share >= TAG_EVERYWHERE]
    if frequent and n.training_type in ("character", "object", "concept"):
        listed = ", ".join(f"“{t.tag}” ({t.share:.0%})" for t in frequent[:5])
        found.append(
            Advice(
                "diagnosis.missing.tagged_features",
                "missing",
                "Captions name the concept's own features, so they are not bound to the trigger",
                f"in almost every caption: {listed}",
                "Remove from the captions what must always come with the trigger; keep what should vary.",
                src,
            )
        )
    if n.views_per_image < VIEWS_LOW:
        found.append(
            Advice(
                "diagnosis.missing.few_steps",
                "missing",
                "Too few steps to learn the details",
                f"each image was seen {n.views_per_image:g} times",
                f"Train longer: about {VIEWS_TARGET} views per image.",
                src,
                _more_epochs(n),
            )
        )
    low = MIN_RESOLUTION.get(n.family)
    if low and n.resolution < low:
        found.append(
            Advice(
                "diagnosis.missing.low_resolution",
                "missing",
                "Training resolution below the model's own: small details are lost",
                f"{n.resolution} px for a {n.family} model made for {low} px",
                f"Train at {low} px.",
                src,
                {"resolution": low},
            )
        )
    return found


def _broken(n: RunNumbers) -> list[Advice]:
    src = f"{DOC}#black-or-noisy-images"
    found = []
    if loss_shape(n.loss).kind == "exploded":
        found.append(
            Advice(
                "diagnosis.broken.loss_exploded",
                "broken",
                "Training diverged: the weights hold huge or NaN values",
                f"the loss rose sharply or became NaN{_loss_source(n)}",
                "Lower the learning rate and use bf16 (see below).",
                src,
                {"unet_lr": n.unet_lr / 4, "text_encoder_lr": n.text_encoder_lr / 4}
                if not _adaptive(n)
                else {},
            )
        )
    if n.mixed_precision == "fp16" and n.family == "sdxl":
        found.append(
            Advice(
                "diagnosis.broken.fp16_sdxl",
                "broken",
                "SDXL in fp16 overflows (its VAE and some layers need a wider range)",
                "mixed precision fp16 on SDXL",
                "Use bf16 (on GPUs that have it) or no mixed precision.",
                src,
                {"mixed_precision": "bf16"},
            )
        )
    if not _adaptive(n) and n.unet_lr >= LR_EXPLODES:
        found.append(
            Advice(
                "diagnosis.broken.lr_very_high",
                "broken",
                "A learning rate this high can blow the weights up",
                f"{_lr_words(n)}",
                "Lower the learning rate to 1e-4.",
                src,
                {"unet_lr": 1e-4, "text_encoder_lr": 5e-5},
            )
        )
    return found


def _loss(n: RunNumbers) -> list[Advice]:
    src = f"{DOC}#loss-curve"
    shape = loss_shape(n.loss)
    if shape.kind == "unknown":
        return [
            Advice(
                "diagnosis.loss.no_series",
                "loss",
                "No loss series for this run",
                f"{len(n.loss)} loss values stored for this run",
                "Read the loss on the run's page; the rules below it still apply.",
                src,
            )
        ]
    found = []
    if shape.kind == "exploded":
        found += _broken(n)[:1]
    if shape.kind == "flat":
        found.append(
            Advice(
                "diagnosis.loss.flat",
                "loss",
                "The loss stayed flat",
                f"{shape.first:.4f} → {shape.last:.4f}{_loss_source(n)}; a diffusion loss is noisy and falls slowly, but it should fall",
                "Check the learning rate (the no-effect causes say by how much).",
                src,
            )
        )
        found += [a for a in _no_effect(n) if a.change][:1]
    return found


RULES: dict[str, Callable[[RunNumbers], list[Advice]]] = {
    "no_effect": _no_effect,
    "overfit": _overfit,
    "leak": _leak,
    "missing": _missing,
    "broken": _broken,
    "loss": _loss,
}


def diagnose(numbers: RunNumbers, symptoms: list[str]) -> dict[str, list[Advice]]:
    """Advice for each ticked symptom (unknown keys are ignored)."""
    return {key: RULES[key](numbers) for key in SYMPTOM_KEYS if key in symptoms}


def measured_symptoms(numbers: RunNumbers) -> list[str]:
    """Symptoms the curves show by themselves: the page ticks them for the artist."""
    found = []
    curves = numbers.curves
    if curves is not None and curves.effect and max(curves.effect) < NO_EFFECT:
        found.append("no_effect")
    if curves is not None and any(a.code == "diagnosis.leak.measured" for a in _leak(numbers)):
        found.append("leak")
    return found


def find_advice(numbers: RunNumbers, code: str) -> Advice | None:
    for rule in RULES.values():
        for advice in rule(numbers):
            if advice.code == code:
                return advice
    return None
