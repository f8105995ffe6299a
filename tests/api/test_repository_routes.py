"""mirel's own endpoints on the repository: elements, branch commits, batches, release deletion
and diffs, hotfixes, pull requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar
from urllib.parse import quote

import pytest
from api_support import Api, Seed, TokenMaker, assert_change_request, data, failed

from mirel.core.manifest import manifest_path
from mirel.core.manifest_reader import parse_manifest
from mirel.git.repository import HEADS
from mirel.http.models import MatrixPublic
from mirel.hub.matrix import matrix
from mirel.instance import Instance
from mirel.providers.hooks import SIGNATURE_HEADER, sign
from support import refs


@pytest.fixture
def api(sqlite_api: Api) -> Api:
    """Return the client on SQLite: these routes work on the repository, not the database."""
    return sqlite_api


@pytest.fixture
def token(sqlite_make_token: TokenMaker) -> str:
    """Return a token with every scope."""
    return sqlite_make_token(name="api-user")


def merge(api: Api, token: str, change: dict[str, object]) -> dict[str, object]:
    """Merge a change's pull request through the API and return the merged pull request."""
    number = change["pull_request"]["number"]  # type: ignore[index]
    merged: dict[str, object] = data(api.post(f"/source_control/pulls/{number}/merge", token))
    return merged


# -- the repository --------------------------------------------------------------------------


def test_elements_matrix(api: Api, token: str, seed: Seed) -> None:
    found = data(api.get("/source_control/elements", token))
    assert found["manifests"] == ["dev", "prod"]
    assert found["commit_sha"] == seed.hub.head()
    rows = {row["name"]: row for row in found["elements"]}
    assert rows["billing"]["releases"] == ["1.1.0", "1.0.0"]
    assert rows["billing"]["pins"]["prod"] == {
        "release": "1.0.0",
        "resolved": "1.0.0",
        "status": "behind",
        "deploys": [],  # no instance has reported publishing prod
    }
    assert rows["draft"]["pins"]["dev"]["status"] == "not_in_manifest"
    assert rows["nightly"]["element_type"] == "WORKFLOW"
    assert found["total"] == 3


def test_elements_matrix_kept_is_the_answer_computed(api: Api, token: str, seed: Seed) -> None:
    first = api.get("/source_control/elements?limit=2", token)
    again = api.get("/source_control/elements?limit=2", token)
    assert first.content == again.content
    computed = MatrixPublic.of(matrix(seed.hub.catalog, limit=2)).model_dump(mode="json")
    assert data(again) == computed
    assert data(api.get("/source_control/elements?limit=1", token))["elements"] == [
        computed["elements"][0]
    ]


def test_elements_matrix_pages_and_filters(api: Api, token: str, seed: Seed) -> None:
    page = data(api.get("/source_control/elements?limit=1&offset=1", token))
    assert [row["name"] for row in page["elements"]] == ["draft"]  # apps by name, then workflows
    assert (page["total"], page["offset"]) == (3, 1)
    found = data(api.get("/source_control/elements?q=NIGHT", token))
    assert [row["name"] for row in found["elements"]] == ["nightly"]
    apps = data(api.get("/source_control/elements?kind=app", token))
    assert [row["name"] for row in apps["elements"]] == ["billing", "draft"]
    bad = api.get("/source_control/elements?kind=gadget", token)
    assert bad.status_code == 400
    assert "gadget" in bad.json()["message"]


def test_elements_matrix_shows_what_each_instance_serves(
    api: Api, token: str, seed: Seed, sqlite_instance: Instance
) -> None:
    # The answer is kept per commit and reports: a new report alone must show (the next one).
    assert data(api.get("/source_control/elements", token))["instances"] == []
    sqlite_instance.deployer.deploy("test")  # the instance publishes dev and reports it
    found = data(api.get("/source_control/elements", token))
    assert [item["name"] for item in found["instances"]] == ["test"]
    assert found["instances"][0]["manifest"] == "dev"
    rows = {row["name"]: row for row in found["elements"]}
    assert rows["billing"]["pins"]["dev"]["deploys"] == [
        {"instance": "test", "serves": "1.1.0", "current": True, "status": "SUCCESS"}
    ]
    assert rows["billing"]["pins"]["prod"]["deploys"] == []  # nobody publishes prod
    # A new pin on main that the instance has not deployed yet is not current there.
    merge(
        api,
        token,
        data(
            api.put(
                f"/source_control/manifests/dev/{seed.billing}", token, json={"release": "1.0.0"}
            )
        ),
    )
    found = data(api.get("/source_control/elements", token))
    cell = {row["name"]: row for row in found["elements"]}["billing"]["pins"]["dev"]
    assert cell["deploys"] == [
        {"instance": "test", "serves": "1.1.0", "current": False, "status": "SUCCESS"}
    ]


def test_create_element(api: Api, token: str, seed: Seed) -> None:
    body = {"kind": "workflow", "name": "weekly", "files": {"flow.json": "{}\n", "lib/a.py": "x"}}
    found = data(api.post("/source_control/elements", token, json=body))
    assert_change_request(found)
    snapshot = seed.hub.snapshot(HEADS + found["branch_name"])
    assert snapshot.read("workflows/weekly/lib/a.py") == b"x"
    metadata = json.loads(snapshot.read("workflows/weekly/metadata.json") or b"")
    assert metadata["name"] == "weekly"
    merge(api, token, found)
    assert seed.hub.catalog.element("weekly").kind.name == "workflow"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "resource", "name": "x", "files": {}}, 400),
        ({"kind": "app", "name": "../x", "files": {"a": "b"}}, 400),
        ({"kind": "app", "name": "x", "files": {"../evil": "b"}}, 400),
        ({"kind": "PAGE", "name": "billing", "files": {"a": "b"}}, 409),
    ],
)
def test_create_element_refuses_bad_input(
    api: Api, token: str, seed: Seed, body: dict[str, object], status: int
) -> None:
    before = seed.hub.repo.branches_under("")
    failed(api.post("/source_control/elements", token, json=body), status)
    assert seed.hub.repo.branches_under("") == before


def test_commit_to_a_branch_with_slashes(api: Api, token: str, seed: Seed) -> None:
    body = {"message": "Try a change", "files": {"apps/billing/main.rsx": "<App v='3'/>\n"}}
    first = data(api.post("/source_control/branches/feature/billing/v3/commits", token, json=body))
    assert first["branch_name"] == "feature/billing/v3"
    assert_change_request(first)
    removal = {"message": "Drop the draft", "files": {"apps/draft/main.rsx": None}}
    second = data(
        api.post("/source_control/branches/feature/billing/v3/commits", token, json=removal)
    )
    assert second["pull_request"]["number"] == first["pull_request"]["number"]
    snapshot = seed.hub.snapshot(HEADS + "feature/billing/v3")
    assert snapshot.read("apps/billing/main.rsx") == b"<App v='3'/>\n"
    assert snapshot.read("apps/draft/main.rsx") is None
    assert seed.hub.repo.commit(second["commit_sha"]).message == "Drop the draft\n"


def test_commit_to_the_default_branch_is_refused(api: Api, token: str, seed: Seed) -> None:
    body = {"message": "sneak", "files": {"README.md": "x"}}
    head = seed.hub.head()
    assert "default branch" in failed(
        api.post("/source_control/branches/main/commits", token, json=body), 400
    )
    assert seed.hub.head() == head


def test_batch_of_pins_is_one_pull_request(api: Api, token: str, seed: Seed) -> None:
    body = {
        "changes": [
            {"manifest": "prod", "element_uuid": seed.billing, "release": "1.1.0"},
            {"manifest": "dev", "element_uuid": seed.nightly, "release": None},
            {"manifest": "staging", "element_uuid": seed.nightly, "release": "latest"},
        ],
        "commit_message": "Promote",
    }
    found = data(api.post("/source_control/manifests/_batch", token, json=body))
    assert_change_request(found)
    snapshot = seed.hub.snapshot(HEADS + found["branch_name"])
    shown = {
        name: parse_manifest(snapshot.read(manifest_path(name)) or b"", manifest_path(name))
        for name in ("prod", "dev", "staging")
    }
    assert shown["prod"].find(seed.billing)[1].release == "1.1.0"  # type: ignore[index]
    assert shown["dev"].find(seed.nightly) is None
    assert shown["staging"].find(seed.nightly)[1].release == "latest"  # type: ignore[index]
    failed(api.post("/source_control/manifests/_batch", token, json={"changes": []}), 400)


def test_delete_release(api: Api, token: str, seed: Seed) -> None:
    # prod pins billing 1.0.0 exactly: refused, naming the manifest.
    refused = api.post(f"/source_control/releases/{seed.billing}/1.0.0/delete", token)
    assert "prod" in failed(refused, 409)
    assert "dev" in failed(
        api.post(f"/source_control/releases/{seed.nightly}/1.0.0/delete", token), 409
    )
    # dev tracks latest, which is no exact pin: 1.1.0 may go, and dev falls back to 1.0.0.
    found = data(api.post(f"/source_control/releases/{seed.billing}/1.1.0/delete", token))
    assert_change_request(found)
    artifact = f"dist/apps/{seed.billing}/1.1.0.zip"
    assert seed.hub.snapshot(HEADS + found["branch_name"]).read(artifact) is None
    failed(api.post(f"/source_control/releases/{seed.billing}/7.0.0/delete", token), 404)
    failed(api.post(f"/source_control/releases/{seed.billing}/1.0/delete", token), 400)


def test_release_diff(api: Api, token: str, seed: Seed) -> None:
    found = data(api.get(f"/source_control/releases/{seed.billing}/1.1.0/diff", token))
    assert found["against"] == "1.0.0"
    assert [item["path"] for item in found["changed"]] == ["main.rsx"]
    assert "+<App name='billing' v='2'/>" in found["changed"][0]["diff"]
    explicit = api.get(
        f"/source_control/releases/{seed.billing}/1.0.0/diff", token, params={"against": "1.1.0"}
    )
    assert data(explicit)["against"] == "1.1.0"
    failed(
        api.get(
            f"/source_control/releases/{seed.billing}/1.0.0/diff", token, params={"against": "x"}
        ),
        400,
    )


def test_hotfix_lifecycle(api: Api, token: str, seed: Seed) -> None:
    body = {"element_uuid": seed.billing, "release": "1.0.0"}
    started = data(api.post("/source_control/hotfixes", token, json=body))
    assert started["branch_name"] == f"mirel/hotfix/app/{seed.billing}/1.0"
    assert started["pull_request"] is None
    again = api.post("/source_control/hotfixes", token, json=body)
    assert started["branch_name"] in failed(again, 409)
    listed = data(api.get("/source_control/hotfixes", token))
    assert [item["line"] for item in listed["hotfixes"]] == ["1.0"]

    fix = {"message": "Fix", "files": {"apps/billing/main.rsx": "<App fixed/>\n"}}
    data(api.post(f"/source_control/branches/{started['branch_name']}/commits", token, json=fix))
    patch = data(
        api.post(
            f"/source_control/hotfixes/{seed.billing}/1.0/release",
            token,
            json={"release_description": "the fix"},
        )
    )
    assert_change_request(patch)
    assert patch["branch_name"].endswith("/1.0.1")
    merge(api, token, patch)
    releases = data(api.get(f"/source_control/releases/{seed.billing}", token))
    assert [item["release_version"] for item in releases] == ["1.1.0", "1.0.1", "1.0.0"]
    assert data(api.get("/source_control/hotfixes", token)) == {"hotfixes": []}


def test_close_hotfix(api: Api, token: str, seed: Seed) -> None:
    body = {"element_uuid": seed.billing, "release": "1.1.0"}
    started = data(api.post("/source_control/hotfixes", token, json=body))
    closed = data(api.post(f"/source_control/hotfixes/{seed.billing}/1.1/close", token))
    assert closed["branch_name"] == started["branch_name"]
    assert closed["closed"] is True
    failed(api.post(f"/source_control/hotfixes/{seed.billing}/1.1/close", token), 404)
    failed(api.post(f"/source_control/hotfixes/{seed.billing}/one/close", token), 400)


# -- pull requests ---------------------------------------------------------------------------


def test_pulls_list_show_close(api: Api, token: str, seed: Seed) -> None:
    change = data(
        api.put(f"/source_control/manifests/prod/{seed.billing}", token, json={"release": "1.1.0"})
    )
    number = change["pull_request"]["number"]
    listed = data(api.get("/source_control/pulls", token, params={"state": "open"}))
    assert [pull["number"] for pull in listed["pulls"]] == [number]
    shown = data(api.get(f"/source_control/pulls/{number}", token))
    assert shown["head_branch"] == change["branch_name"]
    assert [item["path"] for item in shown["diff"]] == ["manifests/prod.yaml"]
    assert "+    release: 1.1.0" in shown["diff"][0]["patch"]
    closed = data(api.post(f"/source_control/pulls/{number}/close", token))
    assert closed["state"] == "closed"
    assert closed["closed_by"].startswith("api-user <")
    assert "closed" in failed(api.post(f"/source_control/pulls/{number}/merge", token), 409)
    failed(api.get("/source_control/pulls/9999", token), 404)
    failed(api.get("/source_control/pulls", token, params={"state": "weird"}), 400)


def test_a_pull_request_shows_its_plan_and_what_would_refuse_its_merge(
    api: Api, token: str, seed: Seed, sqlite_instance: Instance
) -> None:
    sqlite_instance.deployer.deploy("test")  # the instance publishes dev (billing at latest)
    deletion = data(api.post(f"/source_control/releases/{seed.billing}/1.1.0/delete", token))
    number = deletion["pull_request"]["number"]
    shown = data(api.get(f"/source_control/pulls/{number}", token))
    assert shown["problems"] == []
    [dev] = shown["plan"]["manifests"]
    assert (dev["manifest"], dev["edited"]) == ("dev", False)
    [instance] = dev["instances"]
    assert (instance["instance"], instance["errors"]) == ("test", [])
    assert instance["changes"] == [
        {
            "element_uuid": seed.billing,
            "kind": "app",
            "name": "billing",
            "from": "1.1.0",
            "to": "1.0.0",  # latest falls back to the release below
            "pin": "latest",
        }
    ]
    # Meanwhile prod comes to pin 1.1.0 exactly: deleting it would now break prod.
    pin = {"release": "1.1.0"}
    merge(
        api, token, data(api.put(f"/source_control/manifests/prod/{seed.billing}", token, json=pin))
    )
    shown = data(api.get(f"/source_control/pulls/{number}", token))
    assert shown["problems"] == [
        {
            "path": "manifests/prod.yaml",
            "line": None,
            "message": f"pins billing 1.1.0, which is not released "
            f"(missing dist/apps/{seed.billing}/1.1.0.zip)",
        }
    ]
    message = failed(api.post(f"/source_control/pulls/{number}/merge", token), 409)
    assert f"pull request #{number} cannot be merged" in message


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).received.append((dict(self.headers), self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hook_server() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """Return the URL of a loopback server that records the deploy hooks it receives."""
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v2/webhooks/local", received
    server.shutdown()
    server.server_close()


def test_merge_through_the_api_calls_the_deploy_hooks(
    api: Api,
    token: str,
    seed: Seed,
    hook_server: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = hook_server
    seed.hub.provider.hooks.add(url, "hook-secret")
    change = data(
        api.put(f"/source_control/manifests/prod/{seed.billing}", token, json={"release": "1.1.0"})
    )
    merged = merge(api, token, change)
    assert merged["state"] == "merged"
    assert merged["merged_by"].startswith("api-user <")
    assert seed.hub.catalog.manifest("prod").find(seed.billing)[1].release == "1.1.0"  # type: ignore[index]
    ((headers, body),) = received
    assert json.loads(body)["commit_sha"] == seed.hub.head()
    assert headers[SIGNATURE_HEADER] == sign(body, "hook-secret")


def test_a_merge_the_gate_refuses_answers_409_listing_the_problem(
    api: Api, token: str, seed: Seed
) -> None:
    # Allowed when proposed: dev tracks latest and prod pins 1.0.0, so nothing pins 1.1.0 yet.
    deletion = data(api.post(f"/source_control/releases/{seed.billing}/1.1.0/delete", token))
    path = f"/source_control/manifests/qa/{seed.billing}"
    pin = data(api.put(path, token, json={"release": "1.1.0"}))
    merge(api, token, pin)
    before = refs(seed.hub.repo.path)
    number = deletion["pull_request"]["number"]
    message = failed(api.post(f"/source_control/pulls/{number}/merge", token), 409)
    assert f"pull request #{number} cannot be merged" in message
    assert "manifests/qa.yaml: pins billing 1.1.0, which is not released" in message
    assert refs(seed.hub.repo.path) == before


@pytest.mark.parametrize(
    "branch", ["refs/heads/main", "heads/main", "@", "MAIN", "Main", "HEAD", "x@{1}", "tags/v1"]
)
def test_a_branch_name_that_reads_as_another_ref_is_refused(
    api: Api, token: str, seed: Seed, branch: str
) -> None:
    body = {"message": "sneak", "files": {"apps/billing/main.rsx": "<App sneaky/>\n"}}
    before = refs(seed.hub.repo.path)
    path = f"/source_control/branches/{quote(branch, safe='/')}/commits"
    message = failed(api.post(path, token, json=body), 400)
    assert "reads as another name of an existing ref" in message or "default branch" in message
    assert refs(seed.hub.repo.path) == before
