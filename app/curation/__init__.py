"""Curation: the project's dataset as training will see it. It stands on the images
(``app.dataset``), their captions (``app.captions``) and the training config
(``app.training``: buckets, repeats, the step count), which never import it back.

- ``project_audit``: Gate 1's audit of a project (folder audit with the config's buckets,
  captions, journal, result)
- ``balance``: repeats per concept and the balance training will see, with the step count
- ``layout``: writing the kohya training folder (after Gate 1 passes)
- ``tasks``: the dataset's jobs (import, audit, layout) run by ``app.worker``
"""
