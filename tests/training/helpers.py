"""Real files for the config tests: checkpoint headers with the tensor names and shapes
each family has (the data area left sparse: nothing reads it), real images in kohya
folders, a studio.md with a GPU, and a project that uses them."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from PIL import Image

from app.dataset.inventory import concept_of
from app.grimoire import studio_path, update_doc
from app.models import Project
from app.projects import Intent, create_project
from app.settings import Settings
from app.workspace import Workspace

SD = "model.diffusion_model."

HEADERS: dict[str, dict[str, list[int]]] = {
    "sd15": {
        f"{SD}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
        f"{SD}input_blocks.0.0.weight": [320, 4, 3, 3],
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [49408, 768],
    },
    "sd2": {
        f"{SD}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 1024],
        f"{SD}input_blocks.0.0.weight": [320, 4, 3, 3],
    },
    "sdxl": {
        f"{SD}label_emb.0.0.weight": [1280, 2816],
        f"{SD}input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": [640, 2048],
    },
    "sdxl-diffusers-unet": {
        "add_embedding.linear_1.weight": [1280, 2816],
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": [640, 2048],
    },
    "sd15-diffusers-unet": {
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": [320, 768],
    },
    "sd3": {
        f"{SD}joint_blocks.0.x_block.attn.qkv.weight": [4608, 1536],
    },
    "flux-dev": {
        "double_blocks.0.img_attn.norm.key_norm.scale": [128],
        "guidance_in.in_layer.weight": [3072, 256],
        "single_blocks.0.linear1.weight": [21504, 3072],
    },
    "flux-schnell": {
        "double_blocks.0.img_attn.norm.key_norm.scale": [128],
        "single_blocks.0.linear1.weight": [21504, 3072],
    },
    "flux-dev-diffusers": {
        "transformer_blocks.0.attn.to_q.weight": [3072, 3072],
        "single_transformer_blocks.0.proj_out.weight": [3072, 15360],
        "time_text_embed.guidance_embedder.linear_1.weight": [3072, 256],
    },
    "lora": {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": [8, 320],
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": [320, 8],
    },
    "unknown": {"some.other.weight": [3, 3]},
}


def write_checkpoint(path: Path, kind: str, data_bytes: int = 2 * 1024**2) -> Path:
    """A .safetensors file whose header is real and whose data area is a sparse hole."""
    tensors: dict[str, Any] = {}
    for key, shape in HEADERS[kind].items():
        tensors[key] = {"dtype": "F16", "shape": shape, "data_offsets": [0, 0]}
    tensors["__metadata__"] = {"format": "pt"}
    header = json.dumps(tensors).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(header)))
        handle.write(header)
        handle.truncate(8 + len(header) + data_bytes)
    return path


def write_diffusers_folder(
    folder: Path, pipeline: str, **component_configs: dict[str, Any]
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": pipeline}))
    for component, config in component_configs.items():
        target = folder / component.replace("__", "/")
        target.mkdir(parents=True, exist_ok=True)
        name = "scheduler_config.json" if component == "scheduler" else "config.json"
        (target / name).write_text(json.dumps(config))
    return folder


def make_images(dataset: Path, folders: dict[str, list[tuple[int, int]]]) -> None:
    """folders: kohya folder name → image sizes. Tiny files: only the header is read."""
    for folder, sizes in folders.items():
        target = dataset / folder
        target.mkdir(parents=True, exist_ok=True)
        for index, (width, height) in enumerate(sizes):
            Image.new("RGB", (width, height), (index * 20 % 255, 90, 140)).save(
                target / f"{index:03d}.png", optimize=False, compress_level=1
            )
            (target / f"{index:03d}.txt").write_text(f"zktrig, image {index}\n")


def write_training_folder(project_dir: Path) -> Path:
    """The training folder as `loragate structure` writes it (issue 4's layout): every
    image of the dataset hard-linked into ``kohya/{repeats}_{concept}/`` with its caption
    written beside it. Written here by hand so the Gate 2 checks are tested against the
    layout's contract, not against code of their own."""
    dataset, layout = project_dir / "dataset", project_dir / "kohya"
    if layout.exists():
        for path in sorted(layout.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    for image in sorted(dataset.rglob("*.png")):
        relative = image.relative_to(dataset)
        concept, repeats = concept_of(relative)
        folder = layout / f"{repeats}_{concept}"
        folder.mkdir(parents=True, exist_ok=True)
        os.link(image, folder / image.name)
        caption = image.with_suffix(".txt")
        text = caption.read_text("utf-8") if caption.exists() else "zktrig\n"
        (folder / image.with_suffix(".txt").name).write_text(text, "utf-8")
    layout.mkdir(parents=True, exist_ok=True)
    return layout


def set_gpu(
    workspace: Workspace, name: str | None, vram_gb: float | None, hourly_cost: float = 0.0
) -> None:
    def mutate(front: Any) -> None:
        front["gpu"]["name"] = name
        front["gpu"]["vram_gb"] = vram_gb
        front["gpu"]["hourly_cost"] = hourly_cost

    update_doc(studio_path(workspace.grimoire_dir), mutate)


def new_project(
    workspace: Workspace,
    tmp: Path,
    *,
    name: str = "Ink wash",
    family: str = "sdxl",
    checkpoint: str | None = None,
    training_type: str = "style",
    backend: str = "native",
    folders: dict[str, list[tuple[int, int]]] | None = None,
    training_folder: bool = True,
) -> Project:
    """A project on a checkpoint of ``checkpoint`` kind (default: the family) with images
    and, unless ``training_folder`` is False, its training folder written."""
    model = write_checkpoint(
        tmp / "models" / f"{name.replace(' ', '_')}.safetensors", checkpoint or family
    )
    project, _ = create_project(
        workspace,
        Intent(
            name=name,
            training_type=training_type,
            trigger_word="zktrig",
            base_model=str(model),
            model_family=family,
            caption_format="natural",
            backend=backend,
        ),
    )
    side = {"sd15": 512, "sd2": 768}.get(family, 1024)
    make_images(
        workspace.project_dir(project.slug) / "dataset",
        folders
        if folders is not None
        else {"10_ink": [(side, side)] * 4 + [(side * 3 // 2, side)] * 2 + [(side, side * 3 // 2)]},
    )
    if training_folder:
        write_training_folder(workspace.project_dir(project.slug))
    return project


def sparse_size(path: Path) -> tuple[int, int]:
    """(apparent size, bytes actually allocated on disk)."""
    stat = os.stat(path)
    return stat.st_size, stat.st_blocks * 512


def project_on_a_4090(settings: Settings, tmp_path: Path) -> Project:
    """A Standard SDXL style project in ``settings``' grimoire, with an RTX 4090 (24 GB,
    0.69 USD an hour) in studio.md; for tests that then talk to a server or the CLI."""
    workspace = Workspace(settings)
    try:
        set_gpu(workspace, "NVIDIA GeForce RTX 4090", 24.0, 0.69)
        return new_project(workspace, tmp_path)
    finally:
        workspace.close()
