"""Family detection from the safetensors header alone, on checkpoint files the tests write
(real headers, sparse data), diffusers folders and pickles that must never be opened."""

from __future__ import annotations

import os
import pickle
import struct
import time
from pathlib import Path

import pytest

from app.training.base_model import base_model_digest
from app.training.model_detect import ModelFileError, detect, read_safetensors_header
from tests.training.helpers import sparse_size, write_checkpoint, write_diffusers_folder


@pytest.mark.parametrize(
    ("kind", "family", "variant"),
    [
        ("sd15", "sd15", ""),
        ("sd15-diffusers-unet", "sd15", ""),
        ("sd2", "sd2", ""),
        ("sdxl", "sdxl", ""),
        ("sdxl-diffusers-unet", "sdxl", ""),
        ("sd3", "sd3", ""),
        ("flux-dev", "flux", "dev"),
        ("flux-schnell", "flux", "schnell"),
        ("flux-dev-diffusers", "flux", "dev"),
    ],
)
def test_family_from_header(tmp_path: Path, kind: str, family: str, variant: str) -> None:
    detection = detect(write_checkpoint(tmp_path / f"{kind}.safetensors", kind))
    assert detection.family == family
    assert detection.variant == variant
    assert detection.layout == "single-file"
    assert detection.evidence, "the decision names what it rests on"


def test_a_lora_and_an_unknown_file_are_told_apart(tmp_path: Path) -> None:
    assert detect(write_checkpoint(tmp_path / "l.safetensors", "lora")).layout == "lora"
    unknown = detect(write_checkpoint(tmp_path / "u.safetensors", "unknown"))
    assert unknown.family is None and unknown.layout == "single-file"


def test_a_huge_sparse_checkpoint_is_judged_by_its_header_only(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "flux.safetensors", "flux-dev", data_bytes=24 * 1024**3)
    apparent, allocated = sparse_size(path)
    assert apparent > 24 * 1024**3 and allocated < 1024**2  # nothing but the header exists
    started = time.perf_counter()
    assert detect(path).family == "flux"
    assert time.perf_counter() - started < 1.0  # reading 24 GB would take minutes


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x01\x02", "too short"),
        (struct.pack("<Q", 10**12) + b"{}", "length field is impossible"),
        (struct.pack("<Q", 5) + b"{not}", "not valid JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a mapping"),
    ],
)
def test_damaged_headers_are_plain_errors(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=words):
        detect(path)


class _Bomb:
    """Unpickling this creates a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin"])
def test_pickled_checkpoints_are_never_unpickled(tmp_path: Path, suffix: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps(_Bomb(marker)))
    detection = detect(path)
    assert detection.layout == "pickled" and detection.family is None
    assert not marker.exists()
    # the fingerprint reads only size, mtime and the first bytes
    base_model_digest(path)
    assert not marker.exists()


def test_diffusers_folders(tmp_path: Path) -> None:
    sd15 = write_diffusers_folder(
        tmp_path / "sd15", "StableDiffusionPipeline", unet={"cross_attention_dim": 768}
    )
    sd2 = write_diffusers_folder(
        tmp_path / "sd2",
        "StableDiffusionPipeline",
        unet={"cross_attention_dim": 1024},
        scheduler={"prediction_type": "v_prediction"},
    )
    sdxl = write_diffusers_folder(tmp_path / "sdxl", "StableDiffusionXLPipeline")
    schnell = write_diffusers_folder(
        tmp_path / "schnell", "FluxPipeline", transformer={"guidance_embeds": False}
    )
    assert detect(sd15).family == "sd15"
    detection = detect(sd2)
    assert (detection.family, detection.prediction_type) == ("sd2", "v_prediction")
    assert detect(sdxl).family == "sdxl"
    assert (detect(schnell).family, detect(schnell).variant) == ("flux", "schnell")
    with pytest.raises(ModelFileError, match=r"model_index\.json"):
        detect(tmp_path)


def test_header_reader_returns_every_tensor(tmp_path: Path) -> None:
    header = read_safetensors_header(write_checkpoint(tmp_path / "x.safetensors", "sdxl"))
    assert header["model.diffusion_model.label_emb.0.0.weight"]["shape"] == [1280, 2816]


def test_base_model_fingerprint_follows_the_file(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "m.safetensors", "sdxl")
    first = base_model_digest(path)
    assert base_model_digest(path) == first
    write_checkpoint(path, "sd15")  # another model under the same name
    assert base_model_digest(path) != first
    folder = write_diffusers_folder(tmp_path / "d", "StableDiffusionXLPipeline")
    before = base_model_digest(folder)
    (folder / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    assert base_model_digest(folder) != before
    assert base_model_digest(None) == base_model_digest(tmp_path / "missing")
