"""Curation: the project's dataset as training will see it, images and captions
together. It stands on the images (``app.dataset``), their captions (``app.captions``)
and the training config (``app.training``: buckets, repeats, the step count), which never
import it back.

- ``importer``: copying images and their sidecars from a folder into a project's dataset
- ``folder_audit``: the audit of one folder (scan, measure, judge images and captions),
  behind ``loragate audit``
- ``stats``: the numbers the stats panel shows
- ``fingerprint``: the digests of what Gate 1 judged, to tell when it is stale
- ``project_audit``: Gate 1's audit of a project (folder audit with the config's buckets,
  captions, journal, result)
- ``report``: Gate 1's dataset report (Markdown beside the journal)
- ``balance``: repeats per concept and the balance training will see, with the step count
- ``layout``: writing the kohya training folder (after Gate 1 passes)
- ``tasks``: the dataset's jobs (import, audit, layout) run by ``app.worker``
"""
