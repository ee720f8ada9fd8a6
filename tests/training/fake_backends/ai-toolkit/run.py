"""Stand-in for ai-toolkit run.py (tests only): see fake_trainer.py."""

import fake_trainer

if __name__ == "__main__":
    fake_trainer.ai_toolkit()
