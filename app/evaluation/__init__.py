"""Evaluation: grids, diagnosis and registration of finished LoRAs."""
