"""Gate 2's rules: each looks at one Assessment and returns the findings it has, every
one with what is wrong, why it matters, what to do and where that is explained.

Thresholds are named constants next to the rule that uses them, each with its source.
"""

from __future__ import annotations

from collections.abc import Callable

from app.demo import DEMO_RESOLUTION, is_demo_model
from app.environment.trainer_fit import family_problem
from app.findings import Finding
from app.gates.training_folder_rule import training_folder
from app.intent import MODEL_FAMILIES
from app.training.assessment import Assessment
from app.training.backends import BACKEND_TITLES, kohya, simpletuner
from app.training.config import STEPS_MAX
from app.training.estimates import gpu_supports_bf16
from app.training.field_docs import field_docs
from app.training.memory_features import FEATURE_FIELD, FEATURE_WORDS, unsupported
from app.training.model_detect import FAMILY_NAMES
from app.training.model_specs import family_spec
from app.training.outputs import human_bytes
from app.words import plural

# Learning rates (app/docs/optimizers.md).
ADAMW_MAX_LR = 1e-3  # sd-scripts train_network.md: LoRA rates "from 1e-4 to 1e-3"
LION_MAX_LR = 3e-4  # Chen et al. 2023: Lion wants a 3–10× smaller rate than AdamW
PRODIGY_LR_RANGE = (0.5, 2.0)  # Prodigy README: "we recommend using lr=1."
PRODIGY_LR_BLOCK_BELOW = 0.1  # steps 10× or more smaller than Prodigy's own estimate
# Times the average image is seen (app/docs/presets.md#length).
VIEWS_PER_IMAGE = {
    "style": (20, 200),
    "character": (40, 200),
    "concept": (30, 200),
    "object": (40, 200),
}

Rule = Callable[[Assessment], list[Finding]]


def _family_title(key: str) -> str:
    family = MODEL_FAMILIES.get(key)
    return family.title if family else FAMILY_NAMES.get(key, key)


def learning_rate(a: Assessment) -> list[Finding]:
    config = a.config
    findings = []
    if config.optimizer == "prodigy":
        low, high = PRODIGY_LR_RANGE
        for field, rate in (
            ("unet_lr", config.unet_lr),
            ("text_encoder_lr", config.text_encoder_lr),
        ):
            if field == "text_encoder_lr" and not config.train_text_encoder:
                continue
            if low <= rate <= high:
                continue
            # Far below 1 the run learns nothing (an AdamW-style 1e-4 is 10,000× too
            # small); that is a wasted run, not a matter of taste.
            wasted = rate < PRODIGY_LR_BLOCK_BELOW
            factor = 1 / rate if rate < 1 else rate
            findings.append(
                Finding(
                    code="config.lr_out_of_range",
                    severity="block" if wasted else "warn",
                    subject=field,
                    message=f"Prodigy with a learning rate of {rate:g}: every step is about "
                    f"{factor:,.0f} times {'smaller' if rate < 1 else 'larger'} than the "
                    "step Prodigy works out itself."
                    + (" The run would learn next to nothing." if wasted else ""),
                    why="Prodigy estimates the step size itself and treats the learning "
                    "rate as a multiplier on its estimate, so its authors recommend 1.0; "
                    "a rate meant for AdamW (1e-4) makes every step thousands of times "
                    "too small.",
                    fix="Set the learning rate to 1.0 with Prodigy (the text encoder's too), "
                    "or choose AdamW to keep a rate like this.",
                    source="optimizers#prodigy",
                )
            )
        return findings
    limit = LION_MAX_LR if config.optimizer == "lion" else ADAMW_MAX_LR
    name = {"lion": "Lion", "adafactor": "Adafactor"}.get(config.optimizer, "AdamW")
    for field, rate in (("unet_lr", config.unet_lr), ("text_encoder_lr", config.text_encoder_lr)):
        if field == "text_encoder_lr" and not config.train_text_encoder:
            continue
        if rate > 0.1:
            findings.append(
                Finding(
                    code="config.lr_out_of_range",
                    severity="block",
                    subject=field,
                    message=f"A learning rate of {rate:g} with {name}: that is a Prodigy-style "
                    "value.",
                    why="Only adaptive optimizers such as Prodigy take rates near 1; with "
                    f"{name} the first step destroys the weights.",
                    fix="Choose Prodigy, or set a rate around 1e-4.",
                    source="optimizers#learning-rate-ranges",
                )
            )
        elif rate > limit:
            findings.append(
                Finding(
                    code="config.lr_out_of_range",
                    severity="warn",
                    subject=field,
                    message=f"{name} at a learning rate of {rate:g} (above {limit:g}).",
                    why="Rates this high make LoRA training overshoot: images burn "
                    "(oversaturated, noisy, copies of the training set) or the loss "
                    "becomes NaN and the run is lost.",
                    fix=f"Lower it to {limit / 10:g}–{limit:g}"
                    + (" (Lion wants 3–10× less than AdamW)." if name == "Lion" else "."),
                    source="optimizers#learning-rate-ranges",
                )
            )
    return findings


def alpha_above_rank(a: Assessment) -> list[Finding]:
    if a.config.network_alpha <= a.config.network_rank:
        return []
    return [
        Finding(
            code="config.alpha_above_rank",
            severity="warn",
            subject="network_alpha",
            message=f"Alpha {a.config.network_alpha:g} is above rank {a.config.network_rank}.",
            why="The LoRA's updates are scaled by alpha ÷ rank; above 1 every update is "
            f"multiplied by {a.config.network_alpha / a.config.network_rank:.2g}, like a "
            "learning rate that much higher, and the LoRA overcooks.",
            fix="Set alpha to half the rank or equal to it.",
            source="parameters-guide#network-alpha",
        )
    ]


def resolution(a: Assessment) -> list[Finding]:
    # The demo's tiny model was built for its own size, not its family's.
    demo = a.base_model is not None and is_demo_model(a.base_model.reference)
    native = DEMO_RESOLUTION if demo else family_spec(a.family).native_resolution
    side = a.config.resolution
    if side == native:
        return []
    severity = "block" if side > native * 1.5 or side < native / 2 else "warn"
    return [
        Finding(
            code="config.resolution_not_native",
            severity=severity,  # type: ignore[arg-type]
            subject="resolution",
            message=f"Resolution {side} for {_family_title(a.family)}, which was trained at "
            f"{native}.",
            why="The model composes images at the size it learned. Below it the LoRA learns "
            "a blurrier version; above it memory and time grow with the pixel count and the "
            "model starts repeating subjects.",
            fix=f"Use {native}.",
            source="parameters-guide#resolution",
        )
    ]


def _bucket_step_rule(backend: str, family: str) -> tuple[int, str] | None:
    """The multiple ``backend`` needs the bucket step to be for ``family``, and why; None
    where the backend sizes its buckets itself and never reads the step."""
    if backend == "simpletuner":
        return None  # its aspect buckets follow its own alignment (64); no step is written
    if backend == "kohya":
        multiple = kohya.BUCKET_STEP_MULTIPLE[family]
        return multiple, (
            f"sd-scripts' {kohya.SCRIPTS[family]} stops before training starts with "
            f"“bucket_reso_steps is … it must be divisible by {multiple}”."
        )
    multiple = family_spec(family).bucket_step_multiple
    return multiple, (
        "The image is shrunk 8× into latents and the model halves them again inside: "
        "a side that does not divide evenly makes the trainer stop or crop unevenly."
    )


def bucket_steps(a: Assessment) -> list[Finding]:
    config = a.config
    if not config.enable_bucket:
        return []
    findings = []
    rule = _bucket_step_rule(a.backend, a.family)
    if rule is not None and config.bucket_reso_steps % rule[0]:
        multiple, why = rule
        findings.append(
            Finding(
                code="config.bucket_step",
                severity="block",
                subject="bucket_reso_steps",
                message=f"Bucket step {config.bucket_reso_steps} is not a multiple of "
                f"{multiple}, which {BACKEND_TITLES.get(a.backend, a.backend)} needs for "
                f"{_family_title(a.family)}.",
                why=why,
                fix=f"Use {max(64, multiple)} (or another multiple of {multiple}).",
                source="parameters-guide#bucket-step",
            )
        )
    for field in ("min_bucket_reso", "max_bucket_reso"):
        value = getattr(config, field)
        if config.bucket_reso_steps and value % config.bucket_reso_steps:
            findings.append(
                Finding(
                    code="config.bucket_bounds",
                    severity="warn",
                    subject=field,
                    message=f"{value} is not a multiple of the bucket step "
                    f"{config.bucket_reso_steps}.",
                    why="sd-scripts rounds it to a multiple and warns; the buckets then differ "
                    "from the ones loragate counted steps with.",
                    fix=f"Use a multiple of {config.bucket_reso_steps}.",
                    source=(
                        "parameters-guide#smallest-bucket-side"
                        if field == "min_bucket_reso"
                        else "parameters-guide#largest-bucket-side"
                    ),
                )
            )
    return findings


def bf16_support(a: Assessment) -> list[Finding]:
    if a.config.mixed_precision != "bf16" or a.config.device != "cuda":
        return []
    if gpu_supports_bf16(a.gpu.name) is not False:
        return []
    return [
        Finding(
            code="config.bf16_unsupported",
            severity="block",
            subject="mixed_precision",
            message=f"bf16 is asked for, and the {a.gpu.name} has no bf16 support.",
            why="bf16 needs an NVIDIA Ampere GPU (RTX 30-series, A100) or newer; on older "
            "cards PyTorch emulates it very slowly or the trainer stops with an error.",
            fix="Choose fp16 (with SDXL, also keep the VAE in fp32 if images turn black).",
            source="parameters-guide#mixed-precision",
        )
    ]


def steps_per_image(a: Assessment) -> list[Finding]:
    if not a.plan.images:
        return []
    if a.plan.total_steps > STEPS_MAX:
        return [
            Finding(
                code="config.steps_out_of_range",
                severity="block",
                subject="epochs",
                message=f"This config works out to {a.plan.total_steps:,} steps, more than "
                f"the {STEPS_MAX:,} loragate accepts.",
                why="A run this long would take years on any GPU; the number is almost "
                "certainly a typo in epochs or a folder's repeats.",
                fix="Lower epochs or the folders' repeats.",
                source="presets#length",
            )
        ]
    low, high = VIEWS_PER_IMAGE.get(a.training_type, (30, 200))
    views = a.plan.views_per_image
    if low <= views <= high:
        return []
    too_few = views < low
    return [
        Finding(
            code="config.too_few_steps" if too_few else "config.too_many_steps",
            severity="warn",
            subject="epochs",
            message=f"Each image is seen about {views:.0f} times (epochs × repeats); "
            f"{a.training_type} LoRAs usually need {low}–{high}.",
            why=(
                "Too little training: the trigger word will barely change the image."
                if too_few
                else "The LoRA will memorise your images (overfitting): poses, backgrounds "
                "and faces from the dataset appear in everything it makes."
            ),
            fix=(
                "Raise epochs or the folders' repeats."
                if too_few
                else "Lower epochs or repeats, and compare the saved checkpoints."
            ),
            source="presets#length",
        )
    ]


def batch_size(a: Assessment) -> list[Finding]:
    samples = a.plan.samples_per_epoch
    batch = a.config.train_batch_size
    findings = []
    if samples and batch > samples:
        findings.append(
            Finding(
                code="config.batch_larger_than_dataset",
                severity="block",
                subject="train_batch_size",
                message=f"Batch size {batch} is larger than the {samples} samples in an epoch.",
                why="A batch can never be filled: every step trains on fewer images than "
                "asked, the memory for the full batch is reserved for nothing, and some "
                "trainers (SimpleTuner) refuse to start.",
                fix=f"Use a batch of at most {samples}, or add images or repeats.",
                source="parameters-guide#batch-size",
            )
        )
    elif a.plan.small_buckets and batch > 1:
        count = len(a.plan.small_buckets)
        findings.append(
            Finding(
                code="config.partial_batches",
                severity="info",
                subject="train_batch_size",
                message=f"{plural(count, 'bucket')} {'holds' if count == 1 else 'hold'} "
                "fewer samples than one batch: each costs a full step with a part-filled "
                "batch.",
                why="Batches are made per aspect-ratio bucket, so rare aspect ratios add "
                "steps (the step count above already includes them).",
                fix="Crop outliers to a common aspect ratio, or accept the extra steps.",
                source="parameters-guide#aspect-ratio-buckets",
            )
        )
    return findings


def simpletuner_skipped_images(a: Assessment) -> list[Finding]:
    if a.backend != "simpletuner":
        return []
    skipped = simpletuner.skipped_buckets(a.items, a.config)
    if not skipped:
        return []
    images = sum(bucket.images for bucket in skipped)
    needed = simpletuner.effective_batch(a.config)
    fits = min(bucket.samples for bucket in skipped)  # the smallest bucket of all
    return [
        Finding(
            code="config.simpletuner_skips_images",
            severity="block",
            subject="train_batch_size",
            message=f"SimpleTuner would leave out {images} of {a.plan.images} images: "
            f"{simpletuner.skipped_words(skipped)} hold fewer samples (images × repeats) "
            f"than batch × GPUs × accumulation = {needed}.",
            why="SimpleTuner removes every aspect bucket that cannot fill one batch (a "
            "line in its log; those images are never trained on), and stops at start-up "
            "with “Dataset configuration will produce zero usable batches” when a bucket "
            "cannot fill batch × GPUs × accumulation.",
            fix=f"Bring batch × GPUs × accumulation down to {fits} or less, raise the "
            "folders' repeats, or crop the odd images to a common aspect ratio.",
            source="parameters-guide#aspect-ratio-buckets",
        )
    ]


def text_encoder_cache(a: Assessment) -> list[Finding]:
    config = a.config
    findings = []
    if config.train_text_encoder and config.cache_text_encoder_outputs:
        findings.append(
            Finding(
                code="config.te_training_with_cached_outputs",
                severity="block",
                subject="cache_text_encoder_outputs",
                message="The text encoder is set to train, and its outputs to be cached.",
                why="A cached output is computed once, before training, so a text encoder "
                "that changes cannot be cached: sd-scripts requires "
                "--network_train_unet_only with this cache, others ignore one setting.",
                fix="Turn off either text-encoder training or the text-encoder cache.",
                source="parameters-guide#cache-text-encoder-outputs",
            )
        )
    elif config.cache_text_encoder_outputs and (
        config.shuffle_caption or config.caption_dropout_rate > 0
    ):
        findings.append(
            Finding(
                code="config.caption_augmentation_with_cache",
                severity="block",
                subject="cache_text_encoder_outputs",
                message="Captions are shuffled or dropped, and text-encoder outputs cached.",
                why="The cache holds one encoding per caption, made before training: "
                "shuffling and dropout cannot happen, and sd-scripts stops with an error.",
                fix="Turn off the text-encoder cache, or caption shuffle and dropout.",
                source="parameters-guide#cache-text-encoder-outputs",
            )
        )
    return findings


def shuffle_keep_tokens(a: Assessment) -> list[Finding]:
    if not (a.config.shuffle_caption and a.config.keep_tokens == 0):
        return []
    return [
        Finding(
            code="config.shuffle_moves_trigger",
            severity="warn",
            subject="keep_tokens",
            message="Captions are shuffled with keep tokens 0: the trigger word moves.",
            why="The trigger word is written first in every caption; shuffled without "
            "keeping it, it lands anywhere and binds weakly, so the LoRA responds less to "
            "it in prompts.",
            fix="Set keep tokens to 1.",
            source="parameters-guide#keep-tokens",
        )
    ]


def constant_with_warmup(a: Assessment) -> list[Finding]:
    if a.config.lr_scheduler != "constant" or not a.config.lr_warmup_steps:
        return []
    blocks = a.backend == "kohya"
    return [
        Finding(
            code="config.constant_scheduler_warmup",
            severity="block" if blocks else "warn",
            subject="lr_warmup_steps",
            message=f"The constant schedule with {a.config.lr_warmup_steps} warmup steps.",
            why=(
                "sd-scripts stops at start-up with “constant does not require num_warmup_steps”."
                if blocks
                else f"{BACKEND_TITLES.get(a.backend, a.backend)} ignores warmup with the "
                "constant schedule or turns it into another schedule."
            ),
            fix="Choose constant_with_warmup, or set warmup to 0.",
            source="parameters-guide#warmup-steps",
        )
    ]


def min_snr_on_flux(a: Assessment) -> list[Finding]:
    if a.config.min_snr_gamma is None or not family_spec(a.family).flow_matching:
        return []
    return [
        Finding(
            code="config.min_snr_not_applicable",
            severity="info",
            subject="min_snr_gamma",
            message="Min-SNR gamma is set for Flux, which trains with flow matching.",
            why="Min-SNR re-weights noise-prediction losses; the backends do not apply it "
            "to Flux, so the value does nothing.",
            fix="Clear min-SNR gamma.",
            source="parameters-guide#min-snr-gamma",
        )
    ]


def vram(a: Assessment) -> list[Finding]:
    if a.config.device != "cuda":
        return []
    total = a.vram.total_gb
    if not a.gpu.vram_gb:
        return [
            Finding(
                code="config.gpu_memory_unknown",
                severity="info",
                subject="gpu",
                message=f"The run needs about {total:.1f} GB of GPU memory; loragate does not "
                "know your GPU's.",
                why="Without the GPU's memory the estimate cannot be checked against it.",
                fix="Set gpu.name and gpu.vram_gb in grimoire/studio.md.",
                source="vram-calculator#checking-against-your-gpu",
            )
        ]
    if total <= a.gpu.vram_gb:
        return []
    return [
        Finding(
            code="config.vram_overflow",
            severity="block",
            subject="train_batch_size",
            message=f"The run needs about {total:.1f} GB of GPU memory; the "
            f"{a.gpu.name or 'GPU'} has {a.gpu.vram_gb:g} GB.",
            why="Training would stop with CUDA out of memory within its first steps, or "
            "spill into system memory and run many times slower.",
            fix="Lower the batch size, turn on gradient checkpointing and caching, use "
            "AdamW8bit or Adafactor, or lower the rank; the breakdown shows the largest part.",
            source="vram-calculator#what-uses-the-memory",
        )
    ]


def memory_settings(a: Assessment) -> list[Finding]:
    """A memory setting the chosen trainer cannot carry out: the run would need the
    memory the estimate says it saves, or the trainer stops on an unknown option."""
    trainer = BACKEND_TITLES.get(a.backend, a.backend)
    findings = []
    for missing in unsupported(a.config, a.backend, a.family):
        words = FEATURE_WORDS[missing.feature]
        others = [BACKEND_TITLES.get(b, b) for b in missing.alternatives]
        fix = (
            f"Choose {' or '.join(others)} as the trainer, or turn {words} off."
            if others
            else f"Turn {words} off: no trainer loragate writes for can do it for "
            f"{_family_title(a.family)}."
        )
        findings.append(
            Finding(
                code="config.memory_setting_unsupported",
                severity="block",
                subject=FEATURE_FIELD[missing.feature],
                message=f"{trainer} cannot do {words} for {_family_title(a.family)}"
                + (
                    " (loragate's own trainer has none of the memory settings)."
                    if a.backend == "native"
                    else "."
                ),
                why="The setting would be left out of the trainer's files: the run would "
                "need the memory it was meant to save and could stop with CUDA out of "
                "memory.",
                fix=fix,
                source=field_docs()[FEATURE_FIELD[missing.feature]].source,
            )
        )
    return findings


def outputs_fit_disk(a: Assessment) -> list[Finding]:
    if a.outputs is None or a.disk is None or a.disk.free >= a.outputs.total_bytes:
        return []
    needed, free = human_bytes(a.outputs.total_bytes), human_bytes(a.disk.free)
    largest_words, largest = max(a.outputs.parts(), key=lambda part: part[1])
    return [
        Finding(
            code="config.outputs_exceed_disk",
            severity="block",
            subject="save_last_n",
            message=f"This config writes about {needed}, but only {free} is free on the disk "
            f"that holds the project. The largest part is {largest_words} "
            f"({human_bytes(largest)} in all).",
            why="The run would fail when the disk fills, usually while saving a checkpoint, "
            "and lose the steps since the previous one.",
            fix="Keep fewer checkpoints (save_last_n), save less often, turn off latent "
            "caching to disk, or free space on that disk.",
            source="preflight-checklist#free-disk",
        )
    ]


def dataset_present(a: Assessment) -> list[Finding]:
    if a.plan.images:
        return []
    return [
        Finding(
            code="config.no_images",
            severity="block",
            subject="dataset",
            message="The dataset has no included images, so there is nothing to train on.",
            why="Steps, time and cost are all zero: the trainer would stop at once.",
            fix="Import images and include them (phases 2–5).",
            source="presets#length",
        )
    ]


def base_model(a: Assessment) -> list[Finding]:
    base = a.base_model
    if base.problem or base.path is None:
        return [
            Finding(
                code="base_model.missing",
                severity="block",
                subject="base_model",
                message=base.problem or "The base model cannot be found.",
                why="Every trainer loads the base model first; without it nothing can run.",
                fix="Point the project at an existing checkpoint, or fix the path in studio.md.",
                source="parameters-guide#family-from-the-file-header",
            )
        ]
    if a.detection_error:
        return [
            Finding(
                code="base_model.unreadable",
                severity="block",
                subject="base_model",
                message=a.detection_error,
                why="A file whose header cannot be read will not load in any trainer.",
                fix="Download the checkpoint again, or choose another file.",
                source="parameters-guide#family-from-the-file-header",
            )
        ]
    detection = a.detection
    if detection is None:
        return []
    if detection.layout == "pickled":
        return [
            Finding(
                code="base_model.pickled",
                severity="block",
                subject="base_model",
                message=f"{base.path.name} is a pickled checkpoint; loragate does not open it.",
                why="Loading a pickle runs whatever code the file carries: a downloaded "
                ".ckpt can take over your computer.",
                fix="Download the .safetensors version of the model, or convert this file "
                "once on a machine you trust (torch.load with weights_only=True, then "
                "safetensors' save_file).",
                source="parameters-guide#pickled-checkpoints",
            )
        ]
    if detection.layout == "lora":
        return [
            Finding(
                code="base_model.is_a_lora",
                severity="block",
                subject="base_model",
                message=f"{base.path.name} is a LoRA, not a base model.",
                why="A LoRA only holds corrections for a model; it cannot be trained on.",
                fix="Choose the checkpoint the LoRA was made for.",
                source="parameters-guide#a-lora-is-not-a-base-model",
            )
        ]
    if detection.family is None:
        return [
            Finding(
                code="base_model.unknown_family",
                severity="warn",
                subject="base_model",
                message=f"loragate cannot tell which model family {base.path.name} is.",
                why="The family decides the trainer script, resolution and memory; if the "
                "file is not the family you chose, training fails at load time.",
                fix=f"Make sure it is a {_family_title(a.family)} checkpoint.",
                source="parameters-guide#family-from-the-file-header",
            )
        ]
    declared = a.family
    expected = base.studio_family or declared
    if detection.family != declared or expected != declared:
        return [
            Finding(
                code="base_model.family_mismatch",
                severity="block",
                subject="base_model",
                message=f"{base.path.name} is {detection.family_title}, but the project is "
                f"for {_family_title(declared)}.",
                why="A LoRA only works on the family it was trained for; trained against the "
                "wrong checkpoint it fails to load or is useless in your generator. "
                f"(Evidence: {'; '.join(detection.evidence)}.)",
                fix="Choose a checkpoint of the project's family, or start a project for "
                f"{detection.family_title}.",
                source="parameters-guide#family-mismatch",
            )
        ]
    return []


def backend_support(a: Assessment) -> list[Finding]:
    # The same judgement (and the same list of families per trainer) as Gate 3 and
    # `loragate config`, so the three never disagree.
    finding = family_problem(a.backend, a.family, BACKEND_TITLES)
    return [finding] if finding else []


RULES: tuple[Rule, ...] = (
    dataset_present,
    training_folder,
    base_model,
    backend_support,
    learning_rate,
    alpha_above_rank,
    resolution,
    bucket_steps,
    bf16_support,
    steps_per_image,
    batch_size,
    simpletuner_skipped_images,
    text_encoder_cache,
    shuffle_keep_tokens,
    constant_with_warmup,
    min_snr_on_flux,
    memory_settings,
    vram,
    outputs_fit_disk,
)


def check(a: Assessment) -> list[Finding]:
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(a))
    return findings
