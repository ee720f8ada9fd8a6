"""Optimizers that live outside PyTorch: which package each trainer imports for them.

The config spells optimizers one way (``adamw8bit``, ``prodigy``, ``lion``); each
trainer imports its own package for them. The native trainer refuses a job whose
package is missing (``app/training/native/jobfile.py``) and Gate 3 imports the package
with the trainer's Python before that (``app/environment/backends.py``), so both name
the same package and the same install command. Read from:

- native: ``app/training/native/optim.py``;
- kohya sd-scripts: ``library/train_util.py`` ``get_optimizer`` (``import bitsandbytes``,
  ``import prodigyopt``, ``import lion_pytorch``);
- ai-toolkit: ``toolkit/optimizer.py`` (the same three);
- SimpleTuner: ``simpletuner/helpers/training/optimizer_param.py`` (``bitsandbytes``
  for ``bnb-adamw8bit``, ``prodigyplus`` for ``prodigy``, ``optimi`` for ``optimi-lion``).

No torch import here: the web server and Gate 3 read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptimizerPackage:
    module: str  # what the trainer imports
    pip_name: str  # what pip installs

    def install_command(self, python: str) -> str:
        return f"{python} -m pip install {self.pip_name}"


BITSANDBYTES = OptimizerPackage("bitsandbytes", "bitsandbytes")
PRODIGYOPT = OptimizerPackage("prodigyopt", "prodigyopt")
LION_PYTORCH = OptimizerPackage("lion_pytorch", "lion-pytorch")

_COMMON = {"adamw8bit": BITSANDBYTES, "prodigy": PRODIGYOPT, "lion": LION_PYTORCH}
PACKAGES: dict[str, dict[str, OptimizerPackage]] = {
    "native": _COMMON,
    "kohya": _COMMON,
    "ai-toolkit": _COMMON,
    "simpletuner": {
        "adamw8bit": BITSANDBYTES,
        "prodigy": OptimizerPackage("prodigyplus", "prodigy-plus-schedule-free"),
        "lion": OptimizerPackage("optimi", "torch-optimi"),
    },
}
# bitsandbytes' 8-bit optimizer states live on the GPU: the native trainer refuses
# adamw8bit on the CPU.
NEEDS_CUDA = frozenset({"adamw8bit"})


def optimizer_package(backend: str, optimizer: str) -> OptimizerPackage | None:
    """The package ``backend`` imports for ``optimizer``; None when PyTorch has it."""
    return PACKAGES.get(backend, {}).get(optimizer)
