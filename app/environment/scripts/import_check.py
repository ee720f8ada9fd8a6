"""Can this Python import a trainer's packages? Which versions are installed?

Usage: import_check.py [--path DIR] SPEC [SPEC ...]
  SPEC is ``module`` or ``module:attribute`` (``diffusers:UNet2DConditionModel``);
  --path puts a folder first on sys.path (a trainer's clone).
Prints one JSON line: the Python version and, per SPEC, ok / error / version.
"""

from __future__ import annotations

import importlib
import json
import sys


def distribution_version(module: str):
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python < 3.8
        return None
    try:
        return version(module.split(".")[0])
    except PackageNotFoundError:
        return None


def check(spec: str) -> dict:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        if attribute:
            getattr(module, attribute)
    except BaseException as exc:  # SystemExit and friends too: nothing may end the probe
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    version = getattr(module, "__version__", None) or distribution_version(module_name)
    return {"ok": True, "version": None if version is None else str(version)}


def main() -> None:
    arguments = sys.argv[1:]
    if arguments[:1] == ["--path"]:
        sys.path.insert(0, arguments[1])
        arguments = arguments[2:]
    results = {spec: check(spec) for spec in arguments}
    print(
        json.dumps(
            {"python": sys.version.split()[0], "executable": sys.executable, "modules": results}
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
