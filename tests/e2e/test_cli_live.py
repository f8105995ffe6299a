"""The instance commands (`deploy`, `deployments`, `status`, `token`) against a live server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_support import Api, Server

from mirel.core.manifest import manifest_path
from mirel.git.repository import HEADS, Author
from mirel.hub import Hub
from support import AUTHOR, CliResult, merge, release

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.slow


def remote(server: Server, token: str | None = None) -> tuple[str, ...]:
    return ("--url", server.url, "--token", token or server.token)


def test_status_deploy_and_deployments(cli: Cli, server: Server) -> None:
    # Polling is off: nothing is served until the first deploy.
    before = cli("status", *remote(server), "--json")
    assert before.exit_code == 0, before.stderr
    assert before.json["name"] == "e2e-prod"
    assert before.json["manifest"] == "prod"
    assert before.json["deployed_commit"] is None
    assert before.json["last_deployment"] is None
    assert "(nothing yet)" in cli("status", *remote(server)).stdout

    deployed = cli("deploy", *remote(server), "--json")
    assert deployed.exit_code == 0, deployed.stderr
    assert deployed.json["status"] == "SUCCESS"
    assert deployed.json["commit_sha"] == Hub.open(server.repo).head()
    assert {change["name"]: change["to"] for change in deployed.json["changes"]} == {
        "billing": "0.1.0",
        "crm": "0.1.0",
        "nightly-sync": "0.1.0",
        "status-board": "working",
    }
    assert deployed.json["trigger"] == "e2e (token 1)"  # the token's name and id
    assert deployed.json["triggered_by"] == "user_token1"  # the seed API's caller

    again = cli("deploy", *remote(server))
    assert again.exit_code == 0, again.stderr
    assert "already deployed" in again.stdout
    assert "nothing to do" in again.stdout

    listed = cli("deployments", *remote(server), "--json")
    assert listed.exit_code == 0
    ids = [item["id"] for item in listed.json["deployments"]]
    assert ids == sorted(ids, reverse=True)
    assert deployed.json["id"] in ids
    assert (
        len(cli("deployments", *remote(server), "--limit", "1", "--json").json["deployments"]) == 1
    )
    table = cli("deployments", *remote(server))
    assert "SUCCESS" in table.stdout
    assert deployed.json["commit_sha"][:12] in table.stdout

    after = cli("status", *remote(server), "--json").json
    assert after["deployed_commit"] == deployed.json["commit_sha"]
    human = cli("status", *remote(server)).stdout
    assert "e2e-prod" in human
    assert deployed.json["commit_sha"] in human


def test_the_environment_names_the_instance_and_token(
    cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIREL_URL", server.url + "/")
    monkeypatch.setenv("MIREL_TOKEN", server.token)
    result = cli("status", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["name"] == "e2e-prod"


def test_a_failed_deploy_exits_1_and_lists_the_problem(cli: Cli, server: Server) -> None:
    assert cli("deploy", *remote(server)).exit_code == 0
    # A manifest pinning a release that does not exist, written past mirel's checks.
    hub = Hub.open(server.repo)
    head = hub.head()
    text = hub.snapshot().read(manifest_path("prod"))
    assert text is not None
    broken = text.replace(b"release: 0.1.0", b"release: 9.9.9", 1)
    tree = hub.repo.write_tree_changes(hub.repo.tree_of(head), {manifest_path("prod"): broken})
    commit = hub.repo.write_commit(
        tree_oid=tree, parents=[head], message="Break prod\n", author=Author("E2E", "e@x.org")
    )
    hub.repo.update_ref(HEADS + "main", commit, head)

    first = cli("deploy", *remote(server))
    assert first.exit_code == 1
    assert "✗ deployment" in first.stdout
    failed = cli("deploy", *remote(server), "--json")
    assert failed.exit_code == 1
    assert failed.json["status"] == "ERROR"
    assert any("9.9.9" in problem for problem in failed.json["errors"])
    assert "failed with" in failed.stderr
    human = cli("deploy", *remote(server))
    assert human.exit_code == 1
    assert "9.9.9" in human.stderr
    assert "keeps serving what it served before" in human.stderr


def test_http_errors_exit_1_with_the_servers_message(cli: Cli, server: Server) -> None:
    unknown = cli("status", *remote(server, "mirel_not-a-token"))
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    assert len(unknown.stderr.strip().splitlines()) == 1

    reader = cli(
        "token",
        "create",
        "--db",
        server.database_url,
        "--scope",
        "source_control:releases:read",
        "--name",
        "reader",
    ).stdout.strip()
    assert cli("status", *remote(server, reader)).exit_code == 0
    refused = cli("deploy", *remote(server, reader))
    assert refused.exit_code == 1
    assert "source_control:deploy" in refused.stderr  # the server names the missing scope
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_revoked_token_stops_working_at_once(cli: Cli, server: Server) -> None:
    made = cli(
        "token", "create", "--db", server.database_url, "--scope", "all", "--name", "temp", "--json"
    )
    assert cli("status", *remote(server, made.json["token"])).exit_code == 0
    tokens = cli("token", "list", "--db", server.database_url, "--json").json["tokens"]
    temp = next(item for item in tokens if item["name"] == "temp")
    assert cli("token", "revoke", str(temp["id"]), "--db", server.database_url).exit_code == 0
    assert cli("status", *remote(server, made.json["token"])).exit_code == 1


def test_a_url_that_is_not_mirel_is_one_line(cli: Cli, server: Server) -> None:
    result = cli("status", "--url", server.url + "/nothing-here", "--token", server.token)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1


def _serves(cli: Cli, server: Server, element: str) -> str:
    """Deploy the head, and return the release the instance then serves of `element`."""
    deployed = cli("deploy", *remote(server), "--json")
    assert deployed.exit_code == 0, deployed.stderr
    uuid = Hub.open(server.repo).catalog.element(element).uuid
    api = Api(server.url, server.token)
    try:
        return str(api.get(f"/elements/{uuid}")["live_release"])
    finally:
        api.close()


def test_rollback_returns_to_the_state_before_and_stays_there(cli: Cli, server: Server) -> None:
    assert _serves(cli, server, "billing") == "0.1.0"
    hub = Hub.open(server.repo)
    highest = str(max(view.version for view in hub.catalog.releases("billing")))
    merge(hub, hub.manifests.set_pin("prod", "billing", "latest", AUTHOR))
    assert _serves(cli, server, "billing") == highest  # the bad one

    wrong = cli("rollback", "staging", *remote(server))
    assert wrong.exit_code == 1
    assert "publishes prod, not staging" in wrong.stderr
    rolled = cli("rollback", "prod", *remote(server), "--merge")
    assert rolled.exit_code == 0, rolled.stderr
    assert "rolls prod back to deployment" in rolled.stdout
    assert "merged" in rolled.stdout
    assert _serves(cli, server, "billing") == "0.1.0"

    # A later release does not undo it: the rollback pinned exact releases.
    release(hub, "billing", "9.0.0", "the next one")
    assert _serves(cli, server, "billing") == "0.1.0"
    # Without --merge it is a pull request to review, here back to the deployment of latest.
    listed = cli("deployments", *remote(server), "--json").json["deployments"]
    bad = next(item for item in listed if item["status"] == "SUCCESS" and item["number"] == 2)
    proposed = cli("rollback", "prod", *remote(server), "--to", str(bad["number"]), "--json")
    assert proposed.exit_code == 0, proposed.stderr
    number = proposed.json["pull_request"]["number"]
    assert hub.pulls.get(number).state == "open"
    assert _serves(cli, server, "billing") == "0.1.0"
