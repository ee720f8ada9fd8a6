"""The four gates. No training starts unless the newest result of every gate is not
``block`` AND was computed on the inputs as they are now (same fingerprint).

Contract for a gate module ``app/gates/{name}.py`` (dataset, config, environment,
dryrun):

- ``fingerprint(ctx: ProjectContext) -> dict[str, str]``: a digest per input the gate
  judges (e.g. ``{"images": ..., "captions": ..., "intent": ...}``), cheap enough to
  compute on every overview page load. ``state.py`` compares it with the stored one and
  names the parts that changed.
- ``evaluate(ctx: ProjectContext) -> GateResult``: judge the inputs, with findings.
- ``store.record_result(ctx, result)`` saves it and journals the verdict.

A gate without a module yet shows as "not run" and blocks training.
"""

GATE_NAMES = ("dataset", "config", "environment", "dryrun")
