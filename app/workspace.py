"""The running loragate's state: settings, the database and the grimoire folder.
The web app and the CLI each open one and call the same domain functions with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import col, select

from app.dataset.staging import remove_stale_staging
from app.db import Database
from app.models import Job, Project
from app.paths import safe_join
from app.settings import Settings

if TYPE_CHECKING:
    from app.grimoire import Eye, Studio


class Workspace:
    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.db = Database(settings.database_file)
        if migrate:
            self.db.migrate()
            # Uploads a crashed or killed loragate left half unpacked (live ones are
            # locked; those of jobs that are not over are kept for Resume). Not in a job's
            # child (it does not migrate): its own job's row may not be committed yet.
            remove_stale_staging(settings.data_dir, keep=self._staging_in_use())

    def _staging_in_use(self) -> list[Path]:
        with self.db.reading() as session:
            jobs = session.exec(select(Job).where(col(Job.state).not_in(("done", "failed"))))
            return [Path(job.params["staging"]) for job in jobs if job.params.get("staging")]

    @property
    def grimoire_dir(self) -> Path:
        return self.settings.grimoire_dir

    def project_dir(self, slug: str) -> Path:
        return safe_join(self.settings.training_dir, slug)

    # The grimoire's YAML reader (ruamel.yaml) is loaded by the first caller that reads
    # it, not by every command that opens the workspace (``loragate jobs`` never does).
    def studio(self) -> Studio:
        from app.grimoire import load_studio

        return load_studio(self.grimoire_dir)

    def eye(self) -> Eye:
        from app.grimoire import load_eye

        return load_eye(self.grimoire_dir)

    def context(self, project: Project) -> ProjectContext:
        return ProjectContext(workspace=self, project=project)

    def close(self) -> None:
        self.db.dispose()


@dataclass
class ProjectContext:
    """One project and everything needed to judge it: what gates and pages receive."""

    workspace: Workspace
    project: Project

    @property
    def dir(self) -> Path:
        return self.workspace.project_dir(self.project.slug)

    @property
    def settings(self) -> Settings:
        return self.workspace.settings
