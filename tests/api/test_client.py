"""mirel.client.InstanceClient against a real server on loopback: every call reads back what the
API answers, writes land as pull requests, and failures are one clear error."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from api_support import Api, Seed, TokenMaker, data

from mirel.client import InstanceClient
from mirel.errors import InstanceRefused, InstanceUnreachable, InvalidInput
from mirel.instance import Instance
from mirel.server import create_app


@pytest.fixture
def url(sqlite_instance: Instance) -> Iterator[str]:
    """Return the address of a real server of the seeded instance, on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(sqlite_instance), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()


@pytest.fixture
def token(sqlite_make_token: TokenMaker) -> str:
    """Return a token with every scope."""
    return sqlite_make_token(name="client")


@pytest.fixture
def client(url: str, token: str) -> Iterator[InstanceClient]:
    """Return a client of the server."""
    with InstanceClient(url, token) as opened:
        yield opened


def test_reads_give_what_the_api_answers(
    client: InstanceClient, sqlite_api: Api, token: str, seed: Seed
) -> None:
    def same(found: object, path: str) -> None:
        shown = json.loads(json.dumps(found))
        assert shown == data(sqlite_api.get(path, token)), path

    assert [item.name for item in client.manifests()] == ["dev", "prod"]
    shown = {"manifests": [item.model_dump() for item in client.manifests()]}
    same(shown, "/source_control/manifests")
    assert client.manifest("prod").apps[0].release == "1.0.0"
    assert [r.release_version for r in client.releases(seed.billing)] == ["1.1.0", "1.0.0"]
    same(
        [r.model_dump() for r in client.releases(seed.billing)],
        f"/source_control/releases/{seed.billing}",
    )
    diff = client.release_diff(seed.billing, "1.1.0")
    assert (diff.against, [item.path for item in diff.changed]) == ("1.0.0", ["main.rsx"])
    matrix = client.matrix(kind="app")
    assert [row.name for row in matrix.elements] == ["billing", "draft"]
    assert matrix.elements[0].pins["prod"].status == "behind"
    assert client.test_connection().connected is True
    assert client.selected_manifest() == "dev"
    assert client.hotfixes() == []
    assert [pull.state for pull in client.pulls(limit=2)] == ["merged", "merged"]
    assert client.pull(1).diff[0].status == "added"


def test_a_change_merged_and_deployed_through_the_client(
    client: InstanceClient, seed: Seed
) -> None:
    change = client.set_pin("dev", seed.billing, "1.0.0")
    assert change.pull_request is not None
    assert change.pull_request.state == "open"
    assert client.merge(change.pull_request.number).state == "merged"
    assert client.manifest("dev").apps[0].release == "1.0.0"

    deployment = client.deploy()
    assert deployment.status == "SUCCESS"
    assert client.deployment(deployment.id) == deployment  # its uuid
    assert client.deployment(deployment.number) == deployment
    number = (deployment.triggered_by or "").removeprefix("user_token")
    assert deployment.trigger == f"client (token {number})"
    assert client.deployments(limit=1) == [deployment]
    assert client.instance().deployed_commit == deployment.commit_sha
    assert client.live_element(seed.billing).live_release == "1.0.0"
    assert client.live_file(seed.billing, "main.rsx") == b"<App name='billing'/>\n"
    assert {item.name for item in client.live_elements()} == {"billing", "draft", "nightly"}
    plan = client.test_deploy(deployment.commit_sha or "")
    assert (plan.changes, plan.errors) == ([], [])


def test_hotfix_and_release_calls(client: InstanceClient, seed: Seed) -> None:
    started = client.create_hotfix(seed.billing, "1.0.0")
    assert started.pull_request is None
    assert [item.line for item in client.hotfixes()] == ["1.0"]
    with pytest.raises(InstanceRefused, match=r"would hold exactly the files of 1\.0\.0"):
        client.release_hotfix(seed.billing, "1.0", "fix")
    patch = client.release_hotfix(seed.billing, "1.0", "fix", allow_same=True)
    assert patch.branch_name.endswith("/1.0.1")
    assert client.close_pull(patch.pull_request.number if patch.pull_request else 0).state == (
        "closed"
    )
    tip = client.hotfixes()[0].commit_sha
    assert client.close_hotfix(seed.billing, "1.0", commit_sha=tip).closed is True
    created = client.create_release(seed.draft, bump="minor", description="first")
    assert created.branch_name.endswith("/0.1.0")


def test_a_refusal_is_one_error_with_the_server_message_and_status(
    client: InstanceClient,
) -> None:
    with pytest.raises(InstanceRefused) as refused:
        client.manifest("nothing")
    assert refused.value.http_status == 404
    assert "there is no manifest 'nothing'" in refused.value.message
    with pytest.raises(InstanceRefused) as conflict:
        client.create_release("billing", version="1.0.0")
    assert conflict.value.http_status == 409


def test_a_bad_token_is_refused_with_401(url: str) -> None:
    with InstanceClient(url, "mirel_not-a-token") as client, pytest.raises(InstanceRefused) as bad:
        client.instance()
    assert bad.value.http_status == 401
    assert "unknown API token" in bad.value.message


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    with (
        InstanceClient(f"http://127.0.0.1:{port}", "t") as client,
        pytest.raises(InstanceUnreachable) as unreachable,
    ):
        client.instance()
    assert f"cannot reach the instance at http://127.0.0.1:{port}" in unreachable.value.message


def test_an_answer_that_is_not_mirel_s_is_refused() -> None:
    def html(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>a proxy's page</html>")

    transport = httpx.MockTransport(html)
    with (
        InstanceClient("http://mirel.test", "t", transport=transport) as client,
        pytest.raises(InstanceRefused) as refused,
    ):
        client.instance()
    assert "without mirel's JSON" in refused.value.message


def test_the_transport_is_injectable_and_names_are_quoted() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "data": {"manifest": None}})

    transport = httpx.MockTransport(answer)
    with InstanceClient("http://mirel.test/api/v2/", "secret", transport=transport) as client:
        assert client.select_manifest(None) is None
        with pytest.raises(Exception):  # noqa: B017, PT011 - the answer is not a manifest
            client.manifest("a b/c")
    assert seen[0].url == "http://mirel.test/api/v2/source_control/releases_config"
    assert seen[0].headers["Authorization"] == "Bearer secret"
    assert json.loads(seen[0].content) == {"manifest": None}
    assert seen[1].url.raw_path == b"/api/v2/source_control/manifests/a%20b%2Fc"


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not an http"):
        InstanceClient("ftp://host", "t")
