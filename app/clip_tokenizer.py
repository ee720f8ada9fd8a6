"""The real CLIP tokenizer (the one SD 1.x, SDXL and Flux's CLIP encoder read prompts
with), built offline from the BPE merges that ship with loragate.

``app/data/clip/bpe_simple_vocab_16e6.txt.gz`` is OpenAI CLIP's merge list as
distributed in the open_clip_torch wheel (MIT, see LICENSE-open_clip beside it). The
vocabulary is derived from it exactly as CLIP's ``SimpleTokenizer`` does; transformers'
CLIPTokenizer then does the tokenising. Ids match real CLIP:
"a photo of a cat" → 49406, 320, 1125, 539, 320, 2368, 49407.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources as importlib_resources
from pathlib import Path

from transformers import CLIPTokenizer

from app.fsutil import atomic_write_text
from app.settings import Settings

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MODEL_MAX_LENGTH = 77  # 75 usable + BOS + EOS
USABLE_TOKENS = MODEL_MAX_LENGTH - 2
EXTENDED_USABLE_TOKENS = 3 * USABLE_TOKENS  # sd-scripts' --max_token_length 225
_MERGE_COUNT = 49152 - 256 - 2  # CLIP keeps the first 48,894 merges


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP byte-level mapping: printable bytes map to themselves, the rest to
    # code points from 256 up, so every byte is a visible character.
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def _merges() -> list[str]:
    packed = importlib_resources.files("app") / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz"
    text = gzip.decompress(packed.read_bytes()).decode("utf-8")
    return text.split("\n")[1 : _MERGE_COUNT + 1]


def write_tokenizer_files(target: Path) -> Path:
    """Write vocab.json, merges.txt and the tokenizer configs into ``target``: the
    layout a diffusers ``tokenizer/`` subfolder has."""
    target.mkdir(parents=True, exist_ok=True)
    merges = _merges()
    symbols = list(_bytes_to_unicode().values())
    vocab_list = symbols + [s + "</w>" for s in symbols]
    vocab_list += ["".join(merge.split(" ")) for merge in merges]
    vocab_list += [BOS, EOS]
    vocab = {token: index for index, token in enumerate(vocab_list)}
    atomic_write_text(target / "vocab.json", json.dumps(vocab, ensure_ascii=False))
    atomic_write_text(target / "merges.txt", "#version: 0.2\n" + "\n".join(merges) + "\n")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MODEL_MAX_LENGTH,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "pad_token": EOS,
        "do_lower_case": True,
    }
    atomic_write_text(target / "tokenizer_config.json", json.dumps(config, indent=2))
    atomic_write_text(
        target / "special_tokens_map.json",
        json.dumps({"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}),
    )
    return target


def tokenizer_dir(settings: Settings | None = None) -> Path:
    """The built tokenizer folder, created on first use under the data folder."""
    settings = settings or Settings()
    target = settings.data_dir / "clip-tokenizer"
    if not (target / "merges.txt").is_file() or not (target / "vocab.json").is_file():
        write_tokenizer_files(target)
    return target


@cache
def _tokenizer(directory: str) -> CLIPTokenizer:
    return CLIPTokenizer.from_pretrained(directory)


def clip_tokenizer(settings: Settings | None = None) -> CLIPTokenizer:
    return _tokenizer(str(tokenizer_dir(settings)))


def count_tokens(text: str, settings: Settings | None = None) -> int:
    """Tokens the text takes in CLIP, without BOS/EOS (compare with USABLE_TOKENS).

    ``verbose=False``: counting a caption longer than 77 tokens is the point here, so
    transformers' "Token indices sequence length is longer than the specified maximum"
    warning (printed to stderr) is only noise."""
    tokenizer = clip_tokenizer(settings)
    ids = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    return len(ids)
