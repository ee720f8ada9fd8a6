"""Training: the config model, presets, estimates, backend adapters, the native trainer
and the run supervisor."""
