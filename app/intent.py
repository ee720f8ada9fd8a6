"""The intent interview's vocabulary: what can be trained, on which model families, with
which caption formats, and the checks on a trigger word. Plain-language texts live here
so the web wizard and the CLI explain things the same way."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources


@dataclass(frozen=True)
class TrainingType:
    key: str
    title: str
    explanation: str
    example: str
    content_style: str  # the content-style problem, told for this type
    source: str


TRAINING_TYPES: dict[str, TrainingType] = {
    t.key: t
    for t in (
        TrainingType(
            key="style",
            title="Style",
            explanation="How your pictures look: medium, line, palette, light, mood. "
            "The LoRA paints any subject in that look.",
            example="Your loose ink-and-wash illustrations, so that “a lighthouse at dusk” "
            "comes out in your hand.",
            content_style="Describe the content of every image (what is in it) and never "
            "the style. The model learns whatever the captions leave unsaid as belonging "
            "to the trigger word. If a caption says “watercolor”, the look is bound to "
            "that word instead of your trigger, and the LoRA learns less of your style; "
            "if captions skip the subjects, the LoRA also learns your subjects and keeps "
            "drawing them.",
            source="content-style#style-loras-caption-the-content",
        ),
        TrainingType(
            key="character",
            title="Character",
            explanation="One particular character or person, recognisable in new poses, "
            "outfits and places.",
            example="Your comic's heroine with her red scarf and scar, drawn in new scenes.",
            content_style="Describe what changes between images (pose, clothes that change, "
            "background, expression, framing) and leave the character's fixed traits "
            "unsaid. Traits you name in captions are learned as those words, not as the "
            "character: the trigger alone would then forget them. Traits you never vary "
            "get glued to the character, so vary what should stay free.",
            source="content-style#character-and-object-loras-caption-what-varies",
        ),
        TrainingType(
            key="concept",
            title="Concept",
            explanation="An idea, pose, action, effect or composition that appears across "
            "different subjects.",
            example="A particular “double exposure” effect, or a pose, applied to anyone.",
            content_style="Describe the subjects and settings, which vary, and let the "
            "trigger carry the concept itself. Show the concept on many different "
            "subjects, or the LoRA will learn the subject as part of the concept.",
            source="content-style#concept-loras",
        ),
        TrainingType(
            key="object",
            title="Object",
            explanation="One specific thing: a product, a prop, a creature design.",
            example="Your hand-made teapot, so it can appear in any scene.",
            content_style="Describe the surroundings, lighting and angle, which vary, and "
            "not the object's fixed design. Photograph or draw it in many settings, or "
            "the background will be learned as part of the object.",
            source="content-style#character-and-object-loras-caption-what-varies",
        ),
    )
}


@dataclass(frozen=True)
class ModelFamily:
    key: str
    title: str
    resolution: int  # the side of the square it was trained at
    recommended_caption_format: str
    why_caption_format: str


MODEL_FAMILIES: dict[str, ModelFamily] = {
    f.key: f
    for f in (
        ModelFamily(
            "sd15",
            "Stable Diffusion 1.5",
            512,
            "booru",
            "SD 1.5's CLIP text encoder reads short, comma-separated phrases well, and most "
            "SD 1.5 fine-tunes (especially anime ones) were trained on booru tags.",
        ),
        ModelFamily(
            "sd2",
            "Stable Diffusion 2.x",
            768,
            "natural",
            "SD 2.x's OpenCLIP encoder was trained on web captions, which are short "
            "natural sentences.",
        ),
        ModelFamily(
            "sdxl",
            "Stable Diffusion XL",
            1024,
            "mixed",
            "SDXL reads both: base SDXL likes short natural sentences, anime fine-tunes "
            "(Pony, Illustrious) expect tags. A sentence plus key tags works for both.",
        ),
        ModelFamily(
            "flux",
            "Flux.1",
            1024,
            "natural",
            "Flux reads prompts with a T5 language model that understands full sentences; "
            "tag lists waste its strength.",
        ),
    )
}

CAPTION_FORMATS: dict[str, str] = {
    "booru": "Booru tags: “1girl, red scarf, standing, city street, night”.",
    "natural": "Natural language: “A woman in a red scarf stands on a city street at night.”",
    "mixed": "Mixed: a short sentence followed by key tags.",
}

# The trainers loragate writes configs for; a project names one (native by default).
BACKENDS: tuple[str, ...] = ("native", "kohya", "simpletuner", "ai-toolkit")

TRIGGER_MAX_LENGTH = 40
_TRIGGER_ALLOWED = re.compile(r"^[\w\- ]+$")


def _data_lines(name: str) -> frozenset[str]:
    text = (importlib_resources.files("app") / "data" / name).read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


@cache
def common_tags() -> frozenset[str]:
    return _data_lines("common_tags.txt")


@cache
def common_words() -> frozenset[str]:
    """English words at Zipf frequency 3.0 or more (about once per million words),
    taken once from wordfreq: app/data/common_words.txt says how, and its licence."""
    return _data_lines("common_words.txt")


def is_common_word(word: str) -> bool:
    """True for words an English text encoder has seen thousands of times: "lantern" is
    common, "ohwx" and "zxq" are not. A word with a digit never is."""
    return unicodedata.normalize("NFC", word.casefold()) in common_words()


@dataclass
class TriggerCheck:
    errors: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_trigger_word(trigger: str) -> TriggerCheck:
    errors: list[str] = []
    warnings: list[str] = []
    word = trigger.strip()
    if not word:
        errors.append("The trigger word is empty. Every caption starts with it.")
        return TriggerCheck(errors, warnings)
    if "," in word:
        errors.append(
            "The trigger word contains a comma. Captions are split at commas, so it "
            "would become two tags and the LoRA could not be switched on by one word."
        )
    if len(word) > TRIGGER_MAX_LENGTH:
        errors.append(f"The trigger word is longer than {TRIGGER_MAX_LENGTH} characters.")
    if not errors and not _TRIGGER_ALLOWED.match(word):
        errors.append(
            "Use letters, digits, hyphens, underscores and spaces only: other symbols "
            "are split apart or dropped by the text encoder."
        )
    if errors:
        return TriggerCheck(errors, warnings)
    lowered = word.lower()
    if lowered in common_tags():
        warnings.append(
            f"“{word}” is a common booru tag. The base model already has a strong "
            "meaning for it, so the LoRA would have to fight that meaning, and prompts "
            "that use the tag for its usual sense would switch your LoRA on."
        )
    elif all(is_common_word(part) for part in re.split(r"[\s_\-]+", lowered) if part):
        warnings.append(
            f"“{word}” is a common English word. The base model already knows it, so "
            "training has to overwrite that meaning and every prompt using the word "
            "will pull in your LoRA. A rare made-up token (for example “{0}”) starts "
            "from almost nothing and binds cleanly.".format(suggest_rare_token(word))
        )
    if " " in word:
        warnings.append(
            "The trigger word has a space. Some tools treat it as two words; a single "
            "token such as an underscore-joined word is safer."
        )
    return TriggerCheck(errors, warnings)


def suggest_rare_token(word: str) -> str:
    letters = re.sub(r"[^a-z]", "", word.lower()) or "lora"
    vowels_dropped = letters[0] + re.sub(r"[aeiou]", "", letters[1:])
    candidate = (vowels_dropped + "xq")[:6]
    return candidate if not is_common_word(candidate) else candidate + "z"
