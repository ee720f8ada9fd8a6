"""The VRAM estimate against published figures (±20%), and the way it responds to each
setting."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.resources import load_document
from app.training.vram import (
    PUBLISHED_MEASUREMENTS,
    PUBLISHED_UPPER_BOUNDS,
    VramInputs,
    estimate_vram,
)


@pytest.mark.parametrize("row", PUBLISHED_MEASUREMENTS, ids=lambda row: row.label)
def test_estimate_within_20_percent_of_published_figures(row) -> None:  # type: ignore[no-untyped-def]
    estimate = estimate_vram(row.inputs).total_gb
    assert 0.8 * row.gb <= estimate <= 1.2 * row.gb, f"{row.label}: {estimate:.2f} vs {row.gb}"


@pytest.mark.parametrize("row", PUBLISHED_UPPER_BOUNDS, ids=lambda row: row.label)
def test_estimate_below_published_upper_bounds(row) -> None:  # type: ignore[no-untyped-def]
    assert estimate_vram(row.inputs).total_gb <= row.gb


def test_every_published_source_is_in_the_calculator_guide() -> None:
    guide = load_document("vram-calculator").html
    for row in PUBLISHED_MEASUREMENTS + PUBLISHED_UPPER_BOUNDS:
        url = row.source.split(" ")[0]
        assert url in guide, f"{row.label}: {url} is not cited in resources/vram-calculator.md"


BASE = VramInputs(family="sdxl", resolution=1024, rank=16, optimizer="adamw")


def total(**changes: object) -> float:
    return estimate_vram(replace(BASE, **changes)).total_gb  # type: ignore[arg-type]


def test_each_saving_lowers_the_estimate() -> None:
    assert total(gradient_checkpointing=False) > total() + 5  # SDXL activations at 1 MP
    assert total(cache_text_encoder_outputs=True) < total() - 1.4  # both text encoders leave
    assert total(cache_latents=False) > total()
    assert total(optimizer="adamw8bit") < total() < total(optimizer="prodigy")
    assert total(optimizer="adafactor") < total(optimizer="adamw8bit")
    assert total(precision="no") > total() + 4  # fp32 weights


def test_activations_grow_with_pixels_and_batch() -> None:
    parts = lambda **c: estimate_vram(replace(BASE, **c)).breakdown["activations"]  # noqa: E731
    assert parts(batch_size=4) == pytest.approx(4 * parts())
    assert parts(resolution=2048) == pytest.approx(4 * parts())


def test_breakdown_adds_up_and_names_each_part() -> None:
    estimate = estimate_vram(replace(BASE, family="flux"))
    assert sum(estimate.breakdown.values()) == pytest.approx(estimate.total_gb)
    assert {"transformer", "text encoders", "optimizer states", "activations"} <= set(
        estimate.breakdown
    )
    assert estimate.to_json()["total_gb"] == round(estimate.total_gb, 2)


def test_training_the_text_encoder_keeps_it_on_the_gpu_even_when_cached() -> None:
    trained = estimate_vram(replace(BASE, train_text_encoder=True, cache_text_encoder_outputs=True))
    assert trained.breakdown["text encoders"] > 1.0
