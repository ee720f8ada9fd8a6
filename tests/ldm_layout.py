"""Diffusers state dicts back to the original single-file layout (LDM for SD 1.x, sgm
for SDXL): the key names a downloaded ``.safetensors`` checkpoint has, so tests can
write tiny single-file checkpoints and exercise diffusers' real ``from_single_file``
conversion on them.

The renames invert diffusers' ``loaders/single_file_utils.py``
(``convert_ldm_unet_checkpoint``, ``convert_ldm_vae_checkpoint``,
``convert_ldm_clip_checkpoint``, ``convert_open_clip_checkpoint``), generalised from
the fixed SD block counts of diffusers' ``scripts/convert_diffusers_to_original_*``
to any block count and layers per block.
"""

from __future__ import annotations

import re

import torch

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
SD15_TEXT_PREFIX = "cond_stage_model.transformer.text_model."
SDXL_TEXT1_PREFIX = "conditioner.embedders.0.transformer.text_model."
SDXL_TEXT2_PREFIX = "conditioner.embedders.1.model."

_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}


def _rename_resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{_UNET_RESNET.get(head, head)}.{tail}"


def unet_to_ldm(state: dict[str, torch.Tensor], layers_per_block: int) -> dict[str, torch.Tensor]:
    """UNet2DConditionModel keys → ``model.diffusion_model.*`` keys."""
    names = unet_ldm_names(list(state), layers_per_block)
    return {UNET_PREFIX + names[key]: value for key, value in state.items()}


def unet_ldm_names(keys: list[str], layers_per_block: int) -> dict[str, str]:
    """Each UNet2DConditionModel key's name in the original layout (without the
    ``model.diffusion_model.`` prefix)."""
    per_block = layers_per_block + 1  # down: resnets + downsampler; up: one resnet more
    names = {}
    for key in keys:
        module, _, param = key.rpartition(".")
        if module in _UNET_TOP:
            names[key] = f"{_UNET_TOP[module]}.{param}"
        elif match := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
            block, kind, layer, rest = match.groups()
            index = 1 + int(block) * per_block + int(layer)
            if kind == "resnets":
                names[key] = f"input_blocks.{index}.0.{_rename_resnet(rest)}"
            else:
                names[key] = f"input_blocks.{index}.1.{rest}"
        elif match := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
            block, param = match.groups()
            names[key] = (
                f"input_blocks.{1 + int(block) * per_block + layers_per_block}.0.op.{param}"
            )
        elif match := re.match(r"mid_block\.resnets\.(\d+)\.(.+)", key):
            layer, rest = match.groups()
            names[key] = f"middle_block.{2 * int(layer)}.{_rename_resnet(rest)}"
        elif match := re.match(r"mid_block\.attentions\.0\.(.+)", key):
            names[key] = f"middle_block.1.{match.group(1)}"
        elif match := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
            block, kind, layer, rest = match.groups()
            index = int(block) * per_block + int(layer)
            if kind == "resnets":
                names[key] = f"output_blocks.{index}.0.{_rename_resnet(rest)}"
            else:
                names[key] = f"output_blocks.{index}.1.{rest}"
        elif match := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
            block, param = match.groups()
            index = int(block) * per_block + layers_per_block
            # The upsampler follows the resnet and, in cross-attention blocks, the attention.
            has_attention = any(
                k.startswith(f"up_blocks.{block}.attentions.{layers_per_block}.") for k in keys
            )
            names[key] = f"output_blocks.{index}.{2 if has_attention else 1}.conv.{param}"
        else:
            raise KeyError(f"no LDM name for UNet key {key}")
    return names


_VAE_RESNET = {"conv_shortcut": "nin_shortcut"}
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def vae_to_ldm(state: dict[str, torch.Tensor], up_blocks: int) -> dict[str, torch.Tensor]:
    """AutoencoderKL keys → ``first_stage_model.*`` keys (attention as 1×1 convs)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key.replace("conv_norm_out", "norm_out")
        if match := re.match(
            r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)$", key
        ):
            part, module, param = match.groups()
            new = f"{part}.mid.attn_1.{_VAE_ATTENTION[module]}.{param}"
            if param == "weight" and value.ndim == 2:
                value = value[:, :, None, None]
        elif match := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
            part, layer, rest = match.groups()
            new = f"{part}.mid.block_{int(layer) + 1}.{_vae_resnet(rest)}"
        elif match := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
            block, layer, rest = match.groups()
            new = f"encoder.down.{block}.block.{layer}.{_vae_resnet(rest)}"
        elif match := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
            new = f"encoder.down.{match.group(1)}.downsample.conv.{match.group(2)}"
        elif match := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
            block, layer, rest = match.groups()
            new = f"decoder.up.{up_blocks - 1 - int(block)}.block.{layer}.{_vae_resnet(rest)}"
        elif match := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
            block, param = match.groups()
            new = f"decoder.up.{up_blocks - 1 - int(block)}.upsample.conv.{param}"
        out[VAE_PREFIX + new] = value
    return out


def _vae_resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{_VAE_RESNET.get(head, head)}.{tail}"


def clip_to_ldm(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """CLIPTextModel keys (transformers 5 drops the ``text_model.`` level) → the
    ``...transformer.text_model.*`` keys SD 1.x and SDXL's first encoder use."""
    return {prefix + key.removeprefix("text_model."): value for key, value in state.items()}


_OPEN_CLIP_LAYER = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}


def open_clip_to_ldm(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """CLIPTextModelWithProjection keys → OpenCLIP keys (q/k/v fused into in_proj, the
    projection transposed), as SDXL's second text encoder is stored."""
    out: dict[str, torch.Tensor] = {}
    fused: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        name = key.removeprefix("text_model.")
        if name == "embeddings.token_embedding.weight":
            out[prefix + "token_embedding.weight"] = value
        elif name == "embeddings.position_embedding.weight":
            out[prefix + "positional_embedding"] = value
        elif name.startswith("final_layer_norm."):
            out[prefix + name.replace("final_layer_norm", "ln_final")] = value
        elif name == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
        elif match := re.match(
            r"encoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)", name
        ):
            layer, which, param = match.groups()
            fused.setdefault(f"{layer}.{param}", {})[which] = value
        elif match := re.match(r"encoder\.layers\.(\d+)\.(.+)\.(weight|bias)", name):
            layer, module, param = match.groups()
            out[f"{prefix}transformer.resblocks.{layer}.{_OPEN_CLIP_LAYER[module]}.{param}"] = value
        else:
            raise KeyError(f"no OpenCLIP name for text encoder key {key}")
    for layer_param, parts in fused.items():
        layer, param = layer_param.split(".")
        stacked = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
        out[f"{prefix}transformer.resblocks.{layer}.attn.in_proj_{param}"] = stacked
    return out
