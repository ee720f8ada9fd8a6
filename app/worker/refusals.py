"""Why a job does not start, in words an artist reads: every refusal is a
``JobRefused``, so a page or a command that has nothing better to say shows its
message (the server's and the CLI's last resort catch it)."""

from __future__ import annotations

from app.models import Job, Project


class JobRefused(RuntimeError):
    """A start (or a command's claim, an archive, a deletion) refused, in plain words."""


class JobBusy(JobRefused):
    """Another job that excludes this one is running or waiting on the project."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"“{job.title or job.kind}” is already running.")
        self.job = job


class ProjectClaimed(JobRefused):
    """A command holds the project (``claims``): nothing starts on it until it ends."""

    def __init__(self) -> None:
        super().__init__(
            "A loragate command in a terminal (`loragate gates --check` or `loragate "
            "captions`) is working on this project now. Try again when it has finished."
        )


class ProjectPutAway(JobRefused):
    """The project was archived or deleted before the start was decided."""

    def __init__(self, project: Project | None) -> None:
        if project is None:
            message = "This project no longer exists (it was deleted). Nothing was started."
        else:
            message = (
                f"“{project.name}” is archived. Restore it to the project list first; "
                "nothing was started."
            )
        super().__init__(message)
