"""Training runs: records (``records``), starting one through the four gates and the
confirmed cost (``start``), the OOM ladder (``ladder``), the files a run's trainer reads
(``launch``), the supervisor that runs in the worker's "training.run" job
(``supervise``) and its events as one stream per run (``stream``)."""
