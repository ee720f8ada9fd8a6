"""Stand-in for sd-scripts sdxl_train_network.py (tests only): see fake_trainer.py."""

import fake_trainer

if __name__ == "__main__":
    fake_trainer.kohya("sdxl_train_network.py")
