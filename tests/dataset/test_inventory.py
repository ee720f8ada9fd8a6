from __future__ import annotations

from PIL import Image

from app.dataset.inventory import dataset_dir, inventory
from app.models import Project
from app.workspace import Workspace


def test_inventory_reads_sizes_repeats_and_exif_rotation(
    workspace: Workspace, project: Project
) -> None:
    ctx = workspace.context(project)
    root = dataset_dir(ctx)
    (root / "10_mira").mkdir(parents=True)
    (root / "loose").mkdir()
    Image.new("RGB", (640, 480), "red").save(root / "10_mira" / "a.png")
    rotated = Image.new("RGB", (800, 600), "blue")
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90°: shown as 600×800
    rotated.save(root / "loose" / "b.jpg", exif=exif)
    (root / "10_mira" / "a.txt").write_text("mirakz, standing")
    (root / "notes.png").write_bytes(b"not an image")

    items = {item.path: item for item in inventory(ctx)}
    assert set(items) == {"10_mira/a.png", "loose/b.jpg"}
    assert (items["10_mira/a.png"].concept, items["10_mira/a.png"].repeats) == ("mira", 10)
    assert (items["loose/b.jpg"].width, items["loose/b.jpg"].height) == (600, 800)
    assert items["loose/b.jpg"].repeats == 1
