"""The packages of app/ import each other one way only: a package that imports another is
never imported back by it. Read from the source with ``ast`` (lazy imports inside
functions count too: they still tie the two packages together)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# How the once-tangled pairs stand now: training reads the dataset's inventory and
# buckets, captions stand on the dataset's files and rows, and what needs the training
# config or the captions as well (the import of images with their sidecars, the folder
# and project audits, curation, the layout) is app.curation above all three. Gate
# results are stored by the project audit and the environment job (app.gate_records)
# only. The environment stands on training; the GPU and disk probes training reads too
# are modules beside both: app/gpu_probe.py, app/cuda_matrix.py, app/disk_space.py.


def _packages() -> set[str]:
    return {path.name for path in APP.iterdir() if (path / "__init__.py").is_file()}


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _package_edges() -> dict[tuple[str, str], set[str]]:
    packages = _packages()
    edges: dict[tuple[str, str], set[str]] = {}
    for path in APP.rglob("*.py"):
        source = path.relative_to(APP).parts[0]
        if source not in packages:
            continue
        for name in _imported(path):
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "app" and parts[1] in packages - {source}:
                edges.setdefault((source, parts[1]), set()).add(str(path.relative_to(APP)))
    return edges


def test_no_package_imports_one_that_imports_it_back() -> None:
    edges = _package_edges()
    both_ways = {tuple(sorted((a, b))) for (a, b) in edges if (b, a) in edges and a != b}
    detail = {pair: (edges[pair], edges[pair[::-1]]) for pair in sorted(both_ways)}
    assert not both_ways, f"packages importing each other: {detail}"


def test_findings_import_nothing_of_loragate() -> None:
    imported = _imported(APP / "findings.py")
    assert not [name for name in imported if name == "app" or name.startswith("app.")]


def test_domain_packages_reach_findings_without_the_gates() -> None:
    edges = _package_edges()
    for package in ("captions", "dataset", "environment", "training"):
        assert (package, "gates") not in edges, (package, edges.get((package, "gates")))
