"""LoRA adapters on the frozen base model, with peft: the UNet's attention projections
(to_q, to_k, to_v, to_out.0: what sd-scripts' default LoRA and diffusers' training
scripts target in attention) and, when asked, the text encoders' attention
projections (q/k/v/out_proj).

peft's layer computes ``base(x) + up(down(x)) · alpha / rank``; ``down`` starts random
(seeded) and ``up`` at zero, so an untrained adapter changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer

from app.training.native.models import BaseModel

ADAPTER = "default"
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


@dataclass(frozen=True)
class LoraModule:
    component: str  # "unet", "text_encoder" or "text_encoder_2"
    path: str  # the adapted module's path inside its component
    layer: LoraLayer

    @property
    def key(self) -> str:
        return f"{self.component}.{self.path}"

    @property
    def down(self) -> torch.Tensor:
        return self.layer.lora_A[ADAPTER].weight

    @property
    def up(self) -> torch.Tensor:
        return self.layer.lora_B[ADAPTER].weight

    @property
    def rank(self) -> int:
        return int(self.layer.r[ADAPTER])

    @property
    def alpha(self) -> float:
        return float(self.layer.lora_alpha[ADAPTER])


def attach_lora(
    model: BaseModel, rank: int, alpha: float, train_text_encoder: bool, seed: int
) -> list[LoraModule]:
    components: dict[str, tuple[torch.nn.Module, list[str]]] = {"unet": (model.unet, UNET_TARGETS)}
    if train_text_encoder:
        names = ["text_encoder", "text_encoder_2"][: len(model.text_encoders)]
        for name, encoder in zip(names, model.text_encoders, strict=True):
            components[name] = (encoder, TEXT_TARGETS)
    for module in (model.unet, model.vae, *model.text_encoders):
        module.requires_grad_(False)
    # The adapters' random init must not move the run's global random streams.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module, targets in components.values():
            config = LoraConfig(
                r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, bias="none"
            )
            inject_adapter_in_model(config, module, adapter_name=ADAPTER)
    found = []
    for name, (module, _) in components.items():
        for path, layer in module.named_modules():
            if isinstance(layer, LoraLayer):
                found.append(LoraModule(name, path, layer))
    for lora in found:
        lora.down.requires_grad_(True)
        lora.up.requires_grad_(True)
    return found


def lora_parameters(modules: list[LoraModule], component_prefix: str) -> list[torch.nn.Parameter]:
    params: list[torch.nn.Parameter] = []
    for lora in modules:
        if lora.component.startswith(component_prefix):
            params.extend([lora.layer.lora_A[ADAPTER].weight, lora.layer.lora_B[ADAPTER].weight])
    return params


def upcast_lora(modules: list[LoraModule]) -> None:
    """Adapter weights train in float32 even when the frozen base runs in fp16/bf16."""
    for lora in modules:
        lora.layer.lora_A[ADAPTER].float()
        lora.layer.lora_B[ADAPTER].float()


def lora_state(modules: list[LoraModule]) -> dict[str, torch.Tensor]:
    state = {}
    for lora in modules:
        state[f"{lora.key}.down"] = lora.down.detach().float().cpu().contiguous()
        state[f"{lora.key}.up"] = lora.up.detach().float().cpu().contiguous()
    return state


def load_lora_state(modules: list[LoraModule], state: dict[str, torch.Tensor]) -> None:
    expected = {f"{m.key}.{part}" for m in modules for part in ("down", "up")}
    if set(state) != expected:
        raise ValueError("the checkpoint's adapters do not match this run's adapters")
    with torch.no_grad():
        for lora in modules:
            lora.down.copy_(state[f"{lora.key}.down"])
            lora.up.copy_(state[f"{lora.key}.up"])
