"""Models by name: a curated catalogue of base models and captioners, downloaded with
huggingface_hub into its own cache (``HF_HOME``, ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE``
honoured), and the models already on this computer found again without the network."""
