"""Tiny models (built once per session), a tiny kohya dataset, and job files for the
native trainer's tests. Everything runs on the CPU in float32."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from app.training.config import TrainingConfig
from app.training.job import BaseModelRef, NativeJob
from tests.tiny_models import (
    build_tiny_sd15,
    build_tiny_sdxl,
    export_config_dir,
    export_single_file,
    make_kohya_dataset,
)

TRIGGER = "zkstyle"
# Small, fast and still meaningful: alpha differs from rank so a tool that ignores
# alpha would load the wrong strength.
BASE_CONFIG: dict[str, Any] = {
    "device": "cpu",
    "mixed_precision": "no",
    "resolution": 64,
    "min_bucket_reso": 64,
    "max_bucket_reso": 128,
    "bucket_reso_steps": 16,
    "network_rank": 4,
    "network_alpha": 2.0,
    "unet_lr": 1e-3,
    "text_encoder_lr": 1e-3,
    "lr_scheduler": "constant",
    "train_batch_size": 2,
    "epochs": 1,
    "save_every_n_epochs": None,
    "cache_latents": False,
    "gradient_checkpointing": False,
    "min_snr_gamma": None,
    "seed": 7,
}


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from a second thread, and on a shared 2-core machine
    two spinning threads make step times erratic (0.1 s → several s)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def sd15_dir(models_root: Path) -> Path:
    return build_tiny_sd15(models_root / "sd15")


@pytest.fixture(scope="session")
def sd15_v_dir(models_root: Path) -> Path:
    """The tiny SD 1.5 trained for v-prediction."""
    return build_tiny_sd15(models_root / "sd15_v", prediction_type="v_prediction")


@pytest.fixture(scope="session")
def sdxl_dir(models_root: Path) -> Path:
    return build_tiny_sdxl(models_root / "sdxl")


@pytest.fixture(scope="session")
def sd15_single(models_root: Path, sd15_dir: Path) -> BaseModelRef:
    """The tiny SD 1.5 as one LDM-layout .safetensors, with its own config folder."""
    file = export_single_file(sd15_dir, models_root / "sd15-single.safetensors")
    configs = export_config_dir(sd15_dir, models_root / "sd15-configs")
    return BaseModelRef(path=str(file), family="sd15", config_dir=str(configs))


@pytest.fixture(scope="session")
def sdxl_single(models_root: Path, sdxl_dir: Path) -> BaseModelRef:
    file = export_single_file(sdxl_dir, models_root / "sdxl-single.safetensors")
    configs = export_config_dir(sdxl_dir, models_root / "sdxl-configs")
    return BaseModelRef(path=str(file), family="sdxl", config_dir=str(configs))


@pytest.fixture(scope="session")
def sd15_ref(sd15_dir: Path) -> BaseModelRef:
    return BaseModelRef(path=str(sd15_dir), family="sd15")


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 64×64 images repeated twice: 16 samples, 8 batches of two per epoch."""
    return make_kohya_dataset(tmp_path_factory.mktemp("dataset"), trigger=TRIGGER)


MakeJob = Callable[..., NativeJob]


@pytest.fixture(scope="session")
def job_at(dataset_dir: Path) -> MakeJob:
    """A job writing into the given output folder: base, output, job fields, config."""

    def make(base: BaseModelRef, output: Path, job: dict | None = None, **config: Any) -> NativeJob:  # type: ignore[type-arg]
        return NativeJob(
            project="ink-wash",
            trigger_word=TRIGGER,
            base_model=base,
            dataset_dir=str(dataset_dir),
            output_dir=str(output),
            config=TrainingConfig(**(BASE_CONFIG | config)),
            **(job or {}),
        )

    return make


@pytest.fixture
def make_job(tmp_path: Path, job_at: MakeJob) -> MakeJob:
    """A job writing into a new folder under this test's tmp_path."""
    counter = iter(range(1000))

    def make(base: BaseModelRef, job: dict | None = None, **config: Any) -> NativeJob:  # type: ignore[type-arg]
        return job_at(base, tmp_path / f"run-{next(counter)}", job, **config)

    return make
