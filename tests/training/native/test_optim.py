"""Every optimizer the config offers is built as named, learns, and resumes exactly from
a state saved and loaded the way checkpoints do it (``torch.load(weights_only=True)``);
schedules warm up as asked."""

from __future__ import annotations

import importlib.util
import io
from typing import Any

import pytest
import torch

from app.training.config import TrainingConfig
from app.training.native.optim import build_lr_scheduler, build_optimizer, parameter_groups

OPTIMIZERS = ["adamw", "prodigy", "lion", "adafactor"]


def _params() -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(8, 4, generator=generator)) for _ in range(2)]


def _step(params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer, step: int) -> None:
    optimizer.zero_grad()
    target = torch.full((8, 4), float(step))
    loss = sum(((p - target) ** 2).mean() for p in params)
    loss.backward()  # type: ignore[union-attr]
    optimizer.step()


def _reload(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_learns_and_resumes_exactly(name: str) -> None:
    config = TrainingConfig(optimizer=name, unet_lr=1.0 if name == "prodigy" else 1e-2)
    straight = _params()
    optimizer = build_optimizer(config, parameter_groups(config, straight, []))
    before = [p.detach().clone() for p in straight]
    for step in range(4):
        _step(straight, optimizer, step)
    assert any(not torch.equal(a, b) for a, b in zip(before, straight, strict=True))

    resumed = _params()
    first = build_optimizer(config, parameter_groups(config, resumed, []))
    for step in range(2):
        _step(resumed, first, step)
    second = build_optimizer(config, parameter_groups(config, resumed, []))
    second.load_state_dict(_reload(first.state_dict()))
    for step in range(2, 4):
        _step(resumed, second, step)
    for a, b in zip(straight, resumed, strict=True):
        assert torch.equal(a, b)


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes not installed"
)
def test_8bit_adamw_is_bitsandbytes() -> None:
    config = TrainingConfig(optimizer="adamw8bit")
    optimizer = build_optimizer(config, parameter_groups(config, _params(), []))
    assert type(optimizer).__module__.startswith("bitsandbytes")


def test_text_encoder_adapters_get_their_own_learning_rate() -> None:
    config = TrainingConfig(unet_lr=1e-4, text_encoder_lr=5e-5)
    unet, text = _params(), _params()
    optimizer = build_optimizer(config, parameter_groups(config, unet, text))
    assert [g["lr"] for g in optimizer.param_groups] == [1e-4, 5e-5]


@pytest.mark.parametrize("scheduler", ["constant", "linear", "cosine"])
def test_warmup_ramps_up_from_zero(scheduler: str) -> None:
    config = TrainingConfig(unet_lr=1e-3, lr_scheduler=scheduler, lr_warmup_steps=4)
    optimizer = build_optimizer(config, parameter_groups(config, _params(), []))
    schedule = build_lr_scheduler(config, optimizer, total_steps=20)
    rates = []
    for _ in range(6):
        rates.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.0
    assert rates[1] < rates[2] < rates[3] < rates[4]
    assert rates[4] == pytest.approx(1e-3)
