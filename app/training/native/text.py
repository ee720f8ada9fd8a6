"""Text-encoder conditioning, computed as diffusers' pipelines compute it: SD 1.5 takes
CLIP-L's last hidden state; SDXL concatenates the penultimate hidden states of both
encoders and adds OpenCLIP's projected pooled output.

When the text encoders are not trained and every caption is known up front (no tag
shuffling), each distinct text is encoded once and kept; the encoders can then leave
the GPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from app.training.native.models import BaseModel


@dataclass
class Conditioning:
    hidden: torch.Tensor  # (batch, tokens, width)
    pooled: torch.Tensor | None  # (batch, projection) for SDXL, else None


class TextEncoding:
    def __init__(self, model: BaseModel, device: torch.device, trainable: bool) -> None:
        self.model = model
        self.device = device
        self.trainable = trainable
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] | None = None

    @property
    def cached(self) -> bool:
        return self._cache is not None

    def cache(self, texts: Iterable[str]) -> None:
        """Encode every distinct text once; later batches read these results."""
        self._cache = {}
        for text in sorted(set(texts)):
            conditioning = self._encode([text], grad=False)
            pooled = conditioning.pooled[0].cpu() if conditioning.pooled is not None else None
            self._cache[text] = (conditioning.hidden[0].cpu(), pooled)

    def batch(self, texts: Sequence[str]) -> Conditioning:
        if self._cache is None:
            return self._encode(texts, grad=self.trainable)
        entries = [self._cache[text] for text in texts]
        hidden = torch.stack([entry[0] for entry in entries]).to(self.device)
        pooled = None
        if entries[0][1] is not None:
            pooled = torch.stack([entry[1] for entry in entries]).to(self.device)  # type: ignore[misc]
        return Conditioning(hidden, pooled)

    def _encode(self, texts: Sequence[str], grad: bool) -> Conditioning:
        with torch.set_grad_enabled(grad):
            if not self.model.is_sdxl:
                ids = self._ids(self.model.tokenizers[0], texts, self.model.text_encoders[0])
                return Conditioning(self.model.text_encoders[0](ids)[0], None)
            hidden_states = []
            pooled = None
            for tokenizer, encoder in zip(
                self.model.tokenizers, self.model.text_encoders, strict=True
            ):
                output = encoder(self._ids(tokenizer, texts, encoder), output_hidden_states=True)
                hidden_states.append(output.hidden_states[-2])
                pooled = output[0]  # the last encoder's projected pooled output
            return Conditioning(torch.cat(hidden_states, dim=-1), pooled)

    @staticmethod
    def _ids(tokenizer, texts: Sequence[str], encoder: torch.nn.Module) -> torch.Tensor:  # type: ignore[no-untyped-def]
        tokens = tokenizer(
            list(texts),
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        return tokens.input_ids.to(next(encoder.parameters()).device)
