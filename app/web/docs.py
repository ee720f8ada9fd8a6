"""The reference documents in app/docs/, rendered with anchors findings link to."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import HTMLResponse, Response

from app.resources import UnknownDocument, list_documents, load_document
from app.web.answers import answers
from app.web.templating import render

router = APIRouter()


@router.get("/docs", response_class=HTMLResponse, name="docs_index")
def docs_index(request: Request) -> Response:
    """Every reference document."""
    return render(request, "docs/index.html", {"documents": list_documents()})


@router.get("/docs/{name:path}", response_class=HTMLResponse, name="doc", responses=answers(404))
def doc_page(request: Request, name: str) -> Response:
    """One document, with a permalink on every heading."""
    try:
        document = load_document(name)
    except UnknownDocument as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return render(request, "docs/page.html", {"document": document, "documents": list_documents()})
