"""Stand-in for sd-scripts train_network.py (tests only): see fake_trainer.py."""

import fake_trainer

if __name__ == "__main__":
    fake_trainer.kohya("train_network.py")
