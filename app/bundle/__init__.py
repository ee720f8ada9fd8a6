"""The cloud GPU bundle: one archive to train a project on a rented GPU (``export``), and
the way its results come home (``import_``). The archive's paths and names are shared
here, so both ends agree."""

from __future__ import annotations

# The configs inside a bundle name this folder; the launch script replaces it with the
# folder the bundle was unpacked into, once, before anything reads them.
PLACEHOLDER = "/LORAGATE_BUNDLE_DIR"
MANIFEST = "manifest.json"
FORMAT = 1
RESULTS_ARCHIVE = "results.zip"
# Folders of the unpacked bundle: the run writes OUTPUT_DIR and LOGS_DIR, and the
# results archive holds exactly those two.
OUTPUT_DIR = "output"
LOGS_DIR = "logs"
DRY_RUN_STEPS = 10
