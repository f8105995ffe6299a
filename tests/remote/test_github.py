"""The github provider against the GitHub simulator and the loopback git server (issue 10):
the seed flow with its pull requests on the "host", a merge made on GitHub's own page, and an
instance deploying it (test_contract.py holds what every adapter must do). Every body the
simulator handled is checked against GitHub's description (the `github` fixture fails the test
otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from git_server import GitHttpServer
from github_sim import GitHubSimulator
from mirel.core.kinds import APP
from mirel.errors import PullRequestNotOpen
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.providers.base import PullState
from mirel.settings import Settings
from remote_support import WRITE_TOKEN, MirrorHub
from support import AUTHOR, add_element, merge, release


def test_the_seed_flow_opens_and_merges_its_pull_requests_on_github(
    github_hub: MirrorHub, github: GitHubSimulator, origin: Hub
) -> None:
    hub = github_hub("one")
    change = hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR)
    assert change.pull_request is not None
    on_host = github.pulls[change.pull_request.number]
    assert on_host["title"] == change.pull_request.title
    assert on_host["head"]["ref"] == change.pull_request.head_branch
    assert on_host["base"]["ref"] == "main"
    assert change.pull_request.description.strip() in on_host["body"]
    assert change.pull_request.url == on_host["html_url"]
    assert change.pull_request.author == str(AUTHOR)
    merge(hub, change)
    assert github.pulls[change.pull_request.number]["merged"] is True
    assert origin.head() == hub.head()
    release(hub, "billing", "1.0.0")
    pinned = hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR)
    merge(hub, pinned)
    uuid = origin.catalog.element("billing").uuid
    pin = origin.catalog.manifest("prod").find(uuid)
    assert pin is not None
    assert pin[1].release == "1.0.0"
    # The merged head branches are gone from the host.
    assert origin.repo.branches_under("mirel/") == {}
    states = {pull.number: pull.state for pull in hub.provider.list_pulls()}
    assert set(states.values()) == {PullState.MERGED}
    assert len(states) == 3


def test_a_merge_on_githubs_page_is_seen_and_goes_live(
    github_hub: MirrorHub, github: GitHubSimulator, origin: Hub
) -> None:
    hub = github_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    github.merge_on_page("shared", change.pull_request.number)
    hub.repo.refresh()
    assert hub.provider.get(change.pull_request.number).state is PullState.MERGED
    assert hub.catalog.element("crm").name == "crm"
    assert hub.head() == origin.head()
    with pytest.raises(PullRequestNotOpen):
        hub.pulls.merge(change.pull_request.number, AUTHOR)


def test_an_instance_on_github_deploys_a_merge_made_on_githubs_page(
    github_hub: MirrorHub, github: GitHubSimulator, tmp_path: Path, git_server: GitHttpServer
) -> None:
    hub = github_hub("writer")
    add_element(hub, "app", "billing", {"main.rsx": b"v1"})
    release(hub, "billing", "1.0.0")
    merge(hub, hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    settings = Settings(
        name="prod",
        repo=git_server.url("shared"),
        mirror=str(tmp_path / "prod-mirror.git"),
        git_token=SecretStr(WRITE_TOKEN),
        provider="github",
        host_repository="acme/shared",
        host_api_url=github.api_url,
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        manifest="prod",
        poll_interval=0,
    )
    with Instance(settings) as instance:
        assert instance.deployer.deploy("poller").status == "SUCCESS"
        release(hub, "billing", "1.1.0")
        change = hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR)
        assert change.pull_request is not None
        # The instance lists the host's pull request, then a person merges it on GitHub.
        assert [pull.number for pull in instance.hub.provider.open_pulls()] == [
            change.pull_request.number
        ]
        github.merge_on_page("shared", change.pull_request.number)
        deployment = instance.deployer.deploy("webhook")
        assert deployment.status == "SUCCESS", deployment.log
        uuid = instance.hub.catalog.element("billing").uuid
        assert instance.live.element(uuid).live_release == "1.1.0"


def test_a_description_edited_on_github_cannot_make_a_merge_delete_branches(
    github_hub: MirrorHub, github: GitHubSimulator, origin: Hub
) -> None:
    add_element(origin, "app", "billing", {"main.rsx": b"v1"})
    hub = github_hub("one")
    keep = origin.elements.push("billing", {"main.rsx": b"other work"}, AUTHOR)
    assert keep.pull_request is not None
    kept = keep.pull_request.head_branch
    hub.repo.refresh()
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    # Someone who may edit the description names other branches for the merge to remove.
    named = json.dumps({"author": "x", "cleanup": {"main": "", kept: ""}})
    marker = f"<!-- mirel {named} -->"
    github.pulls[change.pull_request.number]["body"] = f"Hijacked\n\n{marker}\n"
    merge(hub, change)
    assert origin.repo.branch_sha("main") is not None
    assert origin.repo.branch_sha(kept) is not None


def test_a_pushed_claim_is_released_only_after_its_grace(
    github_hub: MirrorHub, github: GitHubSimulator, origin: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mirel.providers import hosted

    hub = github_hub("one")
    claim = "mirel/release/app/00000000-0000-4000-8000-000000000000/9.9.9"
    hub.repo.create_branch(claim, hub.head())
    # Just pushed: its writer may be opening the pull request on GitHub right now.
    assert hub.provider.release_claim(claim, hub.head()) is False
    assert hub.repo.branch_sha(claim) == hub.head()
    monkeypatch.setattr(hosted, "CLAIM_GRACE", 0.0)
    assert hub.provider.release_claim(claim, hub.head()) is True
    assert origin.repo.branch_sha(claim) is None
    del github


def test_a_failure_of_the_simulator_itself_is_kept_as_a_violation(
    github: GitHubSimulator,
) -> None:
    import httpx

    # Not JSON: the simulator's own parsing fails, which must not pass for a silent host.
    with pytest.raises(httpx.HTTPError):
        httpx.post(
            f"{github.api_url}/repos/acme/shared/pulls",
            content=b"{not json",
            headers={
                "Authorization": f"Bearer {github.token}",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
    assert any("the simulator failed" in found for found in github.violations)
    github.violations.clear()
