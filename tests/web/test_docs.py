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


def test_an_over_long_document_name_is_a_plain_404(client: TestClient) -> None:
    response = client.get("/docs/" + "a" * 255)  # a file name past the file system's limit
    assert response.status_code == 404
    assert "document names are at most 100 characters" in response.text
