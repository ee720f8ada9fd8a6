"""Datasets: the images of a project, their rows, what is measured and checked about
each image and about them all, and the artist's decisions on them. It imports neither the
captions (``app.captions`` stands on it) nor the training config (``app.training``
stands on it); what needs them all, from the import of images with their sidecars to
the kohya folder training reads, is ``app.curation``, above the three.

- ``files``: what a dataset folder holds, from a walk that never follows a link
- ``staging``: unpacking a zip or a browser upload into a staging folder
- ``records``: the project's ``datasetimage`` rows, kept in step with the files
- ``inventory``: what the dataset holds, as the config and training phases need it
- ``pillow_guard``: opening untrusted images with Pillow from any thread
- ``jpeg_quality``: the quality a JPEG was saved at, from its quantisation tables
- ``measure_file``: everything the audit measures about one file, from one read
- ``measure_folder``: measuring every file of a folder in a process pool, cache first
- ``measure_worker``: what the measuring worker processes import, and nothing else
- ``cache``: where measurements are kept so a second audit only measures what changed
- ``check_catalogue``: every dataset check's code, severity, why, fix and source
- ``per_image_checks``: findings about one image, from its measurements
- ``whole_dataset_checks``: findings about the dataset as a whole (size, diversity, buckets)
- ``duplicates``: exact and near-duplicate groups
- ``buckets``: aspect-ratio buckets as kohya sd-scripts makes them
- ``sizes``: how many images each kind of LoRA needs, per model family
- ``thumbs``: cached thumbnails for the audit pages
- ``decisions``: include/exclude, keep one of a duplicate group, intentional near-duplicates
"""
