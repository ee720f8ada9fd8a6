"""loragate's own trainer: SD 1.5 and SDXL LoRAs with diffusers and peft, run as
``python -m app.training.native JOB.json`` in its own process.

It talks to the app through JSON lines on stdout (``events``) and files on disk: the
checkpoints (``checkpoint``), samples, and the final kohya-format LoRA (``kohya``) that
ComfyUI, AUTOMATIC1111 and diffusers load, verified after every save (``verify``).
"""
