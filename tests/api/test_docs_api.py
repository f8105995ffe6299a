"""docs/api.md lists every route with its scope, exactly as the application declares them."""

from __future__ import annotations

import re
from pathlib import Path

from api_support import Api

from mirel.api.auth import route_scopes

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_documented_scope_table_matches_the_application(sqlite_api: Api) -> None:
    rows = re.findall(r"^\| (GET|POST|PUT) \| `([^`]+)` \| ([^|]+) \|$", DOC.read_text(), re.M)
    documented = {(method, path): scope.strip() for method, path, scope in rows}
    declared = {
        (method, path.removeprefix("/api/v2").replace(":path}", "}")): scope
        for (method, path), scope in route_scopes(sqlite_api.app).items()
    }
    assert documented == declared
