from __future__ import annotations

from fastapi.testclient import TestClient


def test_docs_index_lists_documents(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "The content-style problem, and how captions solve it" in page
    assert "What a LoRA is and what training does" in page


def test_document_has_stable_anchors(client: TestClient) -> None:
    page = client.get("/docs/content-style").text
    assert 'id="style-loras-caption-the-content"' in page
    assert 'id="character-and-object-loras-caption-what-varies"' in page


def test_unknown_document_is_404(client: TestClient) -> None:
    assert client.get("/docs/nope").status_code == 404
    assert client.get("/docs/NOPE!").status_code == 404
