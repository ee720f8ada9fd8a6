"""Proof that a saved LoRA file works outside loragate: diffusers' own
``load_lora_weights`` reads it into a separate model (never the one being trained),
every module in the file lands on a module of the model, and the model's output
changes.

Which separate model depends on where the run trains:

- on a GPU, a copy of the base model is loaded once per run on the CPU in bfloat16 (half
  the host memory of float32), and the LoRA is unloaded after each check;
- on the CPU, a second float32 copy would double the run's memory at every save (about
  28 GB for SDXL, more than many machines have), so the check builds a model around the
  training model's own frozen tensors: the same modules rebuilt without the training
  adapters, sharing every weight (no copy), with the saved file loaded into it fresh.
  The frozen weights are exactly the base model's (a LoRA never changes them), so this
  is the same check; and it is stronger: the fresh load must also reproduce the trained
  model's in-memory output (``reproduces``).

"Unmatched" counts the file's modules that diffusers placed nowhere or on a module of
another name, and the keys diffusers itself reports as unexpected or missing.
"""

from __future__ import annotations

import copy
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from peft.tuners.lora import LoraLayer
from safetensors import safe_open

from app.training.job import BaseModelRef
from app.training.native.kohya import kohya_name
from app.training.native.lora import LoraModule
from app.training.native.models import BaseModel, load_base_model
from app.training.native.text import TextEncoding

VERIFY_ADAPTER = "loragate_verify"
PROBE_SIZE = 8  # latent side: small enough for a real SDXL UNet on a CPU
PROBE_TIMESTEP = 500
# The fresh load against the in-memory model, both float32 on the CPU: the same maths
# in the same order, so only rounding may differ.
REPRODUCE_TOLERANCE = 1e-5


@dataclass
class Verification:
    expected_modules: int
    loaded_modules: int
    unmatched: list[str] = field(default_factory=list)
    changes_output: bool = False
    max_change: float = 0.0
    # Largest difference between the loaded file's output and the trained model's own
    # (None: not compared, a GPU run verified in a bfloat16 copy).
    difference_from_training: float | None = None

    @property
    def reproduces(self) -> bool:
        return (
            self.difference_from_training is None
            or self.difference_from_training <= REPRODUCE_TOLERANCE * max(1.0, self.max_change)
        )

    @property
    def ok(self) -> bool:
        return not self.unmatched and self.changes_output and self.reproduces

    def as_event(self) -> dict[str, Any]:
        return {
            "unmatched_keys": len(self.unmatched),
            "changes_output": self.changes_output,
            "max_change": self.max_change,
            "difference_from_training": self.difference_from_training,
        }


class Verifier:
    def __init__(
        self,
        ref: BaseModelRef,
        work_dir: Path,
        dtype: torch.dtype,
        prompt: str,
        trained: BaseModel | None = None,
    ) -> None:
        """``trained``: the training model of a CPU run, whose frozen weights the check
        shares instead of loading a second copy (``dtype`` is then float32)."""
        self.ref = ref
        self.work_dir = work_dir
        self.dtype = dtype
        self.prompt = prompt
        self.trained = trained
        self._model: BaseModel | None = None
        self._baseline: torch.Tensor | None = None

    def verify(self, lora_file: Path) -> Verification:
        if self.trained is None:
            return self._verify(self._load(), lora_file, in_memory=None)
        model = without_adapters(self.trained)
        self._baseline = self._probe(model)
        in_memory = self._probe(self.trained)
        try:
            return self._verify(model, lora_file, in_memory)
        finally:
            del model
            self._baseline = None

    def _verify(
        self, model: BaseModel, lora_file: Path, in_memory: torch.Tensor | None
    ) -> Verification:
        assert self._baseline is not None
        file_names = _module_names(lora_file)
        warnings: list[str] = []
        try:
            with _diffusers_warnings(warnings):
                model.pipeline.load_lora_weights(str(lora_file), adapter_name=VERIFY_ADAPTER)
        except (ValueError, KeyError, RuntimeError) as exc:
            return Verification(len(file_names), 0, [f"diffusers refused the file: {exc}"])
        try:
            placed = set(self._placed_names(model))
            unmatched = sorted(file_names - placed) + sorted(placed - file_names)
            unmatched += [w for w in warnings if "unexpected keys" in w or "missing keys" in w]
            output = self._probe(model)
            change = float((output - self._baseline).abs().max())
        finally:
            model.pipeline.unload_lora_weights()
        difference = None if in_memory is None else float((output - in_memory).abs().max())
        return Verification(len(file_names), len(placed), unmatched, change > 0, change, difference)

    def _load(self) -> BaseModel:
        if self._model is None:
            self._model = load_base_model(self.ref, self.work_dir, self.dtype)
            self._baseline = self._probe(self._model)
        return self._model

    def _placed_names(self, model: BaseModel) -> list[str]:
        layers_per_block = int(model.unet.config.layers_per_block)
        components = {"unet": model.unet}
        for name in ("text_encoder", "text_encoder_2")[: len(model.text_encoders)]:
            components[name] = getattr(model.pipeline, name)
        names = []
        for component, module in components.items():
            for path, layer in module.named_modules():
                if isinstance(layer, LoraLayer) and VERIFY_ADAPTER in layer.lora_A:
                    lora = LoraModule(component, path, layer)
                    names.append(kohya_name(lora, model.family, layers_per_block))
        return names

    @torch.no_grad()
    def _probe(self, model: BaseModel) -> torch.Tensor:
        """The UNet's prediction for a fixed latent, timestep and the trigger prompt."""
        generator = torch.Generator().manual_seed(0)
        latent = torch.randn(1, 4, PROBE_SIZE, PROBE_SIZE, generator=generator).to(self.dtype)
        conditioning = TextEncoding(model, torch.device("cpu"), trainable=False).batch(
            [self.prompt]
        )
        extra = {}
        if conditioning.pooled is not None:
            side = PROBE_SIZE * model.pipeline.vae_scale_factor
            time_ids = torch.tensor([[side, side, 0, 0, side, side]], dtype=self.dtype)
            extra["added_cond_kwargs"] = {"text_embeds": conditioning.pooled, "time_ids": time_ids}
        output = model.unet(
            latent, PROBE_TIMESTEP, encoder_hidden_states=conditioning.hidden, **extra
        ).sample
        return output.float()


def without_adapters(trained: BaseModel) -> BaseModel:
    """A model whose UNet and text encoders are ``trained``'s modules rebuilt without the
    training adapters, sharing every weight tensor with them (nothing is copied: the
    deep copy is told every parameter and buffer is already "copied" as itself)."""
    pipeline = copy.copy(trained.pipeline)
    names = ["unet", "text_encoder", "text_encoder_2"][: 1 + len(trained.text_encoders)]
    for name in names:
        setattr(pipeline, name, _stripped(getattr(trained.pipeline, name)))
    return BaseModel(trained.family, trained.prediction_type, pipeline, trained.noise_scheduler)


def _stripped(module: torch.nn.Module) -> torch.nn.Module:
    shared = {id(tensor): tensor for tensor in (*module.parameters(), *module.buffers())}
    clone = copy.deepcopy(module, shared)
    layers = [
        (path, layer) for path, layer in clone.named_modules() if isinstance(layer, LoraLayer)
    ]
    for path, layer in layers:
        parent, _, name = path.rpartition(".")
        setattr(clone.get_submodule(parent), name, layer.get_base_layer())
    # peft records the injected adapter's config on the model; diffusers would take the
    # clone for one that already has adapters.
    for attribute in ("peft_config", "_hf_peft_config_loaded"):
        clone.__dict__.pop(attribute, None)
    return clone


def _module_names(lora_file: Path) -> set[str]:
    with safe_open(str(lora_file), framework="pt") as handle:
        keys = handle.keys()  # safe_open is not iterable itself
    return {key.split(".")[0] for key in keys if key.endswith(".lora_down.weight")}


@contextmanager
def _diffusers_warnings(sink: list[str]):  # type: ignore[no-untyped-def]
    """Collect diffusers' warnings (unexpected / missing LoRA keys) while loading."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sink.append(record.getMessage())

    logger = logging.getLogger("diffusers")
    handlers, level = logger.handlers[:], logger.level
    # Only the collector listens: diffusers' own notes (e.g. that a file has no text
    # encoder keys) are expected here and would only clutter the run's log.
    logger.handlers = [Collect(level=logging.WARNING)]
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.handlers, logger.level = handlers, level
