"""The training loop: optimizer steps over bucketed batches, progress events, samples,
checkpoints, resume, and the final verified LoRA file.

A step is one optimizer update over ``gradient_accumulation_steps`` batches. The loss
of every batch is checked before its gradients are used: a non-finite loss stops the
run at once, naming the step and that batch's images, instead of training on.
"""

from __future__ import annotations

import re
import secrets
import time
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from app.training.job import NativeJob
from app.training.native import checkpoint as ckpt
from app.training.native.dataset import Sample
from app.training.native.errors import TrainingError, classify
from app.training.native.events import ProgressWriter, log
from app.training.native.kohya import kohya_tensors, save_kohya, tensor_hash
from app.training.native.lora import load_lora_state, lora_state
from app.training.native.loss import diffusion_loss, draw_noise
from app.training.native.metadata import RunFacts, lora_metadata
from app.training.native.optim import MAX_GRAD_NORM
from app.training.native.order import epoch_batches, optimizer_groups
from app.training.native.pixels import crop_top_left
from app.training.native.precision import peak_vram_gb
from app.training.native.samples import make_samples
from app.training.native.setup import Run, prepare
from app.training.native.verify import Verification, Verifier

SMOOTHING = 0.9  # exponential moving average of the loss shown as "smoothed"
TIMING_WINDOW = 20  # steps averaged for seconds per step


class Trainer:
    def __init__(self, job: NativeJob, events: ProgressWriter | None = None) -> None:
        self.job = job
        self.config = job.config
        self.events = events or ProgressWriter()
        self.output_dir = Path(job.output_dir)
        self.checkpoints = self.output_dir / "checkpoints"
        self.state = ckpt.TrainerState(0, 0, 0, None, "", None, 0)
        self.noise = torch.Generator()
        self.run: Run | None = None
        self._verifier: Verifier | None = None
        self._step_times: deque[float] = deque(maxlen=TIMING_WINDOW)
        self._started = time.time()
        self._session = secrets.token_hex(8)
        self._last_checkpoint: int | None = None

    def train(self) -> Path:
        """Train to the end (or to ``stop_after_steps``); returns the LoRA file. Raises
        TrainingError after emitting its ``error`` event."""
        try:
            return self._train()
        except Exception as exc:
            error = classify(exc)
            if error.kind == "crash":
                log(traceback.format_exc())
            if error.kind == "oom":
                error.details |= self.settings()
            self.events.emit(
                "error",
                kind=error.kind,
                message=error.message,
                step=self.state.step,
                details=error.details,
            )
            if error is exc:
                raise
            raise error from exc

    def settings(self) -> dict[str, Any]:
        """The settings in force, for the supervisor's OOM re-plan."""
        config = self.config
        peak, total = peak_vram_gb(self.run.precision) if self.run else (None, None)
        return {
            "train_batch_size": config.train_batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps,
            "resolution": config.resolution,
            "gradient_checkpointing": config.gradient_checkpointing,
            "cache_latents": config.cache_latents,
            "cache_text_encoder_outputs": config.cache_text_encoder_outputs,
            "optimizer": config.optimizer,
            "mixed_precision": config.mixed_precision,
            "network_rank": config.network_rank,
            "train_text_encoder": config.train_text_encoder,
            "peak_vram_gb": peak,
            "vram_total_gb": total,
        }

    # The run -----------------------------------------------------------------

    def _train(self) -> Path:
        job = self.job
        if not job.resume and job.dry_run_steps is None and ckpt.complete_checkpoints(self.checkpoints):
            raise TrainingError(
                "bad_config",
                f"{self.checkpoints} already holds checkpoints of an earlier run. Resume it, "
                "or train into an empty output folder so nothing is overwritten.",
            )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        run = self.run = prepare(job)
        self.noise.manual_seed(self.config.seed)
        self.state.total_steps = run.total_steps
        self.state.order_fingerprint = run.order_fingerprint
        resumed_from = self._resume(run) if job.resume else None
        epochs = -(-run.total_steps // run.steps_per_epoch)
        self.events.emit(
            "start",
            total=run.total_steps,
            steps_per_epoch=run.steps_per_epoch,
            epochs=epochs,
            images=len(run.samples),
            samples_per_epoch=sum(s.repeats for s in run.samples),
            resumed_from=resumed_from,
            device=str(run.precision.device),
        )
        stop_at = job.stop_after_steps
        while self.state.step < run.total_steps:
            if self.state.order is None:
                self.state.order = epoch_batches(
                    run.samples, self.config.train_batch_size, self.config.seed, self.state.epoch
                )
                self.state.group_in_epoch = 0
            groups = optimizer_groups(self.state.order, self.config.gradient_accumulation_steps)
            while self.state.group_in_epoch < len(groups) and self.state.step < run.total_steps:
                self.optimizer_step(run, groups[self.state.group_in_epoch])
                self._after_step(run)
                if stop_at is not None and self.state.step >= stop_at < run.total_steps:
                    return self._stop_early(run)
            if self.state.group_in_epoch >= len(groups):
                self._end_epoch(run)
        return self._finish(run)

    def optimizer_step(self, run: Run, group: list[list[int]]) -> None:
        started = time.perf_counter()
        run.optimizer.zero_grad(set_to_none=True)
        losses = []
        for batch_indices in group:
            batch = [run.samples[i] for i in batch_indices]
            loss = self.batch_loss(run, batch)
            if not torch.isfinite(loss):
                raise self._non_finite(loss, batch)
            scaled = loss / len(group)
            if run.precision.scaler is not None:
                run.precision.scaler.scale(scaled).backward()
            else:
                scaled.backward()
            losses.append(float(loss.detach()))
        params = [p for g in run.optimizer.param_groups for p in g["params"]]
        if run.precision.scaler is not None:
            run.precision.scaler.unscale_(run.optimizer)
            torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
            run.precision.scaler.step(run.optimizer)
            run.precision.scaler.update()
        else:
            torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
            run.optimizer.step()
        lr = run.lr_scheduler.get_last_lr()[0]
        run.lr_scheduler.step()
        self.state.step += 1
        self.state.group_in_epoch += 1
        loss_value = sum(losses) / len(losses)
        previous = self.state.smoothed_loss
        smoothed = loss_value if previous is None else SMOOTHING * previous + (1 - SMOOTHING) * loss_value
        self.state.smoothed_loss = smoothed
        if run.precision.cuda:
            torch.cuda.synchronize(run.precision.device)
        self._step_times.append(time.perf_counter() - started)
        peak, total = peak_vram_gb(run.precision)
        self.events.emit(
            "step",
            step=self.state.step,
            total=run.total_steps,
            epoch=self.state.epoch + 1,
            loss=loss_value,
            smoothed_loss=smoothed,
            lr=lr,
            seconds_per_step=self.seconds_per_step,
            peak_vram_gb=peak,
            vram_total_gb=total,
        )

    @property
    def seconds_per_step(self) -> float | None:
        if not self._step_times:
            return None
        return sum(self._step_times) / len(self._step_times)

    def batch_loss(self, run: Run, batch: list[Sample]) -> torch.Tensor:
        model = run.model
        texts = [run.captions.make(sample.caption) for sample in batch]
        latents = run.latents.batch(batch)
        noise, timesteps = draw_noise(
            latents, self.noise, self.config.noise_offset, model.noise_scheduler.config.num_train_timesteps
        )
        noisy = model.noise_scheduler.add_noise(latents, noise, timesteps)
        with run.precision.autocast():
            conditioning = run.text.batch(texts)
            extra = {}
            if model.is_sdxl:
                extra["added_cond_kwargs"] = {
                    "text_embeds": conditioning.pooled,
                    "time_ids": _time_ids(batch).to(latents.device),
                }
            prediction = model.unet(
                noisy, timesteps, encoder_hidden_states=conditioning.hidden, **extra
            ).sample
        return diffusion_loss(
            prediction,
            latents,
            noise,
            timesteps,
            model.noise_scheduler,
            model.prediction_type,
            self.config.min_snr_gamma,
        )

    def _non_finite(self, loss: torch.Tensor, batch: list[Sample]) -> TrainingError:
        step = self.state.step + 1
        images = sorted({sample.relative for sample in batch})
        return TrainingError(
            "nan",
            f"The loss became {float(loss.detach())} at step {step} (epoch {self.state.epoch + 1}) on "
            f"the batch {', '.join(images)}. Training stopped rather than spread it into the "
            "LoRA. Lower the learning rate, or check those images.",
            {"images": images, "loss": str(float(loss.detach())), "step": step},
        )

    # Around the steps --------------------------------------------------------

    def _after_step(self, run: Run) -> None:
        if self.job.dry_run_steps is not None:
            return
        step = self.state.step
        every_samples = self.config.sample_every_n_steps
        if every_samples and self.config.sample_prompts and step % every_samples == 0:
            self._samples(run)
        every_save = self.config.save_every_n_steps
        if every_save and step % every_save == 0 and step < run.total_steps:
            self._checkpoint(run)

    def _end_epoch(self, run: Run) -> None:
        self.state.epoch += 1
        self.state.order = None
        self.state.group_in_epoch = 0
        every = self.config.save_every_n_epochs
        if (
            self.job.dry_run_steps is None
            and every
            and self.state.epoch % every == 0
            and self.state.step < run.total_steps
        ):
            self._checkpoint(run)

    def _samples(self, run: Run) -> None:
        folder = self.output_dir / "samples"
        with _sampling_devices(run):
            made = make_samples(
                run.model,
                run.text,
                run.precision,
                list(self.config.sample_prompts),
                self.state.step,
                folder,
                self.config.seed,
                self.job.sample_steps,
                self.config.resolution,
            )
        for image in made:
            self.events.emit(
                "sample", step=self.state.step, index=image.index, prompt=image.prompt, path=str(image.path)
            )

    def _checkpoint(self, run: Run) -> Path:
        if self._last_checkpoint == self.state.step and (
            path := self.checkpoints / ckpt.folder_name(self.state.step)
        ).is_dir():
            return path
        tensors, metadata = self._kohya(run)
        training = {
            "optimizer": run.optimizer.state_dict(),
            "lr_scheduler": run.lr_scheduler.state_dict(),
            "scaler": run.precision.scaler.state_dict() if run.precision.scaler else None,
        }
        snapshot = ckpt.Snapshot(
            self.state,
            lora_state(run.loras),
            training,
            ckpt.capture_rng(self.noise, run.captions.rng),
        )
        path = ckpt.save_checkpoint(self.checkpoints, snapshot, save(tensors, metadata=metadata))
        self._last_checkpoint = self.state.step
        ckpt.rotate(self.checkpoints, self.config.save_last_n)
        lora_path = path / "lora.safetensors"
        verification = self._verify(lora_path)
        self.events.emit(
            "checkpoint",
            step=self.state.step,
            epoch=self.state.epoch + (0 if self.state.order is None else 1),
            path=str(path),
            lora_path=str(lora_path),
            verified=verification.as_event(),
        )
        return path

    def _resume(self, run: Run) -> int | None:
        found = ckpt.newest_complete(self.checkpoints)
        if found is None:
            log("resume asked, but no complete checkpoint yet: starting from step 0")
            return None
        snapshot = ckpt.load_checkpoint(found)
        try:
            load_lora_state(run.loras, snapshot.lora)
            run.optimizer.load_state_dict(snapshot.training["optimizer"])
        except (ValueError, RuntimeError, KeyError) as exc:
            raise TrainingError(
                "bad_config",
                f"The checkpoint {found.name} was trained with other network or optimizer "
                "settings (rank, text encoder training, optimizer) and cannot continue with "
                "these. Start a fresh run in an empty output folder.",
            ) from exc
        run.lr_scheduler.load_state_dict(snapshot.training["lr_scheduler"])
        if run.precision.scaler is not None and snapshot.training["scaler"]:
            run.precision.scaler.load_state_dict(snapshot.training["scaler"])
        ckpt.restore_rng(snapshot.rng, self.noise, run.captions.rng)
        saved = snapshot.state
        self.state.step, self.state.epoch = saved.step, saved.epoch
        self.state.smoothed_loss = saved.smoothed_loss
        if saved.order_fingerprint == run.order_fingerprint:
            self.state.order, self.state.group_in_epoch = saved.order, saved.group_in_epoch
        else:
            log("the dataset or batch settings changed since the checkpoint: epoch restarts")
            self.state.order, self.state.group_in_epoch = None, 0
        self._last_checkpoint = saved.step
        log(f"resumed from {found.name} (step {saved.step})")
        return saved.step

    # The end -----------------------------------------------------------------

    def _stop_early(self, run: Run) -> Path:
        path = self._checkpoint(run)
        lora_path = path / "lora.safetensors"
        self._done(run, lora_path, complete=False, verification=None)
        return lora_path

    def _finish(self, run: Run) -> Path:
        tensors, metadata = self._kohya(run)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.config.output_name or self.job.project)
        lora_path = save_kohya(self.output_dir / f"{name}.safetensors", tensors, metadata)
        verification = self._verify(lora_path)
        if not verification.changes_output:
            raise TrainingError(
                "bad_config",
                f"Training finished, but the LoRA {lora_path.name} changes nothing in the "
                "model's output: the learning rate or the number of steps is too small.",
                {"lora_path": str(lora_path)},
            )
        self._done(run, lora_path, complete=True, verification=verification)
        return lora_path

    def _done(
        self, run: Run, lora_path: Path, complete: bool, verification: Verification | None
    ) -> None:
        peak, _ = peak_vram_gb(run.precision)
        self.events.emit(
            "done",
            step=self.state.step,
            total=run.total_steps,
            complete=complete,
            lora_path=str(lora_path),
            verified=verification.as_event() if verification else None,
            seconds=round(time.time() - self._started, 3),
            seconds_per_step=self.seconds_per_step,
            peak_vram_gb=peak,
        )

    def _kohya(self, run: Run) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        layers = int(run.model.unet.config.layers_per_block)
        tensors = kohya_tensors(run.loras, self.job.base_model.family, layers)
        facts = RunFacts(run.samples, run.total_steps, self._started, self._session)
        epoch = self.state.epoch + (0 if self.state.order is None else 1)
        metadata = lora_metadata(self.job, facts, self.state.step, epoch, tensor_hash(tensors))
        return tensors, metadata

    def _verify(self, lora_path: Path) -> Verification:
        assert self.run is not None
        if self._verifier is None:
            dtype = torch.float32 if not self.run.precision.cuda else torch.bfloat16
            self._verifier = Verifier(
                self.job.base_model, self.run.cache_dir, dtype, self.job.trigger_word
            )
        devices = [self.run.precision.device.index or 0] if self.run.precision.cuda else []
        with torch.random.fork_rng(devices=devices):
            verification = self._verifier.verify(lora_path)
        if verification.unmatched:
            raise TrainingError(
                "crash",
                f"The saved LoRA {lora_path.name} does not load cleanly in diffusers: "
                f"{len(verification.unmatched)} of its keys match nothing "
                f"({', '.join(verification.unmatched[:3])}). This is a loragate bug.",
                {"unmatched": verification.unmatched[:20]},
            )
        if not verification.changes_output:
            log(f"{lora_path.name} does not change the model's output yet")
        return verification


def _time_ids(batch: list[Sample]) -> torch.Tensor:
    """SDXL's size conditioning per image: original size, crop corner, target size
    (each height first), as sd-scripts and diffusers compute them."""
    rows = []
    for sample in batch:
        top, left = crop_top_left(sample)
        width, height = sample.size
        bucket_w, bucket_h = sample.bucket
        rows.append([height, width, top, left, bucket_h, bucket_w])
    return torch.tensor(rows, dtype=torch.float32)


@contextmanager
def _sampling_devices(run: Run) -> Iterator[None]:
    """The VAE and text encoders on the training device while sampling (caching may
    have sent them to the CPU to free GPU memory), back where they were after."""
    modules = [run.model.vae, *run.model.text_encoders]
    devices = [next(module.parameters()).device for module in modules]
    for module in modules:
        module.to(run.precision.device)
    try:
        yield
    finally:
        for module, device in zip(modules, devices, strict=True):
            module.to(device)
        if run.precision.cuda:
            torch.cuda.empty_cache()
