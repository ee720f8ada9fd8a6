"""The training loop: optimizer steps over bucketed batches, progress events, samples,
checkpoints and resume (``saving``), and the final verified LoRA file.

A step is one optimizer update over ``gradient_accumulation_steps`` batches (per
process, when several GPUs train together: see ``distributed``). The loss of every
batch is checked before its gradients are used: a non-finite loss stops the run at
once, naming the step and that batch's images, instead of training on.

Test-only switch: ``LORAGATE_TEST_INJECT_OOM_AT_STEP=k`` makes optimizer step k raise
``torch.OutOfMemoryError``, only when the job has gradient checkpointing off, so a test
can stand in for a config that fits only with gradient checkpointing (the OOM ladder's
first rung) on a machine without a GPU. It surfaces as the normal ``error`` event of
kind "oom". Nothing outside the tests sets it.
"""

from __future__ import annotations

import os
import time
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from app.training.job import NativeJob
from app.training.native import distributed
from app.training.native.checkpoint import TrainerState
from app.training.native.dataset import Sample
from app.training.native.distributed import Cluster
from app.training.native.errors import TrainingError, classify
from app.training.native.events import ProgressWriter, log
from app.training.native.loss import diffusion_loss, draw_noise
from app.training.native.optim import MAX_GRAD_NORM
from app.training.native.order import epoch_batches, optimizer_groups
from app.training.native.pixels import crop_top_left
from app.training.native.precision import peak_vram_gb, reset_peak_vram
from app.training.native.samples import make_samples
from app.training.native.saving import Saver
from app.training.native.setup import Run, prepare
from app.training.native.verify import Verification

SMOOTHING = 0.9  # exponential moving average of the loss shown as "smoothed"
TIMING_WINDOW = 20  # steps averaged for seconds per step
SEED_STRIDE = 1_000_003  # apart enough that processes' noise seeds never meet
INJECT_OOM_VARIABLE = "LORAGATE_TEST_INJECT_OOM_AT_STEP"  # test-only: see the docstring


class Trainer:
    def __init__(
        self, job: NativeJob, events: ProgressWriter | None = None, cluster: Cluster | None = None
    ) -> None:
        self.job = job
        self.config = job.config
        self.cluster = cluster or Cluster()
        self.events = events or ProgressWriter()
        self.saver = Saver(job, self.events)
        self.state = TrainerState(0, 0, 0, None, "", None, 0)
        self.noise = torch.Generator()
        self.run: Run | None = None
        self._step_times: deque[float] = deque(maxlen=TIMING_WINDOW)
        self._inject_oom_at = _injected_oom_step()

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
            if self.cluster.enabled:
                error.details["process"] = self.cluster.rank
            # Every process detects a non-finite loss together; process 0 reports it
            # with every process's images. Anything else each process reports itself.
            if self.cluster.main or error.kind != "nan":
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
            "processes": self.cluster.world,
            "peak_vram_gb": peak,
            "vram_total_gb": total,
        }

    # The run -----------------------------------------------------------------

    def _train(self) -> Path:
        job = self.job
        self.saver.refuse_overwrite()
        distributed.start(self.cluster, self.config.device)
        self.saver.prepare_output()
        run = self.run = prepare(job, self.cluster)
        self.noise.manual_seed(self.config.seed + SEED_STRIDE * self.cluster.rank)
        self.state.total_steps = run.total_steps
        self.state.order_fingerprint = run.order_fingerprint
        resumed_from = self.saver.resume(run, self.state, self.noise) if job.resume else None
        self.events.emit(
            "start",
            total=run.total_steps,
            steps_per_epoch=run.steps_per_epoch,
            epochs=run.epochs,
            images=len(run.samples),
            samples_per_epoch=sum(s.repeats for s in run.samples),
            resumed_from=resumed_from,
            device=str(run.precision.device),
            processes=self.cluster.world,
        )
        # The peak VRAM each step reports is training's, not model loading's.
        reset_peak_vram(run.precision)
        stop_at = job.stop_after_steps
        while self.state.step < run.total_steps:
            if self.state.order is None:
                self.state.order = epoch_batches(
                    run.samples, self.config.train_batch_size, self.config.seed, self.state.epoch
                )
                self.state.group_in_epoch = 0
            mine = distributed.shard(self.state.order, self.cluster)
            groups = optimizer_groups(mine, self.config.gradient_accumulation_steps)
            while self.state.group_in_epoch < len(groups) and self.state.step < run.total_steps:
                self.optimizer_step(run, groups[self.state.group_in_epoch])
                self._after_step(run)
                if stop_at is not None and self.state.step >= stop_at < run.total_steps:
                    return self._stop_early(run)
            if self.state.group_in_epoch >= len(groups):
                self._end_epoch(run)
        return self._finish(run)

    def optimizer_step(self, run: Run, group: list[list[int]]) -> None:
        """One optimizer update over the batches of ``group`` (indices into the
        samples), with its ``step`` event."""
        started = time.perf_counter()
        if self._inject_oom_at == self.state.step + 1 and not self.config.gradient_checkpointing:
            raise torch.OutOfMemoryError(
                f"CUDA out of memory (injected by {INJECT_OOM_VARIABLE}, a test-only switch)"
            )
        run.optimizer.zero_grad(set_to_none=True)
        losses = []
        for batch_indices in group:
            batch = [run.samples[i] for i in batch_indices]
            loss = self.batch_loss(run, batch)
            finite = bool(torch.isfinite(loss))
            if not distributed.all_true(finite, self.cluster, run.precision.device):
                raise self._non_finite(loss, batch, finite)
            scaled = loss / len(group)
            if run.precision.scaler is not None:
                run.precision.scaler.scale(scaled).backward()
            else:
                scaled.backward()
            losses.append(float(loss.detach()))
        params = [p for g in run.optimizer.param_groups for p in g["params"]]
        distributed.average_gradients(params, self.cluster)
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
        loss_value = distributed.mean(sum(losses) / len(losses), self.cluster, run.precision.device)
        previous = self.state.smoothed_loss
        smoothed = (
            loss_value if previous is None else SMOOTHING * previous + (1 - SMOOTHING) * loss_value
        )
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
        """The training loss of one batch, drawing its captions and noise from the run's
        random streams."""
        model = run.model
        texts = [run.captions.make(sample.caption) for sample in batch]
        latents = run.latents.batch(batch)
        timesteps_count = model.noise_scheduler.config.num_train_timesteps
        noise, timesteps = draw_noise(
            latents, self.noise, self.config.noise_offset, timesteps_count
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

    def _non_finite(self, loss: torch.Tensor, batch: list[Sample], finite: bool) -> TrainingError:
        step = self.state.step + 1
        mine = [] if finite else sorted({sample.relative for sample in batch})
        images = sorted(
            {name for names in distributed.gather(mine, self.cluster) for name in names}
        )
        value = float(loss.detach()) if not finite else float("nan")
        return TrainingError(
            "nan",
            f"The loss became {value} at step {step} (epoch {self.state.epoch + 1}) on the "
            f"batch {', '.join(images)}. Training stopped rather than spread it into the "
            "LoRA. Lower the learning rate, or check those images.",
            {"images": images, "loss": str(value), "step": step},
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
            self.saver.checkpoint(run, self.state, self.noise)

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
            self.saver.checkpoint(run, self.state, self.noise)

    def _samples(self, run: Run) -> None:
        if not self.cluster.main:
            return
        with _sampling_devices(run):
            made = make_samples(
                run.model,
                run.text,
                run.precision,
                list(self.config.sample_prompts),
                self.state.step,
                Path(self.job.output_dir) / "samples",
                self.config.seed,
                self.job.sample_steps,
                self.config.resolution,
            )
        for image in made:
            self.events.emit(
                "sample",
                step=self.state.step,
                index=image.index,
                prompt=image.prompt,
                path=str(image.path),
            )

    # The end -----------------------------------------------------------------

    def _stop_early(self, run: Run) -> Path:
        lora_path = self.saver.checkpoint(run, self.state, self.noise) / "lora.safetensors"
        self._done(run, lora_path, complete=False, verification=None)
        distributed.finish(self.cluster)
        return lora_path

    def _finish(self, run: Run) -> Path:
        if self.job.dry_run_steps is not None:
            # The dry run proves every kind of save the real run will make, and draws
            # each sample prompt once: a line that cannot be drawn fails now.
            self.saver.checkpoint(run, self.state, self.noise)
            if self.config.sample_prompts:
                self._samples(run)
        lora_path = Path(self.job.output_dir)
        if self.cluster.main:
            lora_path, verification = self.saver.final(run, self.state)
            self._done(run, lora_path, complete=True, verification=verification)
        distributed.finish(self.cluster)
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
            seconds=round(time.time() - self.saver.started, 3),
            seconds_per_step=self.seconds_per_step,
            peak_vram_gb=peak,
        )


def _injected_oom_step() -> int | None:
    """The step the test-only switch fails at, if a test set it."""
    value = os.environ.get(INJECT_OOM_VARIABLE, "").strip()
    return int(value) if value.isdigit() else None


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
