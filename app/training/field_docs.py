"""Plain-language help for every TrainingConfig field, read from
app/docs/parameters-guide.md (one ``### Title`` section per field, the field name on the
line after the heading), and the groups the Config page shows them in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt

from app.resources import RESOURCES_DIR, heading_slug

GUIDE = "parameters-guide"
_SECTION = re.compile(
    r"^### (?P<title>.+?)\n\n`(?P<field>[a-z0-9_]+)`\n(?P<body>.*?)(?=^##|\Z)", re.M | re.S
)
_PART = re.compile(r"^\*\*(?P<label>[^*]+?)\.\*\* (?P<text>.+?)(?=\n\n|\Z)", re.M | re.S)
_RELATIVE_HREF = re.compile(r'href="(?!https?:|/|#)')
_LABELS = {
    "What it does": "what",
    "Raising it": "raise_",
    "Lowering it": "lower",
    "Usual range": "usual",
}


@dataclass(frozen=True)
class FieldDoc:
    field: str
    title: str
    anchor: str
    what: str  # inline HTML (rendered from Markdown, HTML in the source disabled)
    raise_: str
    lower: str
    usual: str

    @property
    def source(self) -> str:
        return f"{GUIDE}#{self.anchor}"


FIELD_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Network", ("network_rank", "network_alpha", "train_text_encoder")),
    (
        "Learning",
        ("unet_lr", "text_encoder_lr", "optimizer", "lr_scheduler", "lr_warmup_steps"),
    ),
    ("Length", ("epochs", "train_batch_size", "gradient_accumulation_steps")),
    (
        "Resolution and buckets",
        (
            "resolution",
            "enable_bucket",
            "min_bucket_reso",
            "max_bucket_reso",
            "bucket_reso_steps",
            "bucket_no_upscale",
        ),
    ),
    (
        "Memory and speed",
        (
            "mixed_precision",
            "gradient_checkpointing",
            "cache_latents",
            "cache_text_encoder_outputs",
            "quantize_base",
            "full_bf16",
            "blocks_to_swap",
            "cpu_offload",
        ),
    ),
    ("Loss", ("noise_offset", "min_snr_gamma")),
    ("Captions", ("caption_dropout_rate", "shuffle_caption", "keep_tokens")),
    (
        "Saving and samples",
        (
            "seed",
            "save_every_n_epochs",
            "save_every_n_steps",
            "save_last_n",
            "sample_prompts",
            "sample_every_n_steps",
            "output_name",
        ),
    ),
    ("Hardware", ("device", "num_gpus")),
)


def _inline(markdown: str) -> str:
    renderer = MarkdownIt("commonmark", {"html": False, "typographer": True})
    html = renderer.renderInline(" ".join(markdown.split()))
    # Links between guides are relative to /docs/; the help is shown on other pages.
    return _RELATIVE_HREF.sub('href="/docs/', html)


@lru_cache(maxsize=4)
def _parse(text: str) -> dict[str, FieldDoc]:
    docs: dict[str, FieldDoc] = {}
    for match in _SECTION.finditer(text):
        parts = {
            _LABELS[part.group("label")]: _inline(part.group("text"))
            for part in _PART.finditer(match.group("body"))
            if part.group("label") in _LABELS
        }
        title = match.group("title").strip()
        docs[match.group("field")] = FieldDoc(
            field=match.group("field"),
            title=title,
            anchor=heading_slug(title),
            what=parts.get("what", ""),
            raise_=parts.get("raise_", ""),
            lower=parts.get("lower", ""),
            usual=parts.get("usual", ""),
        )
    return docs


def field_docs() -> dict[str, FieldDoc]:
    return _parse((RESOURCES_DIR / f"{GUIDE}.md").read_text("utf-8"))
