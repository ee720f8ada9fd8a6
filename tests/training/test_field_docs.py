"""Every field the Config page shows has its plain-language explanation."""

from __future__ import annotations

from app.resources import check_source
from app.training.config import TrainingConfig
from app.training.field_docs import FIELD_GROUPS, field_docs


def test_every_config_field_is_explained_in_the_guide() -> None:
    docs = field_docs()
    for name in TrainingConfig.model_fields:
        doc = docs.get(name)
        assert doc is not None, f"app/docs/parameters-guide.md has no section for `{name}`"
        for part in (doc.what, doc.raise_, doc.lower, doc.usual):
            assert part.strip(), f"{name}: a part of its explanation is empty"
        assert check_source(doc.source) is None


def test_the_page_groups_show_every_editable_field_once() -> None:
    shown = [name for _, fields in FIELD_GROUPS for name in fields]
    assert len(shown) == len(set(shown))
    assert set(shown) == set(TrainingConfig.model_fields) - {"preset", "max_train_steps"}


def test_links_between_guides_point_into_docs() -> None:
    usual = field_docs()["unet_lr"].usual
    assert 'href="/docs/optimizers"' in usual
    assert "<script" not in "".join(d.what for d in field_docs().values())
