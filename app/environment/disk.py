"""Free disk where the run writes (the project's folder: checkpoints, resume states,
samples, and the latent cache beside the dataset) against what the run will write."""

from __future__ import annotations

from app.disk_space import DiskSpace
from app.findings import Finding
from app.training.outputs import OutputEstimate, human_bytes

# Room to leave beyond the estimate: logs, the operating system's own needs, and an
# estimate that is an estimate.
MARGIN_FRACTION = 0.2
MARGIN_MINIMUM = 2 * 1024**3


def margin(estimate: OutputEstimate) -> int:
    return max(MARGIN_MINIMUM, int(estimate.total_bytes * MARGIN_FRACTION))


def disk_findings(space: DiskSpace, estimate: OutputEstimate | None) -> list[Finding]:
    if estimate is None:
        return []
    parts = "; ".join(f"{words}: {human_bytes(size)}" for words, size in estimate.parts())
    needed = human_bytes(estimate.total_bytes)
    if space.free < estimate.total_bytes:
        return [
            Finding(
                code="disk.too_small",
                severity="block",
                subject=str(space.path),
                message=f"The run will write about {needed} ({parts}), but only "
                f"{human_bytes(space.free)} is free on the disk that holds {space.path}.",
                why="A disk that fills up mid-run crashes the trainer while it saves, and the "
                "checkpoint being written is lost with the hours before it.",
                fix=f"Free at least {human_bytes(estimate.total_bytes - space.free)} on that "
                "disk, keep fewer checkpoints (save_last_n), save less often, or move the "
                "grimoire to a larger disk (LORAGATE_GRIMOIRE_DIR).",
                source="preflight-checklist#free-disk",
            )
        ]
    if space.free < estimate.total_bytes + margin(estimate):
        return [
            Finding(
                code="disk.tight",
                severity="warn",
                subject=str(space.path),
                message=f"The run will write about {needed} ({parts}); "
                f"{human_bytes(space.free)} is free on the disk that holds {space.path}, "
                "which leaves little room.",
                why="Logs, other programs and the estimate's own error eat the rest; a full "
                "disk crashes the trainer while it saves.",
                fix=f"Free another {human_bytes(margin(estimate))} or keep fewer checkpoints.",
                source="preflight-checklist#free-disk",
            )
        ]
    return []
