"""Tiny captioning models built by the tests, saved the way real ones ship, so the real
loading and inference code runs on them (no hub, no downloads).

The tagger is a real ONNX graph with WD14's interface: NHWC float32 [batch, 32, 32, 3]
in BGR order, per-channel means, a linear layer, a sigmoid over the tags. Its weights
make each tag's score a readable function of the image's colours, so a test knows which
tags a picture must get: a red image scores "red shirt", a blue one "blue sky" and the
character "hatsune miku", a mostly white one "white background". Reading channels as RGB
instead of BGR, or padding with black instead of white, changes those answers.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TAGGER_SIZE = 32
# (name as in Danbooru, category, weights on the B, G, R channel means, bias). Scores
# are sigmoid(weights · means / 10 + bias): channel means are in 0-255.
TAGS: list[tuple[str, int, tuple[float, float, float], float]] = [
    ("general", 9, (0, 0, 0), 0.0),
    ("sensitive", 9, (0, 0, 0), 0.0),
    ("questionable", 9, (0, 0, 0), 0.0),
    ("explicit", 9, (0, 0, 0), 0.0),
    ("red_shirt", 0, (-1, -1, 1), 0.0),
    ("blue_sky", 0, (1, -1, -1), 0.0),
    ("monochrome", 0, (-1, 1, -1), 0.0),
    ("white_background", 0, (1, 1, 1), -60.0),
    ("traditional_media", 0, (0, 0, 0), 5.0),
    ("^_^", 0, (0, 0, 0), 5.0),
    ("long_hair", 0, (0, 0, 0), 0.0),  # always 0.5: in at 0.35, out at 0.6
    ("hatsune_miku", 4, (1, -1, -1), 0.0),
]


def _build_tagger(folder: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.array([tag[2] for tag in TAGS], dtype=np.float32).T / 10.0  # [3, T]
    bias = np.array([tag[3] for tag in TAGS], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input_1"], ["means"], axes=[1, 2], keepdims=0),
            helper.make_node("MatMul", ["means", "weights"], ["logits"]),
            helper.make_node("Add", ["logits", "bias"], ["shifted"]),
            helper.make_node("Sigmoid", ["shifted"], ["predictions_sigmoid"]),
        ],
        "tiny_wd14",
        [
            helper.make_tensor_value_info(
                "input_1", TensorProto.FLOAT, ["batch", TAGGER_SIZE, TAGGER_SIZE, 3]
            )
        ],
        [
            helper.make_tensor_value_info(
                "predictions_sigmoid", TensorProto.FLOAT, ["batch", len(TAGS)]
            )
        ],
        initializer=[
            numpy_helper.from_array(weights, "weights"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True)
    onnx.save(model, folder / "model.onnx")
    with (folder / "selected_tags.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"])
        for index, (name, category, _, _) in enumerate(TAGS):
            writer.writerow([1000 + index, name, category, 5000 - index])


@pytest.fixture(scope="session")
def wd14_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("captioners") / "wd-tiny-tagger"
    _build_tagger(folder)
    return folder


def _build_blip(folder: Path) -> None:
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipProcessor,
    )
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    folder.mkdir(parents=True)
    words = "[PAD] [UNK] [CLS] [SEP] [MASK] [DEC] a an the cat dog woman on in at red blue "
    words += "scarf sky street night watercolor painting of sits stands lighthouse"
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(words.split()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab), do_lower_case=True)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )
    config = BlipConfig(
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "encoder_hidden_size": 16,
            "max_position_embeddings": 64,
            "bos_token_id": tokenizer.bos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "sep_token_id": tokenizer.sep_token_id,
            "eos_token_id": tokenizer.sep_token_id,
        },
        projection_dim=16,
    )
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)


@pytest.fixture(scope="session")
def blip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("captioners") / "blip-tiny"
    _build_blip(folder)
    return folder


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    def _make(
        name: str, color: tuple[int, ...], size: tuple[int, int] = (48, 48), mode: str = "RGB"
    ) -> Path:
        path = tmp_path / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new(mode, size, color).save(path)
        return path

    return _make
