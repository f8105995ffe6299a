"""Logs of a real `mirel serve` (issue 11, operations): one JSON object per line with
MIREL_LOG_FORMAT=json, and a request id that the answer and every record it left share."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import Output, free_ports, start_server, stop

from mirel.hub.demo import build_demo

pytestmark = pytest.mark.slow


def records(output: Output) -> list[dict[str, Any]]:
    """Return the server's output, each line read as a JSON object (any other line fails)."""
    return [json.loads(line) for line in output.lines if line.strip()]


def sign_in_wrongly(url: str, request_id: str) -> httpx.Response:
    """Fetch the sign-in form and send it with a wrong password, under `request_id`."""
    with httpx.Client(base_url=url) as browser:
        form = browser.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        return browser.post(
            "/login",
            data={"username": "admin", "password": "not-the-password", "csrf_token": csrf[1]},
            headers={"X-Request-ID": request_id},
        )


def test_json_logs_carry_the_request_id_of_each_answer(tmp_path: Path) -> None:
    hub = build_demo(tmp_path / "demo")
    env = {
        "MIREL_REPO": str(hub.repo.path),
        "MIREL_DATABASE_URL": f"sqlite:///{tmp_path / 'logs.db'}",
        "MIREL_PORT": str(free_ports(1)),
        "MIREL_MANIFEST": "prod",
        "MIREL_POLL_INTERVAL": "0",
        "MIREL_LOG_FORMAT": "json",
    }
    process, output, url = start_server(None, None, env=env)
    try:
        # A plain id from the caller is kept; anything else is replaced by a new one.
        kept = httpx.get(f"{url}/api/v2/instance", headers={"X-Request-ID": "trace-42"})
        assert kept.status_code == 401
        assert kept.headers["X-Request-ID"] == "trace-42"
        odd = httpx.get(f"{url}/healthz", headers={"X-Request-ID": "no spaces; <b>"})
        new_id = odd.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", new_id)
        refused = sign_in_wrongly(url, "signin-7")
        assert refused.status_code == 401
        assert refused.headers["X-Request-ID"] == "signin-7"
        # The sign-in's own record is written during the request, its access record after
        # the answer: wait for the access record, the later of the two.
        output.wait_for(r'"logger": ?"mirel.access".*"request_id": ?"signin-7"', 10)
    finally:
        assert stop(process, output) in (0, -15)
    found = records(output)
    assert any(
        entry["logger"] == "mirel.serve" and "publishing prod" in entry["message"]
        for entry in found
    )
    access = {entry["request_id"]: entry for entry in found if entry["logger"] == "mirel.access"}
    assert access["trace-42"]["status"] == 401
    assert access["trace-42"]["path"] == "/api/v2/instance"
    assert access[new_id]["path"] == "/healthz"
    assert access["signin-7"]["method"] == "POST"
    assert all(isinstance(entry["duration_ms"], float) for entry in access.values())
    # The sign-in's own record (the throttle's) carries the id of its request.
    signin = [entry for entry in found if entry["logger"] == "mirel.signin"]
    assert [entry["request_id"] for entry in signin] == ["signin-7"], signin
    assert "admin" in signin[0]["message"]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in found)
