"""Base models load from a diffusers folder or from one .safetensors file in the
original layout, offline; the configs loragate ships describe the real SD 1.5 and SDXL
architectures."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from app.training.job import BaseModelRef
from app.training.native.errors import TrainingError
from app.training.native.models import load_pipeline, materialise_shipped_configs

COMPONENTS = {
    "sd15": ["unet", "vae", "text_encoder"],
    "sdxl": ["unet", "vae", "text_encoder", "text_encoder_2"],
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model loader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_single_file_loads_the_same_weights_as_the_folder(
    family: str, request: pytest.FixtureRequest, tmp_path: Path, no_network: None
) -> None:
    folder: Path = request.getfixturevalue(f"{family}_dir")
    single: BaseModelRef = request.getfixturevalue(f"{family}_single")
    from_folder = load_pipeline(BaseModelRef(path=str(folder), family=family), tmp_path)
    from_file = load_pipeline(single, tmp_path)
    for name in COMPONENTS[family]:
        expected = getattr(from_folder, name).state_dict()
        loaded = getattr(from_file, name).state_dict()
        assert loaded.keys() == expected.keys(), name
        for key, value in expected.items():
            assert torch.equal(loaded[key], value), f"{name}.{key}"


def test_a_single_file_of_another_architecture_is_a_plain_error(
    sd15_single: BaseModelRef, tmp_path: Path
) -> None:
    # Without its config folder the tiny checkpoint is read as a real SD 1.5.
    ref = BaseModelRef(path=sd15_single.path, family="sd15")
    with pytest.raises(TrainingError) as caught:
        load_pipeline(ref, tmp_path)
    assert caught.value.kind == "bad_config"
    assert "could not be loaded as a sd15 model" in caught.value.message


# Parameter counts of the published models (UNet, VAE, CLIP ViT-L text, OpenCLIP bigG text).
PUBLISHED = {
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480},
    "sdxl": {
        "unet": 2_567_463_684,
        "vae": 83_653_863,
        "text_encoder": 123_060_480,
        "text_encoder_2": 694_659_840,
    },
}


@pytest.mark.parametrize("name", ["sd15", "sd15_v", "sdxl"])
def test_shipped_configs_are_the_published_architectures(name: str, tmp_path: Path) -> None:
    folder = materialise_shipped_configs(name, tmp_path / name)
    family = "sdxl" if name == "sdxl" else "sd15"

    def config(component: str) -> dict:  # type: ignore[type-arg]
        return json.loads((folder / component / "config.json").read_text("utf-8"))

    with init_empty_weights():  # shapes only, no memory
        built = {
            "unet": UNet2DConditionModel.from_config(config("unet")),
            "vae": AutoencoderKL.from_config(config("vae")),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**config("text_encoder"))),
        }
        if family == "sdxl":
            built["text_encoder_2"] = CLIPTextModelWithProjection(
                CLIPTextConfig(**config("text_encoder_2"))
            )
    counts = {key: sum(p.numel() for p in model.parameters()) for key, model in built.items()}
    assert counts == PUBLISHED[family]
    scheduler = json.loads((folder / "scheduler" / "scheduler_config.json").read_text("utf-8"))
    assert scheduler["prediction_type"] == ("v_prediction" if name == "sd15_v" else "epsilon")


def test_sdxl_second_tokenizer_pads_like_openclip(tmp_path: Path) -> None:
    folder = materialise_shipped_configs("sdxl", tmp_path / "sdxl")
    first = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    second = CLIPTokenizer.from_pretrained(folder / "tokenizer_2")
    assert first("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert second("a photo of a cat").input_ids == first("a photo of a cat").input_ids
    assert first.pad_token_id == 49407
    assert second.pad_token_id == 0  # "!"
