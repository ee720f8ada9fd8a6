"""Training learns, and the memory savers (gradient checkpointing, latent caching,
text-encoder output caching) change nothing in what it learns."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from app.training.job import BaseModelRef
from app.training.native.events import ProgressWriter
from app.training.native.precision import Precision
from app.training.native.setup import prepare
from app.training.native.trainer import Trainer
from tests.training.native.conftest import MakeJob

pytestmark = pytest.mark.slow
NOISE_SEED = 123


def _quiet() -> ProgressWriter:
    """Events kept in memory (``.events``) instead of on stdout."""
    return ProgressWriter(io.StringIO())


@pytest.mark.parametrize("model", ["sd15", "sd15_v", "sdxl"])
def test_loss_on_a_fixed_batch_drops_clearly_in_20_steps(
    model: str, request: pytest.FixtureRequest, make_job: MakeJob
) -> None:
    folder: Path = request.getfixturevalue(f"{model}_dir")
    prediction = "v_prediction" if model == "sd15_v" else "epsilon"
    family = "sdxl" if model == "sdxl" else "sd15"
    job = make_job(
        BaseModelRef(path=str(folder), family=family, prediction_type=prediction),
        unet_lr=1e-2,
        network_alpha=4.0,
        train_batch_size=4,
        min_snr_gamma=5.0,
    )
    trainer = Trainer(job, _quiet())
    run = trainer.run = prepare(job)
    group = [[0, 1, 2, 3]]
    batch = [run.samples[i] for i in group[0]]

    def fixed_loss() -> float:
        trainer.noise = torch.Generator().manual_seed(NOISE_SEED)
        with torch.no_grad():
            return float(trainer.batch_loss(run, batch))

    before = fixed_loss()
    for _ in range(20):
        trainer.noise = torch.Generator().manual_seed(NOISE_SEED)  # same noise, same timesteps
        trainer.optimizer_step(run, group)
    after = fixed_loss()
    print(f"{model}: fixed-batch loss {before:.4f} → {after:.4f} ({1 - after / before:.1%} lower)")
    assert after < 0.85 * before


def _final_weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return load_file(trainer.train())


def test_memory_savers_do_not_change_what_is_learned(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    plain = make_job(sd15_ref, max_train_steps=3, train_text_encoder=False)
    saving = make_job(
        sd15_ref,
        max_train_steps=3,
        train_text_encoder=False,
        gradient_checkpointing=True,
        cache_latents=True,
        cache_text_encoder_outputs=True,
    )
    expected = _final_weights(Trainer(plain, _quiet()))
    saved = Trainer(saving, _quiet())
    got = _final_weights(saved)
    assert saved.run is not None and saved.run.latents.cached and saved.run.text.cached
    assert list((Path(saving.output_dir) / "cache" / "latents").rglob("*.safetensors"))
    assert got.keys() == expected.keys()
    # Cached latents were encoded one image at a time, the others a batch at a time:
    # the same numbers up to float rounding.
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-5, msg=key)


def test_text_encoder_training_checkpointed_learns_the_same(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    plain = make_job(sd15_ref, max_train_steps=2, train_text_encoder=True)
    checkpointed = make_job(
        sd15_ref, max_train_steps=2, train_text_encoder=True, gradient_checkpointing=True
    )
    expected = _final_weights(Trainer(plain, _quiet()))
    got = _final_weights(Trainer(checkpointed, _quiet()))
    text_keys = [k for k in expected if k.startswith("lora_te_")]
    assert text_keys and any(
        float(expected[k].abs().max()) > 0 for k in text_keys if "lora_up" in k
    )
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6, msg=key)


def test_same_seed_same_lora_other_seed_another(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    first = _final_weights(
        Trainer(
            make_job(sd15_ref, max_train_steps=2, shuffle_caption=True, noise_offset=0.05), _quiet()
        )
    )
    again = _final_weights(
        Trainer(
            make_job(sd15_ref, max_train_steps=2, shuffle_caption=True, noise_offset=0.05), _quiet()
        )
    )
    other = _final_weights(
        Trainer(
            make_job(sd15_ref, max_train_steps=2, shuffle_caption=True, noise_offset=0.05, seed=8),
            _quiet(),
        )
    )
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_mixed_precision_trains_float32_adapters_on_half_weights(
    dtype: torch.dtype, make_job: MakeJob, sd15_ref: BaseModelRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CUDA is the boundary this machine lacks; CPU autocast runs the same code path:
    frozen weights stored in half precision, adapters and optimizer state in float32,
    fp16 losses scaled by a grad scaler. bench/gpu_smoke.py runs it on a GPU."""
    scaler = torch.amp.GradScaler("cpu") if dtype == torch.float16 else None
    monkeypatch.setattr(
        "app.training.native.setup.choose_precision",
        lambda config, local_rank: Precision(torch.device("cpu"), dtype, scaler),
    )
    job = make_job(
        sd15_ref, max_train_steps=2, train_text_encoder=True, gradient_checkpointing=True
    )
    trainer = Trainer(job, _quiet())
    trainer.train()
    run = trainer.run
    assert run is not None
    assert run.model.unet.conv_in.weight.dtype == dtype
    assert all(lora.down.dtype == lora.up.dtype == torch.float32 for lora in run.loras)
    states = run.optimizer.state.values()
    assert states and all(state["exp_avg"].dtype == torch.float32 for state in states)
    if scaler is not None:
        assert scaler._scale is not None  # the losses really went through the scaler
    done = trainer.events.events[-1]
    assert done["event"] == "done" and done["verified"]["unmatched_keys"] == 0


def test_dry_run_trains_a_few_steps_and_proves_every_save(
    make_job: MakeJob, sd15_ref: BaseModelRef
) -> None:
    job = make_job(
        sd15_ref,
        job={"dry_run_steps": 2},
        epochs=10,
        save_every_n_steps=1,
        sample_prompts=["zkstyle, heron"],
        sample_every_n_steps=1,
    )
    trainer = Trainer(job, _quiet())
    lora = trainer.train()
    kinds = [e["event"] for e in trainer.events.events]
    # No samples while it trains; each prompt drawn once after the save.
    assert kinds == ["start", "step", "step", "checkpoint", "sample", "done"]
    start, done = trainer.events.events[0], trainer.events.events[-1]
    assert start["total"] == 2
    assert done["complete"] and done["seconds_per_step"] > 0
    assert lora.is_file() and done["verified"]["changes_output"]
