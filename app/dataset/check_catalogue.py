"""Every dataset check loragate runs: its stable code, its usual severity, why it matters,
what to do, and the section of ``app/docs/`` that backs it. The modules that detect
problems (per_image_checks, whole_dataset_checks, duplicates, app.captions.sidecar_checks)
only add the specific message ("… is 300×200 pixels …") through ``finding``.

Thresholds live next to the checks that use them and are explained in
``app/docs/dataset-audit.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.findings import Finding, Severity


@dataclass(frozen=True)
class Check:
    code: str
    severity: Severity
    why: str
    fix: str
    source: str


_CHECKS = (
    # Files that cannot be used at all.
    Check(
        "image.empty",
        "block",
        why="An empty file holds no picture. Trainers stop with an error when they reach it, "
        "sometimes hours into a run.",
        fix="Delete it, or copy the picture again from where it came from.",
        source="dataset-audit#files-that-cannot-be-read",
    ),
    Check(
        "image.not_an_image",
        "block",
        why="The name says image but the content is something else. Trainers pick files by "
        "their name, then fail when they try to decode it.",
        fix="Delete it, or replace it with the real image.",
        source="dataset-audit#files-that-cannot-be-read",
    ),
    Check(
        "image.truncated",
        "block",
        why="Part of the file is missing (an interrupted download or copy). Trainers either "
        "crash on it or learn a picture with a grey or garbled bottom part.",
        fix="Copy or download the image again; check it opens fully in an image viewer.",
        source="dataset-audit#files-that-cannot-be-read",
    ),
    Check(
        "image.undecodable",
        "block",
        why="The file is damaged or uses a variant of its format that cannot be decoded, so "
        "no trainer can read it.",
        fix="Open it in an image editor and save it again as PNG or JPEG, or delete it.",
        source="dataset-audit#files-that-cannot-be-read",
    ),
    Check(
        "image.decompression_bomb",
        "block",
        why="Its header claims more pixels than any training image needs. Decoding it would "
        "take gigabytes of memory (a 'decompression bomb'); loragate refuses to decode it.",
        fix="If it is a real picture, scale it down below the limit in an image editor; "
        "otherwise delete it.",
        source="dataset-audit#decompression-bombs",
    ),
    Check(
        "file.too_large",
        "block",
        why="No training image needs a file this large. It is damaged, padded with empty "
        "space, or not a picture at all; reading it would cost that much memory and disk.",
        fix="Check what the file is. If it is a real image, save it again as PNG or JPEG (far "
        "smaller); if the limit is too low for your work, raise LORAGATE_MAX_FILE_BYTES.",
        source="dataset-audit#decompression-bombs",
    ),
    Check(
        "image.not_measured",
        "warn",
        why="Only JPEG can be decoded at a reduced size. Decoding a picture this large in full "
        "takes hundreds of megabytes per image, so loragate measures images up to a fixed "
        "number of pixels; this one was checked from its header only: its sharpness, "
        "exposure, transparency and duplicates were not. Trainers shrink it to about one "
        "megapixel anyway.",
        fix="Scale it down in an image editor (a long side of 4096 pixels is plenty for every "
        "model) and audit again, so every check can run.",
        source="dataset-audit#decompression-bombs",
    ),
    Check(
        "file.unreadable",
        "block",
        why="loragate cannot read it with your user's rights, and neither can a trainer "
        "running as you: it stops with an error when it reaches the file, or skips a "
        "folder it cannot open without a word.",
        fix="Give your user read access (for a file: chmod u+r FILE; for a folder: "
        "chmod -R u+rX FOLDER), or move it out of the dataset, then audit again.",
        source="dataset-audit#files-that-cannot-be-read",
    ),
    Check(
        "file.not_regular",
        "block",
        why="A named pipe, a socket or a device is not a file with content. Opening a named "
        "pipe waits for a writer, so a trainer (or any program) that opens it hangs for "
        "good. loragate lists it and never opens it.",
        fix="Remove it from the dataset folder (rm FILE); it holds no picture.",
        source="dataset-audit#files-that-cannot-be-read",
    ),
    Check(
        "image.unsupported_format",
        "block",
        why="Trainers pick images by file extension (PNG, JPEG, WebP, BMP). A file in another "
        "format is skipped without a word, so it silently does not train.",
        fix="Convert it to PNG (lossless) or a high-quality JPEG.",
        source="dataset-audit#formats-trainers-read",
    ),
    Check(
        "image.wrong_extension",
        "info",
        why="The file's content and its extension disagree. Pillow reads it by content, so "
        "training works, but other tools may refuse it.",
        fix="Rename it with the extension of its real format.",
        source="dataset-audit#formats-trainers-read",
    ),
    Check(
        "file.not_an_image",
        "info",
        why="Trainers only read images and their caption files; anything else in the folder is "
        "ignored.",
        fix="Nothing to do, unless you expected this file to be an image.",
        source="dataset-audit#links-and-junk-files",
    ),
    Check(
        "file.symlink_outside",
        "block",
        why="A link that points outside the dataset folder makes the dataset depend on files "
        "loragate does not manage and cannot check; loragate does not follow it.",
        fix="Replace the link with a copy of the image (import it), or delete the link.",
        source="dataset-audit#links-and-junk-files",
    ),
    Check(
        "file.bad_name",
        "block",
        why="Its name is made of bytes that are not UTF-8 text (usually a name from an older "
        "Windows or Mac system, in another character set). loragate cannot record such a "
        "name or write it into a training config, so it left the file out unchecked; trainers "
        "may pair it with the wrong caption or fail on it.",
        fix="Rename the file. When loragate imports a folder it copies such a file under a "
        "clean name (its bytes read as Windows-1252) and lists the rename.",
        source="dataset-audit#file-names",
    ),
    Check(
        "file.symlink_inside",
        "warn",
        why="A link to another file of the dataset makes trainers use that image twice, like a "
        "duplicate.",
        fix="Delete the link.",
        source="dataset-audit#links-and-junk-files",
    ),
    # Pictures that decode but will train badly.
    Check(
        "image.animated",
        "warn",
        why="Trainers read only the first frame of an animation; the other frames are ignored.",
        fix="Export the frame you want as a PNG (and the others as separate images if you want "
        "them too).",
        source="dataset-audit#animated-images",
    ),
    Check(
        "image.colour_mode",
        "info",
        why="Trainers convert every image to 8-bit RGB before training. The conversion is "
        "automatic; for some modes it changes how the picture looks.",
        fix="Nothing to do unless the converted colours matter to you; then convert it to RGB "
        "yourself in an image editor that applies its colour profile.",
        source="dataset-audit#colour-modes",
    ),
    Check(
        "image.transparency",
        "warn",
        why="Trainers drop the transparency (alpha) band: see-through areas show whatever colour "
        "is stored under them, often black, and the LoRA learns that background.",
        fix="Put the image on the background you want (for example plain white or a scene) and "
        "save it without transparency.",
        source="dataset-audit#transparency",
    ),
    Check(
        "image.slight_transparency",
        "info",
        why="Trainers drop the transparency band, so these few pixels show the colour stored "
        "under them. They cover too little of the image to be learned.",
        fix="Nothing to do.",
        source="dataset-audit#transparency",
    ),
    Check(
        "image.unused_alpha",
        "info",
        why="The image has a transparency band but every pixel is fully opaque, so dropping it "
        "changes nothing.",
        fix="Nothing to do.",
        source="dataset-audit#transparency",
    ),
    Check(
        "image.exif_rotated",
        "warn",
        why="The picture is stored sideways with a note (EXIF orientation) that tells viewers to "
        "turn it. kohya sd-scripts loads the stored pixels without reading the note, so it "
        "trains on the sideways picture.",
        fix="Open it and save it again with the rotation applied (most editors do this on "
        "export), so the pixels themselves are upright.",
        source="dataset-audit#exif-orientation",
    ),
    Check(
        "image.too_small",
        "block",
        why="The model was trained on much larger pictures. This one would be enlarged more than "
        "twice over on each side, and the LoRA learns the blur of the enlargement.",
        fix="Use a larger original, or leave this image out.",
        source="dataset-audit#resolution",
    ),
    Check(
        "image.small",
        "warn",
        why="The model was trained on larger pictures. This one will be enlarged to fit, which "
        "softens it a little.",
        fix="Use a larger original if you have one; otherwise it can stay.",
        source="dataset-audit#resolution",
    ),
    Check(
        "image.extreme_aspect",
        "warn",
        why="Bucketing trains each image at the nearest supported shape and crops the rest, so "
        "a very long or very tall picture loses part of its content, or trains in a bucket "
        "of its own.",
        fix="Crop it to the part that matters, or split a panorama into several images.",
        source="dataset-audit#aspect-ratio-and-buckets",
    ),
    Check(
        "image.blurry",
        "warn",
        why="The LoRA learns blur as part of the look: generated images come out soft.",
        fix="Replace it with a sharper version or leave it out, unless softness is part of the "
        "style you train.",
        source="dataset-audit#blur",
    ),
    Check(
        "image.blurry_for_this_dataset",
        "warn",
        why="It is much softer than the other images of this dataset, so it pulls the LoRA "
        "towards blur.",
        fix="Replace it with a sharper version or leave it out.",
        source="dataset-audit#blur",
    ),
    Check(
        "image.jpeg_compressed",
        "warn",
        why="Heavy JPEG compression leaves blocks and halos around edges; the LoRA learns them "
        "as part of the look.",
        fix="Use the original or a version saved at a higher quality (85 or more).",
        source="dataset-audit#jpeg-compression",
    ),
    Check(
        "image.too_dark",
        "warn",
        why="Almost everything in it is near black, so there is little the LoRA can learn "
        "from it, and it pulls generations darker.",
        fix="Check that it is the intended picture; brighten it or leave it out.",
        source="dataset-audit#too-dark-too-bright-low-information",
    ),
    Check(
        "image.too_bright",
        "warn",
        why="Almost everything in it is near white (often overexposed), so there is little "
        "to learn from it, and it pulls generations towards washed-out images.",
        fix="Check that it is the intended picture; use a better exposure or leave it out.",
        source="dataset-audit#too-dark-too-bright-low-information",
    ),
    Check(
        "image.low_information",
        "warn",
        why="It has very few distinct tones and almost no edges (a blank, flat or nearly "
        "uniform picture): it teaches the LoRA next to nothing.",
        fix="Check that it is the intended picture; leave it out if it is blank.",
        source="dataset-audit#too-dark-too-bright-low-information",
    ),
    # Captions.
    Check(
        "caption.missing",
        "block",
        why="Without a caption the image trains with an empty prompt: the trigger word is not "
        "linked to it. kohya sd-scripts only warns 'No caption file found' and trains on.",
        fix="Write a caption file with the same name as the image and the .txt extension.",
        source="dataset-audit#missing-and-empty-captions",
    ),
    Check(
        "caption.empty",
        "block",
        why="An empty caption trains the image with no words at all, so the trigger word is "
        "not linked to it.",
        fix="Write the caption: the trigger word, then what the image shows.",
        source="dataset-audit#missing-and-empty-captions",
    ),
    Check(
        "caption.missing_trigger",
        "block",
        why="The trigger word is how the LoRA is called later. An image whose caption lacks it "
        "teaches the model without linking what it learns to the word.",
        fix="Add the trigger word to the caption, at the start of its first line.",
        source="dataset-audit#the-trigger-word",
    ),
    Check(
        "caption.not_utf8",
        "warn",
        why="Caption files must be UTF-8. kohya sd-scripts reads them as UTF-8 and stops with "
        "an error on anything else (UTF-16, Windows-1252 accents).",
        fix="Open the caption in a text editor and save it with the UTF-8 encoding, or let "
        "loragate take it in, which rewrites it.",
        source="dataset-audit#encoding",
    ),
    Check(
        "caption.byte_order_mark",
        "warn",
        why="sd-scripts opens captions as plain UTF-8, which keeps a byte-order mark as an "
        "invisible character in front of the first tag, usually the trigger word: the CLIP "
        "tokenizer reads it as extra tokens glued to the word.",
        fix="Save the caption as UTF-8 without a byte-order mark (“UTF-8”, not “UTF-8 with "
        "BOM”), or let loragate take it in, which rewrites it.",
        source="dataset-audit#encoding",
    ),
    Check(
        "caption.multiline",
        "warn",
        why="kohya sd-scripts reads only the first line of a caption file; the other lines are "
        "never seen by the model.",
        fix="Put the whole caption on one line.",
        source="dataset-audit#only-the-first-line",
    ),
    Check(
        "caption.too_long",
        "warn",
        why="CLIP reads 75 tokens (77 with its start and end markers). Longer captions are cut "
        "unless the trainer is told to read 150 or 225 tokens in chunks.",
        fix="Shorten it to what matters, or keep it and set the trainer's maximum token "
        "length (loragate's config phase does this).",
        source="dataset-audit#length-in-tokens",
    ),
    Check(
        "caption.far_too_long",
        "block",
        why="Even the longest setting (225 tokens) cuts this caption: its end never reaches "
        "the model.",
        fix="Shorten the caption below 225 tokens.",
        source="dataset-audit#length-in-tokens",
    ),
    Check(
        "caption.orphan",
        "warn",
        why="A caption file without an image of the same name is never used; often the image "
        "was renamed or deleted by mistake.",
        fix="Rename it to match its image, bring the image back, or delete the caption.",
        source="dataset-audit#captions-without-an-image",
    ),
    # Duplicates.
    Check(
        "duplicate.exact",
        "block",
        why="Copies of one picture train it several times: the LoRA memorises it and copies "
        "its composition into generations.",
        fix="Keep one of them (the others are excluded, not deleted).",
        source="curation-guide#exact-duplicates",
    ),
    Check(
        "duplicate.near",
        "block",
        why="Near-identical pictures (resized, re-encoded, brightened, lightly cropped) weigh "
        "one composition several times over; the LoRA over-learns it.",
        fix="Keep the best one, or record that this group is intentional (for example the same "
        "pose with a different expression).",
        source="curation-guide#near-duplicates",
    ),
    Check(
        "duplicate.intentional",
        "info",
        why="You recorded that these similar images are meant to be there together.",
        fix="Nothing to do. Keep one of them if you change your mind.",
        source="curation-guide#intentional-near-duplicates",
    ),
    # The dataset as a whole.
    Check(
        "dataset.empty",
        "block",
        why="There is nothing to train on.",
        fix="Import images (from a folder, a zip or the browser).",
        source="dataset-sizes#the-floor",
    ),
    Check(
        "dataset.below_floor",
        "block",
        why="With this few images the LoRA memorises them instead of learning what they share.",
        fix="Add more images; see how many the sources recommend for this kind of LoRA.",
        source="dataset-sizes#the-floor",
    ),
    Check(
        "dataset.below_range",
        "warn",
        why="Fewer images than the usual recommendation: the LoRA may copy them too closely or "
        "learn only part of what you want.",
        fix="Add varied images if you have them; otherwise train and judge the result.",
        source="dataset-sizes#how-many-images",
    ),
    Check(
        "dataset.above_range",
        "info",
        why="More images than the sources usually use. That is fine when each adds something "
        "new; it only makes each epoch longer.",
        fix="Nothing to do; leave out images that add nothing new if training time matters.",
        source="dataset-sizes#how-many-images",
    ),
    Check(
        "dataset.family_resolution",
        "warn",
        why="Every image is resized to about the family's training size, so images below it "
        "are enlarged and the LoRA learns the softness of the enlargement. A family trained "
        "at a smaller size takes most of these images as they are.",
        fix="Change the model family (and a base model of that family) on the project's "
        "answers page, or add larger images.",
        source="dataset-audit#resolution",
    ),
    Check(
        "dataset.low_diversity",
        "warn",
        why="The images look alike (their perceptual hashes are close). The LoRA learns the "
        "shared composition as part of the trigger word and repeats it.",
        fix="Add images that vary what should vary: pose, framing, background, lighting.",
        source="curation-guide#diversity",
    ),
    Check(
        "dataset.similar_colours",
        "info",
        why="Every image has nearly the same overall colour; the LoRA will tint generations "
        "that way. Good for a palette you want, bad if it is an accident.",
        fix="If the colour is not part of what you train, add images with other colours.",
        source="curation-guide#diversity",
    ),
    Check(
        "dataset.aspect_buckets",
        "info",
        why="Images train in buckets of similar shape; a batch only holds images of one bucket.",
        fix="Nothing to do; the config phase counts the steps each bucket costs.",
        source="dataset-audit#aspect-ratio-and-buckets",
    ),
    Check(
        "dataset.junk_ignored",
        "info",
        why="Files that operating systems leave in folders (.DS_Store, Thumbs.db, __MACOSX, "
        "._ files) and hidden files are never training data.",
        fix="Nothing to do; they are ignored.",
        source="dataset-audit#links-and-junk-files",
    ),
)

CHECKS: dict[str, Check] = {check.code: check for check in _CHECKS}

# Headings for the audit page, one per kind of finding.
TITLES = {
    "image.empty": "Empty files",
    "image.not_an_image": "Files that are not images",
    "image.truncated": "Truncated images",
    "image.undecodable": "Images that cannot be decoded",
    "image.decompression_bomb": "Absurd sizes (decompression bombs)",
    "image.unsupported_format": "Formats trainers skip",
    "image.wrong_extension": "Extension does not match the content",
    "file.not_an_image": "Other files",
    "file.symlink_outside": "Links to outside the dataset",
    "file.symlink_inside": "Links inside the dataset",
    "file.bad_name": "Names that are not valid text",
    "image.animated": "Animated images",
    "image.colour_mode": "Colour conversions",
    "image.transparency": "Transparency",
    "image.slight_transparency": "A few see-through pixels",
    "image.unused_alpha": "Unused transparency band",
    "image.exif_rotated": "Rotated by EXIF only",
    "image.too_small": "Far too small",
    "image.small": "Smaller than the model's resolution",
    "image.extreme_aspect": "Extreme shapes",
    "image.blurry": "Blurry",
    "image.blurry_for_this_dataset": "Softer than the rest",
    "image.jpeg_compressed": "Heavy JPEG compression",
    "image.too_dark": "Too dark",
    "image.too_bright": "Too bright",
    "image.low_information": "Nearly blank",
    "caption.missing": "Missing captions",
    "caption.empty": "Empty captions",
    "caption.missing_trigger": "Captions without the trigger word",
    "caption.not_utf8": "Captions not in UTF-8",
    "caption.byte_order_mark": "Captions with a byte-order mark",
    "caption.multiline": "Captions on several lines",
    "caption.too_long": "Long captions",
    "caption.far_too_long": "Captions too long to read",
    "caption.orphan": "Captions without an image",
    "caption.not_approved": "Captions not approved",
    "caption.changed_outside": "Captions changed outside loragate",
    "caption.nothing_described": "Captions that describe nothing",
    "caption.style_word": "Style words in captions",
    "caption.eye_unreadable": "Your style words could not be read",
    "caption.style_in_most_captions": "A style word in most captions",
    "caption.fixed_trait": "Fixed traits in captions",
    "caption.fixed_trait_in_most_captions": "A fixed trait in most captions",
    "caption.must_vary_undescribed": "Variation never described",
    "caption.near_universal_tag": "A tag in nearly every caption",
    "caption.format_mismatch": "Captions in another format",
    "duplicate.exact": "Exact duplicates",
    "duplicate.near": "Near-duplicates",
    "duplicate.intentional": "Intentional near-duplicates",
    "dataset.empty": "No images",
    "dataset.below_floor": "Too few images",
    "dataset.below_range": "Fewer images than recommended",
    "dataset.above_range": "More images than usual",
    "dataset.low_diversity": "Images look alike",
    "dataset.similar_colours": "Similar colours",
    "dataset.family_resolution": "A model family that fits your images",
    "dataset.aspect_buckets": "Aspect-ratio buckets",
    "dataset.junk_ignored": "Ignored system files",
}


def finding(
    code: str,
    subject: str,
    message: str,
    *,
    severity: Severity | None = None,
    why: str | None = None,
    fix: str | None = None,
    subjects: Sequence[str] = (),
) -> Finding:
    """``subjects``: the paths of a finding about several files (``subject`` is then
    their names joined for reading)."""
    check = CHECKS[code]
    return Finding(
        code=code,
        severity=severity or check.severity,
        subject=subject,
        subjects=list(subjects),
        message=message,
        why=why or check.why,
        fix=fix or check.fix,
        source=check.source,
    )
