"""Every endpoint's answer keeps its exact shape: keys, their order, types and values.

A scripted session calls each route of the REST API once (reads, every kind of write, a merge, a
deploy, a test deploy, errors) and the answers are compared, as text, with a golden file. What a
run cannot repeat (commit and blob ids, uuids, times, the temporary folder) is replaced by stable
placeholders first: ids by order of first appearance, so that "the same id again" still shows.
Regenerate after a deliberate change with
`MIREL_REGENERATE_GOLDEN=1 pytest tests/api/test_answer_bytes.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
from api_support import Api, Seed, TokenMaker

from mirel.instance import Instance

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "api_answers.txt"

_SHA = re.compile(r"\b[0-9a-f]{40}\b")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_STAMP = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
_INDEX = re.compile(r"index [0-9a-f]+\.\.[0-9a-f]+")


class _Normaliser:
    """Replaces what differs between runs with placeholders numbered by first appearance."""

    def __init__(self, tmp: str) -> None:
        self._tmp = tmp
        self._seen: dict[str, str] = {}

    def _number(self, kind: str, value: str) -> str:
        if value not in self._seen:
            count = sum(1 for key in self._seen.values() if key.startswith(f"<{kind}"))
            self._seen[value] = f"<{kind}{count + 1}>"
        return self._seen[value]

    def deployments(self, value: Any) -> None:
        """Name the uuid of every deployment in `value` `<deploymentN>`, so that the uuids of
        elements keep their numbers whatever deployments come first."""
        if isinstance(value, list):
            for item in value:
                self.deployments(item)
        elif isinstance(value, dict):
            if {"id", "number", "trigger"} <= set(value):
                self._number("deployment", value["id"])
            for item in value.values():
                self.deployments(item)

    def text(self, value: str) -> str:
        value = value.replace(self._tmp, "<tmp>")
        value = _INDEX.sub("index <oids>", value)
        value = _STAMP.sub("<stamp>", value)
        value = _TIME.sub("<time>", value)
        value = _SHA.sub(lambda match: self._number("sha", match[0]), value)
        return _UUID.sub(lambda match: self._number("uuid", match[0]), value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        return value


def _session(api: Api, token: str, seed: Seed, instance: Instance) -> list[tuple[str, Any]]:
    """Return (request, answer) for one call of every route, in a fixed order."""
    calls: list[tuple[str, Any]] = []
    billing, nightly, draft = seed.billing, seed.nightly, seed.draft

    def call(method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response: httpx.Response = api.request(
            method, path, token, **({"json": body} if body is not None else {}), **kwargs
        )
        answer = {
            "status": response.status_code,
            "headers": {
                name: response.headers[name]
                for name in ("content-type", "deprecation", "allow", "www-authenticate")
                if name in response.headers
            },
            "body": response.json(),
        }
        calls.append((f"{method} {path}", answer))
        return answer["body"].get("data")

    call("GET", "/source_control/test_connection")
    call("GET", "/source_control/releases_config")
    call("GET", "/instance")
    deployed = call("POST", "/source_control/deploy")
    call("GET", "/source_control/deployments")
    call("GET", "/source_control/deployment/1")  # by its number
    call("GET", f"/source_control/deployment/{deployed['id']}")  # by its uuid, the seed API's id
    call("GET", "/instance")
    call("GET", "/elements")
    call("GET", f"/elements/{billing}")
    call("GET", f"/elements/{billing}/files/main.rsx")
    call("GET", "/source_control/manifests")
    call("GET", "/source_control/manifests/dev")
    call("GET", f"/source_control/releases/{billing}")
    call("GET", f"/source_control/releases/apps/{billing}")
    call("GET", f"/source_control/releases/{billing}/1.1.0/diff")
    call("GET", f"/source_control/releases/{billing}/1.1.0/diff?against=1.0.0")
    call("GET", "/source_control/elements")
    call("GET", "/source_control/elements?limit=1&offset=1&kind=app")
    call("GET", "/source_control/hotfixes")
    call("GET", "/source_control/pulls?limit=3")
    call("GET", "/source_control/pulls/1")
    # writes, each answering a change request
    pin = call("PUT", f"/source_control/manifests/prod/{nightly}", {"release": "latest"})
    call("POST", f"/source_control/pulls/{pin['pull_request']['number']}/merge")
    call(
        "PUT",
        "/source_control/manifests/qa",
        {"manifest": {"apps": [{"uuid": billing, "release": "1.0.0"}]}},
    )
    call(
        "POST",
        "/source_control/manifests/_batch",
        {"changes": [{"manifest": "dev", "element_uuid": draft, "release": "latest"}]},
    )
    call("POST", f"/source_control/manifests/dev/{billing}/delete")
    back = call("PUT", f"/source_control/manifests/dev/apps/{billing}", {"release": "1.0.0"})
    call("GET", f"/source_control/pulls/{back['pull_request']['number']}")  # with its plan
    call("POST", "/source_control/manifests/prod/delete")
    created = call(
        "POST", f"/source_control/releases/{billing}", {"bump": "minor", "allow_same": True}
    )
    call("POST", f"/source_control/releases/apps/{draft}", {"release_version": "0.1.0"})
    call("POST", f"/source_control/releases/{nightly}/1.0.0/delete")
    call(
        "POST",
        "/source_control/elements",
        {"kind": "app", "name": "fresh", "files": {"a.txt": "a\n"}},
    )
    call(
        "POST",
        "/source_control/branches/feature/x/commits",
        {"message": "Add a file", "files": {"apps/billing/extra.txt": "x\n"}},
    )
    call("POST", "/source_control/hotfixes", {"element_uuid": billing, "release": "1.0.0"})
    call("GET", "/source_control/hotfixes")
    call(
        "POST",
        f"/source_control/hotfixes/{billing}/1.0/release",
        {"release_description": "fix", "allow_same": True},
    )
    call("POST", f"/source_control/hotfixes/{billing}/1.0/close")
    call("POST", f"/source_control/pulls/{created['pull_request']['number']}/close")
    call("GET", f"/source_control/pulls/{created['pull_request']['number']}")
    call("PUT", "/source_control/releases_config", {"manifest": "prod"})
    call("POST", "/source_control/test_deploy", {"deploy_params": {"commit_sha": seed.hub.head()}})
    call("POST", "/source_control/deploy")
    call("GET", "/source_control/deployments?limit=1")
    # failures
    call("GET", "/source_control/manifests/nothing")
    call("GET", f"/source_control/releases/{billing}/9.9.9/diff")
    call("POST", f"/source_control/releases/{billing}", {"release_version": "1.0.0"})
    call("POST", f"/source_control/releases/{billing}", {"bump": 3})
    call("DELETE", "/source_control/manifests")
    call("GET", "/source_control/nowhere")
    return calls


def _dumped(answer: Any) -> str:
    return json.dumps(answer, ensure_ascii=False)


def test_every_answer_keeps_its_bytes(
    sqlite_api: Api,
    sqlite_make_token: TokenMaker,
    seed: Seed,
    sqlite_instance: Instance,
    tmp_path: Path,
) -> None:
    token = sqlite_make_token(name="golden")
    normaliser = _Normaliser(str(tmp_path))
    calls = _session(sqlite_api, token, seed, sqlite_instance)
    normaliser.deployments([answer for _, answer in calls])
    transcript = "".join(
        f"{normaliser.text(request)}\n{_dumped(normaliser.value(answer))}\n\n"
        for request, answer in calls
    )
    if os.environ.get("MIREL_REGENERATE_GOLDEN"):
        GOLDEN.write_text(transcript, encoding="utf-8")
    assert transcript == GOLDEN.read_text(encoding="utf-8")
