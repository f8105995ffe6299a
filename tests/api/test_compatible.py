"""Acceptance 3: every compatible endpoint answers with the documented paths, bodies and shapes.

One test per endpoint, including the deprecated app aliases and the `elementType` rule.
"""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from api_support import Api, Seed, TokenMaker, assert_change_request, data, failed

from mirel.core.manifest import manifest_path
from mirel.core.manifest_reader import parse_manifest
from mirel.git.repository import HEADS
from mirel.http.models import PlanPublic
from mirel.hub import Hub
from mirel.instance.values import Plan
from support import AUTHOR, merge, refs

RELEASE_KEYS = {
    "release_version",
    "problem",
    "release_description",
    "created_at",
    "created_by",
    "source_commit",
    "element_uuid",
    "element_name",
    "element_type",
    "pinned_by",
    "artifact_path",
    "blob_sha",
    "published_in",
}


@pytest.fixture
def api(sqlite_api: Api) -> Api:
    """Return the client on SQLite: these tests check shapes, not the database."""
    return sqlite_api


@pytest.fixture
def token(sqlite_make_token: TokenMaker) -> str:
    """Return a token with every scope."""
    return sqlite_make_token()


def branch_manifest(hub: Hub, branch: str, name: str) -> dict[str, object] | None:
    """Return the manifest `name` as written on `branch` (None when the branch removed it)."""
    text = hub.snapshot(HEADS + branch).read(manifest_path(name))
    return None if text is None else parse_manifest(text, manifest_path(name)).to_api()


# -- manifests -------------------------------------------------------------------------------


def test_list_manifests(api: Api, token: str, seed: Seed) -> None:
    found = data(api.get("/source_control/manifests", token))
    assert found == {
        "manifests": [
            {
                "name": "dev",
                "apps": [{"uuid": seed.billing, "release": "latest"}],
                "workflows": [{"uuid": seed.nightly, "release": "1.0.0"}],
            },
            {"name": "prod", "apps": [{"uuid": seed.billing, "release": "1.0.0"}], "workflows": []},
        ]
    }


def test_get_manifest(api: Api, token: str, seed: Seed) -> None:
    found = data(api.get("/source_control/manifests/prod", token))
    assert found == {
        "manifest": {
            "name": "prod",
            "apps": [{"uuid": seed.billing, "release": "1.0.0"}],
            "workflows": [],
        }
    }


def test_get_missing_manifest_is_404(api: Api, token: str) -> None:
    message = failed(api.get("/source_control/manifests/staging", token), 404)
    assert "staging" in message


def test_put_manifest_creates_or_overwrites(api: Api, token: str, seed: Seed) -> None:
    body = {
        "manifest": {
            "apps": [{"uuid": seed.billing, "release": "1.1.0"}],
            "workflows": [{"uuid": seed.nightly, "release": "latest"}],
        },
        "commit_message": "Stage billing 1.1.0",
    }
    found = data(api.put("/source_control/manifests/staging", token, json=body))
    assert_change_request(found)
    assert branch_manifest(seed.hub, found["branch_name"], "staging") == {
        "name": "staging",
        **body["manifest"],  # type: ignore[dict-item]
    }
    assert seed.hub.repo.commit(found["commit_sha"]).summary == "Stage billing 1.1.0"
    pull = seed.hub.pulls.get(found["pull_request"]["number"])
    assert pull.head_branch == found["branch_name"]


def test_put_manifest_round_trips_the_get_shape(api: Api, token: str, seed: Seed) -> None:
    shown = data(api.get("/source_control/manifests/prod", token))["manifest"]
    shown["apps"][0]["release"] = "1.1.0"
    found = data(api.put("/source_control/manifests/prod", token, json={"manifest": shown}))
    assert branch_manifest(seed.hub, found["branch_name"], "prod") == shown


def test_put_manifest_refuses_a_bad_document_naming_the_field(api: Api, token: str) -> None:
    body = {"manifest": {"apps": [{"uuid": "not-a-uuid", "release": "1.0"}]}}
    message = failed(api.put("/source_control/manifests/staging", token, json=body), 400)
    assert "apps[0]" in message


def test_delete_manifest(api: Api, token: str, seed: Seed) -> None:
    found = data(api.post("/source_control/manifests/prod/delete", token))
    assert_change_request(found)
    assert branch_manifest(seed.hub, found["branch_name"], "prod") is None
    with_message = api.post("/source_control/manifests/dev/delete", token, json={})
    assert_change_request(data(with_message))
    failed(api.post("/source_control/manifests/nope/delete", token), 404)


def test_set_pin(api: Api, token: str, seed: Seed) -> None:
    body = {"release": "1.1.0", "commit_message": "Promote billing"}
    found = data(api.put(f"/source_control/manifests/prod/{seed.billing}", token, json=body))
    assert_change_request(found)
    manifest = branch_manifest(seed.hub, found["branch_name"], "prod")
    assert manifest == {
        "name": "prod",
        "apps": [{"uuid": seed.billing, "release": "1.1.0"}],
        "workflows": [],
    }
    assert seed.hub.repo.commit(found["commit_sha"]).summary == "Promote billing"


def test_set_pin_creates_a_missing_manifest(api: Api, token: str, seed: Seed) -> None:
    body = {"release": "latest"}
    found = data(api.put(f"/source_control/manifests/qa/{seed.nightly}", token, json=body))
    assert branch_manifest(seed.hub, found["branch_name"], "qa") == {
        "name": "qa",
        "apps": [],
        "workflows": [{"uuid": seed.nightly, "release": "latest"}],
    }


def test_set_pin_refuses_a_missing_release(api: Api, token: str, seed: Seed) -> None:
    body = {"release": "9.9.9"}
    message = failed(
        api.put(f"/source_control/manifests/prod/{seed.billing}", token, json=body), 404
    )
    assert "9.9.9" in message


def test_unset_pin(api: Api, token: str, seed: Seed) -> None:
    found = data(api.post(f"/source_control/manifests/dev/{seed.nightly}/delete", token))
    assert_change_request(found)
    assert branch_manifest(seed.hub, found["branch_name"], "dev") == {
        "name": "dev",
        "apps": [{"uuid": seed.billing, "release": "latest"}],
        "workflows": [],
    }
    # prod does not pin the workflow: nothing to change is a conflict with the repository's state.
    failed(api.post(f"/source_control/manifests/prod/{seed.nightly}/delete", token), 409)


# -- releases --------------------------------------------------------------------------------


def test_list_releases_newest_first(api: Api, token: str, seed: Seed) -> None:
    found = data(api.get(f"/source_control/releases/{seed.billing}", token))
    assert [item["release_version"] for item in found] == ["1.1.0", "1.0.0"]
    assert all(set(item) == RELEASE_KEYS for item in found)
    newest = found[0]
    assert newest["release_description"] == "second"
    assert newest["element_type"] == "PAGE"
    assert newest["published_in"] == ["dev"]  # dev tracks latest
    assert found[1]["published_in"] == ["prod"]
    assert newest["pinned_by"] == []  # tracking latest does not keep a release from deletion
    assert found[1]["pinned_by"] == ["prod"]
    assert newest["created_at"].endswith("Z")
    assert data(api.get(f"/source_control/releases/{seed.draft}", token)) == []


def edit_billing(seed: Seed) -> None:
    """Merge a change to billing's working files, so that a new release has something new."""
    merge(seed.hub, seed.hub.elements.push("billing", {"main.rsx": b"<App v='3'/>\n"}, AUTHOR))


def test_create_release_with_a_version(api: Api, token: str, seed: Seed) -> None:
    edit_billing(seed)
    body = {"release_version": "2.0.0", "release_description": "big"}
    found = data(api.post(f"/source_control/releases/{seed.billing}", token, json=body))
    assert_change_request(found)
    artifact = f"dist/apps/{seed.billing}/2.0.0.zip"
    assert seed.hub.snapshot(HEADS + found["branch_name"]).read(artifact) is not None


def test_create_release_with_a_bump(api: Api, token: str, seed: Seed) -> None:
    edit_billing(seed)
    found = data(
        api.post(f"/source_control/releases/{seed.billing}", token, json={"bump": "minor"})
    )
    assert seed.hub.snapshot(HEADS + found["branch_name"]).read(
        f"dist/apps/{seed.billing}/1.2.0.zip"
    )


def test_create_release_refuses_an_old_version_with_409(api: Api, token: str, seed: Seed) -> None:
    body = {"release_version": "1.0.5"}
    message = failed(api.post(f"/source_control/releases/{seed.billing}", token, json=body), 409)
    assert "hotfix" in message


def test_create_release_of_unchanged_files_is_409_unless_allowed(
    api: Api, token: str, seed: Seed
) -> None:
    before = refs(seed.hub.repo.path)
    path = f"/source_control/releases/{seed.billing}"
    message = failed(api.post(path, token, json={"bump": "minor"}), 409)
    assert message == (
        "billing 1.2.0 would hold exactly the files of 1.1.0; change the source first, or ask "
        "explicitly for an identical release"
    )
    assert refs(seed.hub.repo.path) == before
    allowed = data(api.post(path, token, json={"bump": "minor", "allow_same": True}))
    assert allowed["branch_name"].endswith("/1.2.0")


def test_create_release_needs_a_version_or_a_bump(api: Api, token: str, seed: Seed) -> None:
    failed(api.post(f"/source_control/releases/{seed.billing}", token, json={}), 400)
    both = {"release_version": "3.0.0", "bump": "major"}
    failed(api.post(f"/source_control/releases/{seed.billing}", token, json=both), 400)
    failed(api.post(f"/source_control/releases/{seed.billing}", token, json={"bump": "huge"}), 400)


def test_unknown_element_is_404(api: Api, token: str) -> None:
    uuid = "00000000-0000-4000-8000-000000000000"
    assert uuid in failed(api.get(f"/source_control/releases/{uuid}", token), 404)


# -- the elementType rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "element_type", "status"),
    [
        ("billing", "PAGE", 200),
        ("billing", "WORKFLOW", 404),  # no WORKFLOW has that uuid
        ("nightly", "WORKFLOW", 200),
        ("nightly", "PAGE", 404),
        ("billing", "RESOURCE", 400),  # not a type at all
        ("billing", "page", 400),
    ],
)
def test_element_type_must_match_the_element(
    api: Api, token: str, seed: Seed, element: str, element_type: str, status: int
) -> None:
    uuid = getattr(seed, element)
    response = api.get(
        f"/source_control/releases/{uuid}", token, params={"elementType": element_type}
    )
    if status == 200:
        data(response)
    else:
        assert "elementType" in failed(response, status) or element_type in response.text


def test_element_type_applies_to_writes_and_changes_nothing(
    api: Api, token: str, seed: Seed
) -> None:
    before = seed.hub.repo.branches_under("")
    response = api.put(
        f"/source_control/manifests/prod/{seed.billing}",
        token,
        params={"elementType": "WORKFLOW"},
        json={"release": "1.1.0"},
    )
    assert "billing is an app, elementType PAGE; drop elementType" in failed(response, 404)
    create = api.post(
        f"/source_control/releases/{seed.nightly}",
        token,
        params={"elementType": "PAGE"},
        json={"bump": "patch"},
    )
    failed(create, 404)
    assert seed.hub.repo.branches_under("") == before
    ok = api.put(
        f"/source_control/manifests/prod/{seed.billing}",
        token,
        params={"elementType": "PAGE"},
        json={"release": "1.1.0"},
    )
    assert_change_request(data(ok))


# -- the deprecated app aliases ----------------------------------------------------------------


def test_alias_list_app_releases(api: Api, token: str, seed: Seed) -> None:
    response = api.get(f"/source_control/releases/apps/{seed.billing}", token)
    assert data(response) == data(api.get(f"/source_control/releases/{seed.billing}", token))
    assert response.headers["Deprecation"] == "true"


def test_alias_create_app_release(api: Api, token: str, seed: Seed) -> None:
    edit_billing(seed)
    response = api.post(
        f"/source_control/releases/apps/{seed.billing}", token, json={"release_version": "1.2.0"}
    )
    assert_change_request(data(response))
    assert response.headers["Deprecation"] == "true"


def test_alias_set_app_pin(api: Api, token: str, seed: Seed) -> None:
    response = api.put(
        f"/source_control/manifests/prod/apps/{seed.billing}", token, json={"release": "latest"}
    )
    found = data(response)
    assert_change_request(found)
    assert branch_manifest(seed.hub, found["branch_name"], "prod") == {
        "name": "prod",
        "apps": [{"uuid": seed.billing, "release": "latest"}],
        "workflows": [],
    }
    assert response.headers["Deprecation"] == "true"


def test_alias_unset_app_pin(api: Api, token: str, seed: Seed) -> None:
    found = data(api.post(f"/source_control/manifests/prod/apps/{seed.billing}/delete", token))
    assert branch_manifest(seed.hub, found["branch_name"], "prod") == {
        "name": "prod",
        "apps": [],
        "workflows": [],
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/source_control/releases/apps/{uuid}", None),
        ("POST", "/source_control/releases/apps/{uuid}", {"bump": "patch"}),
        ("PUT", "/source_control/manifests/dev/apps/{uuid}", {"release": "latest"}),
        ("POST", "/source_control/manifests/dev/apps/{uuid}/delete", None),
    ],
)
def test_aliases_refuse_workflows(
    api: Api, token: str, seed: Seed, method: str, path: str, body: object
) -> None:
    response = api.request(method, path.format(uuid=seed.nightly), token, json=body)
    assert "not an app" in failed(response, 400)


# -- deploys ---------------------------------------------------------------------------------

DEPLOYMENT_KEYS = {
    "id",
    "number",
    "status",
    "commit_sha",
    "triggered_by",
    "trigger",
    "created_at",
    "completed_at",
    "manifest",
    "changes",
    "errors",
    "log",
}


def test_deploy_returns_the_deployment(api: Api, sqlite_make_token: TokenMaker, seed: Seed) -> None:
    token = sqlite_make_token("source_control:deploy", name="release-bot")
    found = data(api.post("/source_control/deploy", token))
    assert set(found) >= DEPLOYMENT_KEYS
    # The seed API's `triggered_by` names the caller; mirel's `trigger` says it in words.
    assert re.fullmatch(r"user_token[1-9][0-9]*", found["triggered_by"]), found
    token_id = found["triggered_by"].removeprefix("user_token")
    assert found["trigger"] == f"release-bot (token {token_id})"
    assert found["commit_sha"] == seed.hub.head()
    assert found["status"] in {"PENDING_START", "RUNNING", "SUCCESS", "ERROR"}


def test_deployment_by_id(api: Api, token: str) -> None:
    made = data(api.post("/source_control/deploy", token))
    # The seed API's ids are uuids; mirel's number is taken too, and an uppercase uuid.
    assert str(uuid.UUID(made["id"])) == made["id"]
    assert isinstance(made["number"], int)
    for key in (made["id"], made["id"].upper(), str(made["number"])):
        found = data(api.get(f"/source_control/deployment/{key}", token))
        assert (found["id"], found["number"]) == (made["id"], made["number"])
        assert set(found) >= DEPLOYMENT_KEYS
    failed(api.get("/source_control/deployment/999999", token), 404)
    failed(api.get(f"/source_control/deployment/{uuid.uuid4()}", token), 404)
    failed(api.get("/source_control/deployment/abc", token), 400)
    failed(api.get("/source_control/deployment/0", token), 400)


def test_deployments_newest_first(api: Api, token: str, seed: Seed) -> None:
    first = data(api.post("/source_control/deploy", token))
    merge(seed.hub, seed.hub.manifests.set_pin("dev", seed.billing, "1.0.0", AUTHOR))
    second = data(api.post("/source_control/deploy", token))
    assert second["id"] != first["id"]
    found = data(api.get("/source_control/deployments", token))
    assert set(found) == {"deployments"}
    ids = [item["id"] for item in found["deployments"]]
    assert ids.index(second["id"]) < ids.index(first["id"])
    assert all(set(item) >= DEPLOYMENT_KEYS for item in found["deployments"])


def test_test_deploy_returns_the_plan(api: Api, token: str, seed: Seed) -> None:
    head = seed.hub.head()
    body = {"deploy_params": {"commit_sha": head}}
    found = data(api.post("/source_control/test_deploy", token, json=body))
    assert set(found) >= {"commit_sha", "manifest", "changes", "errors"}
    assert found["commit_sha"] == head
    assert found["manifest"] == "dev"
    # The seed API's scripts read data.success (and data.message when it fails).
    assert (found["success"], found["message"]) == (True, None)
    missing = {"deploy_params": {"commit_sha": "0" * 40}}
    failed(api.post("/source_control/test_deploy", token, json=missing), 404)
    failed(api.post("/source_control/test_deploy", token, json={"deploy_params": {}}), 400)


def test_test_connection(api: Api, token: str, seed: Seed) -> None:
    found = data(api.get("/source_control/test_connection", token))
    assert found == {
        "success": True,
        "connected": True,
        "message": f"connected to {seed.hub.repo.path}: read it, wrote and removed a probe "
        "reference, and its pull requests answer",
        "default_branch": "main",
        "commit_sha": seed.hub.head(),
    }


def test_test_connection_reports_an_unreachable_repository(
    api: Api, token: str, seed: Seed
) -> None:
    shutil.rmtree(seed.hub.repo.path)
    found = data(api.get("/source_control/test_connection", token))
    assert found["connected"] is False
    assert found["success"] is False
    assert found["message"].startswith(f"cannot read the repository at {seed.hub.repo.path}: ")
    assert found["commit_sha"] is None


def test_a_test_deploy_that_would_fail_says_so_in_the_seed_apis_fields() -> None:
    plan = Plan(commit_sha="a" * 40, manifest="prod", changes=[], errors=["x.zip: bad", "y: bad"])
    shown = PlanPublic.of(plan).model_dump()
    assert shown["success"] is False
    assert shown["message"] == "x.zip: bad (and 1 more problem)"
