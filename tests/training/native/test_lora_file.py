"""The saved LoRA is a kohya-format file that other tools load exactly: diffusers'
``load_lora_weights`` in a fresh pipeline reproduces the trained model's image, and a
manual merge ``W += alpha/r · up @ down`` (what ComfyUI and A1111 do) matches it."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from app.training.job import BaseModelRef
from app.training.native.events import ProgressWriter
from app.training.native.kohya import tensor_hash
from app.training.native.models import Pipeline, load_pipeline
from app.training.native.trainer import Trainer
from tests.ldm_layout import unet_ldm_names
from tests.training.native.conftest import MakeJob

pytestmark = pytest.mark.slow
PROMPT = "zkstyle, moon over a river"


@dataclass
class Trained:
    family: str
    ref: BaseModelRef
    trainer: Trainer
    lora: Path
    work: Path
    in_memory_image: np.ndarray  # drawn by the trained model itself

    def fresh(self) -> Pipeline:
        return load_pipeline(self.ref, self.work)


@pytest.fixture(scope="module")
def trained(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, job_at: MakeJob
) -> Trained:
    """Four steps with the text encoders trained too. The SD 1.5 run reads a diffusers
    folder, the SDXL run a single-file checkpoint."""
    family = request.param
    ref = request.getfixturevalue("sd15_ref" if family == "sd15" else "sdxl_single")
    tmp = tmp_path_factory.mktemp(f"trained-{family}")
    job = job_at(
        ref,
        tmp / "run",
        train_text_encoder=True,
        epochs=10,  # max_train_steps decides the run: half of the first epoch
        max_train_steps=4,
        unet_lr=1e-2,
        text_encoder_lr=1e-2,
    )
    trainer = Trainer(job, ProgressWriter(io.StringIO()))
    lora = trainer.train()
    image = _image(trainer.run.model.pipeline)  # type: ignore[union-attr]
    return Trained(family, ref, trainer, lora, tmp / "work", image)


def _image(pipeline: Pipeline) -> np.ndarray:
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        return pipeline(
            prompt=PROMPT,
            num_inference_steps=2,
            height=64,
            width=64,
            generator=generator,
            output_type="np",
        ).images[0]


FAMILIES = pytest.mark.parametrize("trained", ["sd15", "sdxl"], indirect=True)


@FAMILIES
def test_only_kohya_keys_with_the_trained_alpha(trained: Trained) -> None:
    tensors = load_file(trained.lora)
    assert all(key.startswith("lora_") for key in tensors)
    names = {key.split(".")[0] for key in tensors}
    for name in names:
        down, up = tensors[f"{name}.lora_down.weight"], tensors[f"{name}.lora_up.weight"]
        assert down.shape[0] == 4 and up.shape[1] == 4  # rank
        assert float(tensors[f"{name}.alpha"]) == 2.0
    trained_names = {n for n in names if float(tensors[f"{n}.lora_up.weight"].abs().max()) > 0}
    unet = sorted(n for n in names if n.startswith("lora_unet_"))
    assert set(unet) <= trained_names  # every UNet adapter moved off its zero init
    if trained.family == "sdxl":
        # sgm block names, as sd-scripts writes for SDXL and A1111 expects.
        assert all(
            n.startswith(
                ("lora_unet_input_blocks_", "lora_unet_middle_block_", "lora_unet_output_blocks_")
            )
            for n in unet
        )
        prefixes = {"lora_te1_text_model_encoder_layers_", "lora_te2_text_model_encoder_layers_"}
    else:
        assert all(
            n.startswith(("lora_unet_down_blocks_", "lora_unet_mid_block_", "lora_unet_up_blocks_"))
            for n in unet
        )
        prefixes = {"lora_te_text_model_encoder_layers_"}
    text = {n for n in names if not n.startswith("lora_unet_")}
    # Each encoder learned (SDXL reads the penultimate layer, so the last layer of its
    # first encoder gets no gradient and rightly stays at zero).
    assert {p for p in prefixes if any(n.startswith(p) for n in text & trained_names)} == prefixes
    assert all(n.endswith(("_q_proj", "_k_proj", "_v_proj", "_out_proj")) for n in text)


@FAMILIES
def test_metadata_tells_a1111_what_it_is(trained: Trained) -> None:
    with safe_open(str(trained.lora), framework="pt") as handle:
        metadata = handle.metadata()
        keys = handle.keys()  # safe_open is not iterable itself
        tensors = {key: handle.get_tensor(key) for key in keys}
    assert metadata["ss_network_module"] == "networks.lora"
    assert metadata["ss_network_dim"] == "4" and metadata["ss_network_alpha"] == "2.0"
    assert (
        metadata["ss_base_model_version"]
        == {"sd15": "sd_v1", "sdxl": "sdxl_base_v1-0"}[trained.family]
    )
    assert metadata["ss_steps"] == "4" and metadata["ss_num_train_images"] == "16"
    # The epochs the run covered, not the config's ten that max_train_steps overrode.
    assert metadata["ss_num_epochs"] == "1" and metadata["ss_epoch"] == "1"
    tags = json.loads(metadata["ss_tag_frequency"])
    assert tags["2_ink"]["zkstyle"] == 8
    assert (
        metadata["modelspec.architecture"]
        == {
            "sd15": "stable-diffusion-v1/lora",
            "sdxl": "stable-diffusion-xl-v1-base/lora",
        }[trained.family]
    )
    assert metadata["modelspec.trigger_phrase"] == "zkstyle"
    assert metadata["modelspec.hash_sha256"] == tensor_hash(tensors)


@FAMILIES
def test_fresh_pipeline_with_the_file_draws_the_trained_image(trained: Trained) -> None:
    fresh = trained.fresh()
    before = _image(fresh)
    fresh.load_lora_weights(str(trained.lora))
    after = _image(fresh)
    assert np.abs(after - trained.in_memory_image).max() == 0.0
    assert np.abs(after - before).max() > 1e-3  # the LoRA does something


@FAMILIES
def test_manual_merge_matches_like_comfyui_and_a1111(trained: Trained) -> None:
    tensors = load_file(trained.lora)
    fresh = trained.fresh()
    weights = _kohya_weight_map(fresh, trained.family)
    merged = set()
    with torch.no_grad():
        for key in tensors:
            if not key.endswith(".lora_down.weight"):
                continue
            name = key.split(".")[0]
            down, up = tensors[key], tensors[f"{name}.lora_up.weight"]
            alpha = float(tensors[f"{name}.alpha"])
            weights[name] += alpha / down.shape[0] * (up @ down)
            merged.add(name)
    assert len(merged) == len({k.split(".")[0] for k in tensors})
    assert np.abs(_image(fresh) - trained.in_memory_image).max() < 1e-5


def _kohya_weight_map(pipeline: Pipeline, family: str) -> dict[str, torch.Tensor]:
    """Kohya module name → the base weight it adapts, built from the model's own module
    names the way ComfyUI and A1111 build theirs (sgm names for the SDXL UNet)."""
    found: dict[str, torch.Tensor] = {}
    unet = dict(pipeline.unet.named_parameters())
    if family == "sdxl":
        ldm = unet_ldm_names(
            list(pipeline.unet.state_dict()), pipeline.unet.config.layers_per_block
        )
        for key, ldm_key in ldm.items():
            if key.endswith(".weight"):
                found["lora_unet_" + ldm_key.removesuffix(".weight").replace(".", "_")] = unet[key]
    else:
        for key, value in unet.items():
            found["lora_unet_" + key.removesuffix(".weight").replace(".", "_")] = value
    encoders = {"sd15": [("lora_te_", pipeline.text_encoder)]}.get(family) or [
        ("lora_te1_", pipeline.text_encoder),
        ("lora_te2_", pipeline.text_encoder_2),
    ]
    for prefix, encoder in encoders:
        for key, value in encoder.named_parameters():
            path = key if key.startswith("text_model.") else f"text_model.{key}"
            found[prefix + path.removesuffix(".weight").replace(".", "_")] = value
    return found
