"""A model-aware estimate of the GPU memory a LoRA run needs, per GPU, as a sum of parts:

- weights of every component that stays on the GPU, in the dtype it runs in (text
  encoders leave the GPU when their outputs are cached, the VAE when latents are);
- the LoRA's own weights and gradients (fp32, as trainers keep trainable parameters);
- optimizer states by optimizer: AdamW two fp32 states, AdamW8bit two 8-bit states,
  Lion one, Prodigy four, Adafactor a factored second moment (about 1/rank of AdamW's);
- activations kept for the backward pass, growing with pixels × batch, much smaller
  with gradient checkpointing, twice as large without mixed precision (every kept
  tensor is fp32); eager attention adds its attention maps (tokens², so pixels²), which
  memory-efficient kernels (SDPA, xformers) never keep; encoding images with the VAE
  when latents are not cached can be the larger of the two;
- what the memory settings take away: 8-bit or 4-bit base weights, full bf16 (LoRA
  weights, gradients and optimizer states in bf16), blocks swapped to system memory,
  the whole model offloaded between uses;
- the CUDA context, cuBLAS workspace and allocator slack.

The method and the published figures it is held to are in app/docs/vram-calculator.md;
the figures themselves, those the constants were set against and those held out to test
them, are in app/training/vram_published.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.training.config import Optimizer, Precision, Quantization, TrainingConfig
from app.training.memory_features import Attention, backend_attention, supports
from app.training.model_specs import family_spec

GB = 1024**3
CUDA_OVERHEAD_GB = 0.8
TEXT_ENCODER_ACTIVATION_GB = 0.1  # per trained text encoder and sample, 77 tokens
VAE_ENCODE_GB_PER_MP = 2.5  # per sample, fp16/bf16 encoder activations
BYTES_PER_WEIGHT = {"no": 4, "fp16": 2, "bf16": 2}
TRAINABLE_BYTES = 4  # LoRA weights are kept in fp32 and so are their gradients
FULL_BF16_BYTES = 2  # sd-scripts --full_bf16: LoRA weights, gradients and states in bf16
# Base weights quantised: fp8 one byte; NF4 half a byte plus one fp32 scale per 64
# weights, itself quantised (bitsandbytes double quantisation): about 0.53 bytes.
QUANTIZED_BYTES = {"fp8": 1.0, "nf4": 0.53}
FP32_ACTIVATION_FACTOR = 2.0  # without mixed precision every kept activation is fp32
CPU_OFFLOAD_RESIDENT = 0.1  # share of the image model on the GPU at once when offloaded


def optimizer_state_bytes(optimizer: Optimizer, rank: int) -> float:
    """Bytes of optimizer state per trainable parameter."""
    if optimizer == "adamw":
        return 8.0  # exp_avg + exp_avg_sq in fp32
    if optimizer == "adamw8bit":
        return 2.0  # both states quantised to 8 bits (bitsandbytes)
    if optimizer == "lion":
        return 4.0  # momentum only
    if optimizer == "prodigy":
        return 16.0  # exp_avg, exp_avg_sq, s and the initial weights p0
    # Adafactor (no momentum): a row and a column vector per (rank × n) matrix.
    return 4.0 / max(rank, 1)


@dataclass(frozen=True)
class VramInputs:
    family: str
    resolution: int
    batch_size: int = 1
    rank: int = 16
    optimizer: Optimizer = "adamw"
    precision: Precision = "bf16"
    gradient_checkpointing: bool = True
    train_text_encoder: bool = False
    cache_latents: bool = True
    cache_text_encoder_outputs: bool = False
    attention: Attention = "sdpa"
    quantize_base: Quantization = "none"
    full_bf16: bool = False
    blocks_to_swap: int = 0
    cpu_offload: bool = False

    @classmethod
    def from_config(
        cls, config: TrainingConfig, family: str, backend: str | None = None
    ) -> VramInputs:
        """The estimate's inputs for ``config`` run by ``backend``: its attention kernel,
        and only the memory settings that backend carries out (Gate 2 blocks the rest)."""

        def can(feature: str) -> bool:
            return backend is None or supports(backend, family, feature)

        quantize = config.quantize_base
        return cls(
            family=family,
            resolution=config.resolution,
            batch_size=config.train_batch_size,
            rank=config.network_rank,
            optimizer=config.optimizer,
            precision=config.mixed_precision,
            gradient_checkpointing=config.gradient_checkpointing,
            train_text_encoder=config.train_text_encoder,
            cache_latents=config.cache_latents,
            cache_text_encoder_outputs=config.cache_text_encoder_outputs,
            attention=backend_attention(backend),
            quantize_base=quantize if quantize != "none" and can(quantize) else "none",
            full_bf16=config.full_bf16 and can("full_bf16"),
            blocks_to_swap=config.blocks_to_swap if can("blocks_to_swap") else 0,
            cpu_offload=config.cpu_offload and can("cpu_offload"),
        )


@dataclass(frozen=True)
class VramEstimate:
    total_gb: float
    breakdown: dict[str, float]  # part → GB, in display order
    notes: list[str] = field(default_factory=list)
    # "calibrated on your GPU from N dry runs" when dry runs corrected it
    # (app/training/calibration.py); the model's own figure before the correction.
    calibration: str = ""
    model_total_gb: float | None = None

    @property
    def uncalibrated_gb(self) -> float:
        return self.total_gb if self.model_total_gb is None else self.model_total_gb

    def to_json(self) -> dict[str, object]:
        result: dict[str, object] = {
            "total_gb": round(self.total_gb, 2),
            "breakdown": {part: round(gb, 2) for part, gb in self.breakdown.items()},
            "notes": self.notes,
        }
        if self.calibration:
            result["calibration"] = self.calibration
            result["model_total_gb"] = round(self.model_total_gb or 0.0, 2)
        return result


def estimate_vram(inputs: VramInputs) -> VramEstimate:
    spec = family_spec(inputs.family)
    weight_bytes = BYTES_PER_WEIGHT[inputs.precision]
    megapixels = inputs.resolution**2 / 1e6
    notes: list[str] = []

    base_bytes = QUANTIZED_BYTES.get(inputs.quantize_base, weight_bytes)
    if inputs.quantize_base != "none":
        notes.append(f"The {spec.denoiser.name}'s weights are stored in {inputs.quantize_base}.")
    model_params = float(spec.denoiser.params)
    if inputs.blocks_to_swap and spec.swap_block_params:
        swapped = min(inputs.blocks_to_swap * spec.swap_block_params, model_params)
        model_params -= swapped
        notes.append(
            f"{inputs.blocks_to_swap} blocks ({swapped * base_bytes / GB:.1f} GB) wait in "
            "system memory and are swapped in when needed."
        )
    if inputs.cpu_offload:
        model_params *= CPU_OFFLOAD_RESIDENT
        notes.append(f"The {spec.denoiser.name} waits in system memory between uses.")
    model_gb = model_params * base_bytes / GB
    text_on_gpu = inputs.train_text_encoder or not inputs.cache_text_encoder_outputs
    text_gb = (
        sum(te.params for te in spec.text_encoders) * weight_bytes / GB if text_on_gpu else 0.0
    )
    if not text_on_gpu:
        notes.append("Text encoders leave the GPU once their outputs are cached.")
    vae_gb = 0.0 if inputs.cache_latents else spec.vae.params * weight_bytes / GB
    if inputs.cache_latents:
        notes.append("The VAE leaves the GPU once latents are cached.")

    lora_params = spec.lora_per_rank_denoiser * inputs.rank
    if inputs.train_text_encoder:
        lora_params += spec.lora_per_rank_text * inputs.rank
    trainable_bytes = FULL_BF16_BYTES if inputs.full_bf16 else TRAINABLE_BYTES
    state_bytes = optimizer_state_bytes(inputs.optimizer, inputs.rank)
    if inputs.full_bf16 and inputs.optimizer != "adamw8bit":
        state_bytes /= 2  # states take the parameters' dtype
    lora_gb = lora_params * trainable_bytes / GB
    gradients_gb = lora_params * trainable_bytes / GB
    optimizer_gb = lora_params * state_bytes / GB

    activations_gb = image_activations_gb(inputs, megapixels) * (
        FP32_ACTIVATION_FACTOR if inputs.precision == "no" else 1.0
    )
    if inputs.train_text_encoder:
        activations_gb += TEXT_ENCODER_ACTIVATION_GB * len(spec.text_encoders) * inputs.batch_size
    if not inputs.cache_latents:
        # Encoding happens before the denoiser's forward pass; the peak is the larger one.
        activations_gb = max(activations_gb, VAE_ENCODE_GB_PER_MP * megapixels * inputs.batch_size)

    breakdown = {
        spec.denoiser.name: model_gb,
        "text encoders": text_gb,
        "VAE": vae_gb,
        "LoRA weights": lora_gb,
        "gradients": gradients_gb,
        "optimizer states": optimizer_gb,
        "activations": activations_gb,
        "CUDA overhead": CUDA_OVERHEAD_GB,
    }
    return VramEstimate(total_gb=sum(breakdown.values()), breakdown=breakdown, notes=notes)


def image_activations_gb(inputs: VramInputs, megapixels: float) -> float:
    """The denoiser's activations for the whole batch, at 2 bytes per number."""
    spec = family_spec(inputs.family)
    batch = inputs.batch_size
    if inputs.gradient_checkpointing:
        extra = spec.activation_gb_per_extra_mp_checkpointed
        first = spec.activation_gb_per_mp_checkpointed
        linear = megapixels * (first + (batch - 1) * (first if extra is None else extra))
        eager = spec.eager_attention_gb_checkpointed
    else:
        linear = megapixels * spec.activation_gb_per_mp * batch
        eager = spec.eager_attention_gb
    if inputs.attention != "eager":
        return linear
    native_megapixels = spec.native_resolution**2 / 1e6
    return linear + eager * (megapixels / native_megapixels) ** 2 * batch


def estimate_for_config(
    config: TrainingConfig, family: str, backend: str | None = None
) -> VramEstimate:
    return estimate_vram(VramInputs.from_config(config, family, backend))
