"""The API's documentation page, Swagger UI, served with its assets from this server.

FastAPI's own page loads Swagger UI from a CDN, so it is blank without internet. The assets come
from the `fastapi-offline` package (Swagger UI 5, which reads the OpenAPI 3.1 document FastAPI
writes); only its files are used, not its application class.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from mirel.http.envelope import API_PREFIX

DOCS_PATH = f"{API_PREFIX}/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"


def _assets_folder() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /api/v2/docs, reading /api/v2/openapi.json, with no outside request.

    Like the OpenAPI document, the page needs no token: it describes, and every call it makes
    carries the token the reader gives it.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_folder()), name="api-docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        assert app.openapi_url is not None
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} REST API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        )

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
