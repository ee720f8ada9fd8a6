"""Findings about the caption sidecars that exist (writing captions is the caption
phase's job; the audit checks what is there)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from app.captions.sidecar_decode import CLIP_USABLE_TOKENS, ENCODING_WORDS, Sidecar, read_sidecar
from app.dataset.check_catalogue import finding
from app.dataset.files import FileEntry, caption_path_for
from app.findings import Finding
from app.paths import safe_join
from app.settings import Settings

# Flux reads prompts with T5 (512 tokens for dev); its CLIP part only gives the pooled
# summary, so a caption longer than CLIP's 75 tokens is normal there.
FLUX_T5_TOKENS = 512
EXTENDED_TOKENS = 3 * CLIP_USABLE_TOKENS  # sd-scripts' --max_token_length 225
# Said of every caption that is not plain UTF-8: what taking it in does about it.
REWRITTEN = "When loragate takes the caption in, it rewrites the file as plain UTF-8."
# iconv's names for the encodings a caption can be found in (app/captions/sidecar_decode.py).
ICONV_NAMES = {
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "utf-32-le": "UTF-32",
    "utf-32-be": "UTF-32",
    "cp1252": "WINDOWS-1252",
    "latin-1": "LATIN1",
}


def caption_findings(
    root: Path,
    images: Iterable[str],
    captions: dict[str, FileEntry],
    all_files: Iterable[str],
    trigger: str,
    family: str,
    settings: Settings | None = None,
    *,
    rewritten: bool = False,
) -> tuple[list[Finding], dict[str, Sidecar]]:
    """Findings for the captions of ``images`` (the ones that will train) and for caption
    files that belong to no file at all. Returns the sidecars read, by image path.

    ``rewritten``: loragate takes these captions in and rewrites them as plain UTF-8 (a
    project), so another encoding is only a warning; otherwise the folder is trained as
    it is, and sd-scripts stops on a caption that is not UTF-8."""
    found: list[Finding] = []
    read: dict[str, Sidecar] = {}
    for image in images:
        caption = caption_path_for(image)
        if caption not in captions:
            found.append(
                finding("caption.missing", image, f"{image} has no caption file ({caption}).")
            )
            continue
        try:
            sidecar = read_sidecar(safe_join(root, caption), trigger, settings)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            found.append(
                finding(
                    "file.unreadable",
                    caption,
                    f"loragate cannot read the caption {caption} ({reason}); {image} was "
                    "checked without it.",
                    fix=f"Give your user read access (chmod u+r '{caption}'), or write the "
                    "caption again, then audit again.",
                )
            )
            continue
        read[image] = sidecar
        found.extend(_encoding_findings(image, caption, sidecar, rewritten))
        found.extend(_sidecar_findings(image, caption, sidecar, trigger, family))
    owners = {caption_path_for(path) for path in all_files}
    for caption in sorted(set(captions) - owners):
        found.append(
            finding("caption.orphan", caption, f"{caption} has no image with the same name.")
        )
    return found, read


def _sidecar_findings(
    image: str, caption: str, sidecar: Sidecar, trigger: str, family: str
) -> list[Finding]:
    # The subject is the image (what the artist sees); the message names the caption file.
    found = []
    if sidecar.is_empty:
        found.append(finding("caption.empty", image, f"{caption} is empty."))
        return found
    if not sidecar.first_line:
        found.append(
            finding(
                "caption.empty",
                image,
                f"The first line of {caption} is empty, and trainers read only that line.",
            )
        )
        return found
    if not sidecar.trigger_in_first_line:
        where = (
            f" It is on line {sidecar.trigger_line}, which trainers never read."
            if sidecar.trigger_line
            else ""
        )
        found.append(
            finding(
                "caption.missing_trigger",
                image,
                f"{caption} does not contain the trigger word “{trigger}”.{where}",
            )
        )
    if sidecar.extra_lines:
        found.append(
            finding(
                "caption.multiline",
                image,
                f"{caption} has {sidecar.extra_lines + 1} lines; only the first is used.",
            )
        )
    tokens = sidecar.tokens
    if tokens is None:
        return found
    if family == "flux":
        if tokens > FLUX_T5_TOKENS:
            found.append(
                finding(
                    "caption.too_long",
                    image,
                    f"{caption} is about {tokens} tokens; Flux's T5 encoder reads "
                    f"{FLUX_T5_TOKENS}.",
                    why="Flux's T5 text encoder reads at most 512 tokens (FLUX.1-dev); the rest "
                    "is cut.",
                    fix="Shorten the caption.",
                )
            )
    elif tokens > EXTENDED_TOKENS:
        found.append(
            finding(
                "caption.far_too_long",
                image,
                f"{caption} is {tokens} CLIP tokens; at most {EXTENDED_TOKENS} can be read.",
            )
        )
    elif tokens > CLIP_USABLE_TOKENS:
        found.append(
            finding(
                "caption.too_long",
                image,
                f"{caption} is {tokens} CLIP tokens; CLIP reads {CLIP_USABLE_TOKENS} at a time.",
            )
        )
    return found


def _encoding_findings(
    image: str, caption: str, sidecar: Sidecar, rewritten: bool
) -> list[Finding]:
    encoding = sidecar.encoding
    if sidecar.is_utf8:
        return []
    if encoding == "utf-8-bom":
        first_tag = sidecar.first_line.split(",")[0].strip()
        return [
            finding(
                "caption.byte_order_mark",
                image,
                f"{caption} starts with a UTF-8 byte-order mark (an invisible character some "
                f"Windows editors add); trainers read it as part of its first tag, "
                f"“{first_tag[:40]}”. "
                + (REWRITTEN if rewritten else "This folder is trained as it is."),
            )
        ]
    words = ENCODING_WORDS.get(encoding, encoding)
    if encoding.startswith("utf-"):  # announced by a byte-order mark: nothing assumed
        found = f"{caption} is {words} text, not UTF-8; loragate read it as such"
    else:
        found = f"{caption} is not valid UTF-8; loragate read it as {words}"
    if rewritten:
        return [
            finding("caption.not_utf8", image, f"{found}: “{sidecar.first_line[:80]}”. {REWRITTEN}")
        ]
    # A folder trained as it is: sd-scripts' read_caption opens it as UTF-8 and raises.
    convert = (
        f"`iconv -f {ICONV_NAMES.get(encoding, encoding)} -t UTF-8 {caption} > fixed.txt`, "
        "then put fixed.txt in its place"
    )
    return [
        finding(
            "caption.not_utf8",
            image,
            f"{found}: “{sidecar.first_line[:80]}”. Trained as it is, this file stops "
            "kohya sd-scripts with UnicodeDecodeError when it loads the dataset.",
            severity="block",
            why="kohya sd-scripts opens every caption as UTF-8 (library/train_util.py "
            "read_caption) and stops the run at the first file that is not; other trainers "
            "read it as garbled text.",
            fix=f"Save {caption} as UTF-8 in a text editor (Save as → encoding UTF-8), or "
            f"convert it: {convert}. Or import the folder into a loragate project, which "
            "rewrites every caption as plain UTF-8.",
        )
    ]
