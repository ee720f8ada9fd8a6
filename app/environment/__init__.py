"""The training environment: the GPU and its driver, PyTorch, a kernel smoke test, the
chosen trainer (backend), free disk and memory, the Python version. Each module probes
one concern and turns what it found into findings; ``app/gates/environment.py`` runs
them together as Gate 3."""
