"""Every table loragate keeps in SQLite. One module per area; importing this package
registers them all on ``SQLModel.metadata`` (Alembic's env.py relies on that)."""

from app.models.caption import Caption, CaptionBatch, CaptionRevision, ConceptRepeats
from app.models.dataset import DatasetImage, DatasetSettings, DuplicateDecision
from app.models.event import Event
from app.models.gate import GateRecord
from app.models.job import Job, JobEvent
from app.models.measurement import Measurement
from app.models.project import Project
from app.models.run import Run

__all__ = [
    "Caption",
    "CaptionBatch",
    "CaptionRevision",
    "ConceptRepeats",
    "DatasetImage",
    "DatasetSettings",
    "DuplicateDecision",
    "Event",
    "GateRecord",
    "Job",
    "JobEvent",
    "Measurement",
    "Project",
    "Run",
]
