"""The training environment: the GPU and its driver, PyTorch, a kernel smoke test, the
chosen trainer (backend), free disk and memory, the Python version. Each module probes
one concern and turns what it found into findings; ``app/gates/environment.py`` runs
them together as Gate 3.

The probes that training reads too (to pick the device, to estimate disk) are modules of
their own beside the packages, so that training never imports the environment:
``app/gpu_probe.py`` (NVML), ``app/cuda_matrix.py`` (its tables) and
``app/disk_space.py``."""
