"""What a page offers by name, read from this computer only (never the network)."""

from __future__ import annotations

from app.hub.catalogue import CatalogueEntry, CatalogueError, load_catalogue
from app.hub.pull import cached_files, hub_cache
from app.settings import Settings


def hub_captioners(settings: Settings) -> dict[str, list[tuple[CatalogueEntry, bool]]]:
    """The catalogue's captioners by kind (wd14, natural), each with whether the Hugging
    Face cache already holds it: those first."""
    try:
        catalogue = load_catalogue(settings)
    except CatalogueError:
        catalogue = {}
    offers: dict[str, list[tuple[CatalogueEntry, bool]]] = {"wd14": [], "natural": []}
    cache = hub_cache()
    for entry in catalogue.values():
        if entry.kind == "captioner":
            here = cached_files(entry, cache) is not None
            offers[entry.captioner].append((entry, here))
    for entries in offers.values():
        entries.sort(key=lambda pair: not pair[1])
    return offers
