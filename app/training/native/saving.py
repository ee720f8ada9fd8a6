"""What a run writes and reads back: checkpoints (with the kohya LoRA of that step),
resuming from the newest complete one, and the final LoRA, each verified in a separate
copy of the base model right after it is written.

With several processes, every process takes part in a checkpoint (its random states
are gathered into it) and in a resume (each restores its own), but only process 0
writes files, verifies and reports.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save

from app.training.job import NativeJob
from app.training.native import checkpoint as ckpt
from app.training.native.distributed import gather
from app.training.native.errors import TrainingError
from app.training.native.events import ProgressWriter, log
from app.training.native.kohya import kohya_tensors, save_kohya, tensor_hash
from app.training.native.lora import load_lora_state, lora_state
from app.training.native.metadata import RunFacts, lora_metadata
from app.training.native.setup import Run
from app.training.native.verify import Verification, Verifier


class Saver:
    def __init__(self, job: NativeJob, events: ProgressWriter) -> None:
        self.job = job
        self.events = events
        self.output_dir = Path(job.output_dir)
        self.checkpoints = self.output_dir / "checkpoints"
        self.started = time.time()
        self.session = secrets.token_hex(8)
        self.last_checkpoint: int | None = None
        self._verifier: Verifier | None = None

    @property
    def final_path(self) -> Path:
        name = self.job.config.output_name or self.job.project
        return self.output_dir / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.safetensors"

    def refuse_overwrite(self) -> None:
        """A fresh run never overwrites an earlier run's checkpoints or finished LoRA."""
        job = self.job
        if job.resume or job.dry_run_steps is not None:
            return
        if ckpt.complete_checkpoints(self.checkpoints):
            raise TrainingError(
                "bad_config",
                f"{self.checkpoints} already holds checkpoints of an earlier run. Resume it, "
                "or train into an empty output folder so nothing is overwritten.",
            )
        if self.final_path.exists():
            raise TrainingError(
                "bad_config",
                f"{self.final_path.name} already exists in {self.output_dir}: an earlier run "
                "finished there. Train into an empty output folder, or move that LoRA "
                "elsewhere first, so nothing is overwritten.",
            )

    def prepare_output(self) -> None:
        """Create the output folder and prove it takes a file, before minutes of model
        loading: a folder the trainer cannot write is a setting to fix, not a crash."""
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.output_dir, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise TrainingError(
                "bad_config",
                f"The trainer cannot write to the output folder {self.output_dir} "
                f"({exc.strerror or exc}). Choose a folder you can write to, or fix its "
                "permissions.",
            ) from None

    def checkpoint(self, run: Run, state: ckpt.TrainerState, noise: torch.Generator) -> Path:
        path = self.checkpoints / ckpt.folder_name(state.step)
        if self.last_checkpoint == state.step:
            return path  # an epoch end right after a step save: already written
        rng = gather(ckpt.capture_rng(noise, run.captions.rng), run.cluster)
        tensors, metadata = self.kohya(run, state)
        if len(set(gather(metadata["modelspec.hash_sha256"], run.cluster))) > 1:
            raise TrainingError(
                "crash",
                "The GPUs' copies of the LoRA no longer agree, so their gradients were not "
                "averaged correctly. This is a loragate bug; train on one GPU meanwhile.",
            )
        self.last_checkpoint = state.step
        if not run.cluster.main:
            return path
        training = {
            "optimizer": run.optimizer.state_dict(),
            "lr_scheduler": run.lr_scheduler.state_dict(),
            "scaler": run.precision.scaler.state_dict() if run.precision.scaler else None,
        }
        snapshot = ckpt.Snapshot(state, lora_state(run.loras), training, {"processes": rng})
        path = ckpt.save_checkpoint(self.checkpoints, snapshot, save(tensors, metadata=metadata))
        ckpt.rotate(self.checkpoints, self.job.config.save_last_n)
        lora_path = path / "lora.safetensors"
        verification = self.verify(run, lora_path)
        self.events.emit(
            "checkpoint",
            step=state.step,
            epoch=_epoch(state),
            path=str(path),
            lora_path=str(lora_path),
            verified=verification.as_event(),
        )
        return path

    def resume(self, run: Run, state: ckpt.TrainerState, noise: torch.Generator) -> int | None:
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
        processes = snapshot.rng["processes"]
        if run.cluster.rank < len(processes):
            ckpt.restore_rng(processes[run.cluster.rank], noise, run.captions.rng)
        else:
            log(f"the checkpoint was written by {len(processes)} process(es): fresh random streams")
        saved = snapshot.state
        state.step, state.epoch, state.smoothed_loss = saved.step, saved.epoch, saved.smoothed_loss
        same_order = (
            saved.order_fingerprint == run.order_fingerprint and len(processes) == run.cluster.world
        )
        if same_order:
            state.order, state.group_in_epoch = saved.order, saved.group_in_epoch
        else:
            log(
                "the dataset, batch settings or GPU count changed since the checkpoint: the epoch restarts"
            )
            state.order, state.group_in_epoch = None, 0
        self.last_checkpoint = saved.step
        log(f"resumed from {found.name} (step {saved.step})")
        return saved.step

    def final(self, run: Run, state: ckpt.TrainerState) -> tuple[Path, Verification]:
        tensors, metadata = self.kohya(run, state)
        lora_path = save_kohya(self.final_path, tensors, metadata)
        verification = self.verify(run, lora_path)
        if not verification.changes_output:
            raise TrainingError(
                "bad_config",
                f"Training finished, but the LoRA {lora_path.name} changes nothing in the "
                "model's output: the learning rate or the number of steps is too small.",
                {"lora_path": str(lora_path)},
            )
        return lora_path, verification

    def kohya(
        self, run: Run, state: ckpt.TrainerState
    ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        layers = int(run.model.unet.config.layers_per_block)
        tensors = kohya_tensors(run.loras, self.job.base_model.family, layers)
        facts = RunFacts(run.samples, run.total_steps, run.epochs, self.started, self.session)
        metadata = lora_metadata(self.job, facts, state.step, _epoch(state), tensor_hash(tensors))
        return tensors, metadata

    def verify(self, run: Run, lora_path: Path) -> Verification:
        if self._verifier is None:
            # A GPU run: a second copy of the base model on the CPU, in bfloat16 (half the
            # host memory of float32). A CPU run: no second copy (it would double the
            # run's memory at every save); the check shares the training model's frozen
            # weights and must reproduce its output (verify.py).
            cuda = run.precision.cuda
            shared = not cuda and run.precision.weight_dtype == torch.float32
            self._verifier = Verifier(
                self.job.base_model,
                run.cache_dir,
                torch.bfloat16 if cuda else torch.float32,
                self.job.trigger_word,
                trained=run.model if shared else None,
            )
        devices = [run.precision.device.index or 0] if run.precision.cuda else []
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
        if not verification.reproduces:
            raise TrainingError(
                "crash",
                f"The saved LoRA {lora_path.name}, loaded in diffusers, does not reproduce "
                "the trained model's output (largest difference "
                f"{verification.difference_from_training:.3g}). This is a loragate bug.",
                {"difference": verification.difference_from_training},
            )
        if not verification.changes_output:
            log(f"{lora_path.name} does not change the model's output yet")
        return verification


def _epoch(state: ckpt.TrainerState) -> int:
    """The epoch the last step belongs to (1-based)."""
    return state.epoch + (0 if state.order is None else 1)
