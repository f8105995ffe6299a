"""docs/api.md lists every route with its scope, exactly as the application declares them."""

from __future__ import annotations

import re
from pathlib import Path

from api_support import Api

from mirel.api.auth import route_scopes

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_documented_scope_table_matches_the_application(sqlite_api: Api) -> None:
    row = r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)` \| ([^|]+) \|$"
    rows = re.findall(row, DOC.read_text(), re.M)
    documented = {(method, path): scope.strip() for method, path, scope in rows}
    declared = {
        (method, re.sub(r":\w+}", "}", path.removeprefix("/api/v2"))): scope
        for (method, path), scope in route_scopes(sqlite_api.app).items()
    }
    assert documented == declared


def test_the_docs_page_loads_swagger_ui_from_this_server_only(sqlite_api: Api) -> None:
    page = sqlite_api.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:href|src|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert "/api/v2/openapi.json" in urls
    assets = [url for url in urls if url != "/api/v2/openapi.json"]
    assert len(assets) == 3, urls  # the script, the stylesheet and the icon
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in assets:
        assert url.startswith("/api/v2/docs/assets/"), url  # no CDN, no other host
        answer = sqlite_api.get(url)
        assert answer.status_code == 200, url
        assert types[Path(url).suffix] in answer.headers["content-type"]
    [script] = [url for url in assets if url.endswith(".js")]
    assert "SwaggerUIBundle" in sqlite_api.get(script).text
