"""Datasets: import, audit, duplicates, captions, curation and the kohya layout."""
