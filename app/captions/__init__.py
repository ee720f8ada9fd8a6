"""Captions: the text each image is trained with, its sidecar file, the checks on it and
the auto-captioners that draft it.

- ``text``: caption text as data (trigger word, tags, sentences) and every edit's rules
- ``vocabulary``: the style words and fixed traits a caption check looks for
- ``scrub``: taking words out of a machine-written sentence, keeping it a sentence
- ``intent``: what the checks and captioners need to know about a project, as plain values
- ``sidecar_decode``: reading a sidecar ``.txt`` the way trainers will (encodings, first line)
- ``sidecar_files``: a sidecar on disk: its path, atomic writes, edits made outside loragate
- ``sidecar_checks``: the folder audit's findings about the sidecars that exist
- ``content_lint``: what the captions will teach the trigger word (content vs style)
- ``gate_findings``: Gate 1's caption findings and fingerprint parts (approvals, outside edits)
- ``store``: each image's current caption in SQLite, kept in step with its sidecar
- ``sync``: taking in caption files loragate has not seen yet, as drafts
- ``batch``: edits over many captions at once, recorded so the newest can be undone
- ``grid``: what the caption grid shows (cards, filters, pages, progress, tag counts)
- ``trigger_change``: changing a project's trigger word in every caption
- ``autocaption``: the auto-captioning jobs (sample, then the rest) run in a child process
- ``captioners/``: the local models that draft captions (WD14 tagger, image-to-text)
"""
