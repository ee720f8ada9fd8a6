"""The kinds of failure a training run reports, and the text that marks an out-of-memory
error, shared by the native trainer (``native.errors``) and the parser of every trainer's
output (``trainer_output``). No torch here: the parser runs in the run supervisor.

- ``oom``: the GPU ran out of memory; the supervisor re-plans (OOM ladder).
- ``nan``: the loss stopped being a number; training on would only spread it.
- ``missing_file``: something the run needs is not there or cannot be read.
- ``bad_config``: the job asks for something that cannot work as written (native).
- ``bad_argument``: an external trainer refused its command line or config file.
- ``crash``: anything else; the traceback is in the run's log.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal["oom", "nan", "missing_file", "bad_config", "crash"]
FailureKind = ErrorKind | Literal["bad_argument"]

# What an allocation failure looks like when it is not a torch.cuda.OutOfMemoryError:
# cuBLAS/cuDNN workspace failures and errors raised from inside CUDA kernels
# (FIELD-FACTS "OOM signatures").
OOM_SIGNATURES = (
    "CUDA out of memory",
    "CUDA error: out of memory",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_NOT_ENOUGH_WORKSPACE",
    "OutOfMemoryError",
)
