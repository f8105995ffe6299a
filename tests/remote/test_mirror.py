"""A repository on a git server, read through local mirrors and written through the remote
(issue 10): the seed flow, several mirrors, lost races, a remote that stops answering, and
credentials that do not allow a push. Real git over HTTP on loopback; no test reaches a host."""

from __future__ import annotations

from pathlib import Path

import pytest

from git_server import GitHttpServer
from mirel.core.kinds import APP
from mirel.errors import PushDeclined, RemoteUnreachable
from mirel.git.remote import open_repository
from mirel.hub import Hub
from remote_support import READ_TOKEN, WRITE_TOKEN, MirrorHub
from support import AUTHOR, add_element, merge, refs, release


def test_the_seed_flow_through_a_mirror_lands_on_the_remote(
    mirror_hub: MirrorHub, origin: Hub
) -> None:
    hub = mirror_hub("one")
    uuid = add_element(hub, "app", "billing", {"main.rsx": b"v1"})
    release(hub, "billing", "1.0.0")
    change = hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR)
    assert change.pull_request is not None
    pull = origin.provider.get(change.pull_request.number)
    assert (pull.title, pull.head_branch, pull.base_branch) == (
        change.pull_request.title,
        change.pull_request.head_branch,
        "main",
    )
    assert pull.description == change.pull_request.description
    merge(hub, change)
    # The remote holds every commit and record the mirror wrote; the mirror holds the same.
    assert origin.head() == hub.head()
    assert origin.catalog.element("billing").uuid == uuid
    assert origin.catalog.manifest("prod").find(uuid) is not None
    assert [str(r.version) for r in origin.catalog.releases("billing")] == ["1.0.0"]
    assert refs(origin.repo.path) == refs(hub.repo.path)


def test_a_second_mirror_sees_the_first_ones_writes_after_a_fetch(mirror_hub: MirrorHub) -> None:
    first, second = mirror_hub("first"), mirror_hub("second")
    change = first.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    second.repo.refresh()
    assert second.provider.get(change.pull_request.number).head_sha == change.pull_request.head_sha
    second.pulls.merge(change.pull_request.number, AUTHOR)
    first.repo.refresh()
    assert first.head() == second.head()
    assert first.catalog.element("crm").name == "crm"


def test_a_write_from_a_stale_mirror_fetches_and_is_made_on_the_new_state(
    mirror_hub: MirrorHub, origin: Hub
) -> None:
    first, second = mirror_hub("first"), mirror_hub("second")
    taken = first.elements.add(APP, "one", {"main.rsx": b"1"}, AUTHOR)
    # `second` has not fetched: it thinks pull request 1 is free, and the remote says no.
    late = second.elements.add(APP, "two", {"main.rsx": b"2"}, AUTHOR)
    assert taken.pull_request is not None
    assert late.pull_request is not None
    assert late.pull_request.number != taken.pull_request.number
    numbers = {pull.number for pull in origin.provider.open_pulls()}
    assert numbers == {taken.pull_request.number, late.pull_request.number}


def test_while_the_remote_is_down_reads_go_on_and_writes_fail_in_one_line(
    git_server: GitHttpServer, mirror_hub: MirrorHub, origin: Hub
) -> None:
    hub = mirror_hub("one")
    add_element(hub, "app", "billing")
    mirror_before, origin_before = refs(hub.repo.path), refs(origin.repo.path)
    git_server.stop()
    try:
        assert [element.name for element in hub.catalog.elements()] == ["billing"]
        with pytest.raises(RemoteUnreachable) as refused:
            hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
        message = str(refused.value)
        assert "\n" not in message
        assert git_server.url("shared") in message
        assert "nothing was changed" in message
        assert WRITE_TOKEN not in message
        with pytest.raises(RemoteUnreachable):
            hub.repo.refresh()
        # A mirror opens on what it has while the remote is down.
        reopened = Hub.open(
            open_repository(git_server.url("shared"), mirror=hub.repo.path, token=WRITE_TOKEN)
        )
        assert reopened.head() == hub.head()
    finally:
        git_server.start()
    assert refs(hub.repo.path) == mirror_before
    assert refs(origin.repo.path) == origin_before
    # Once it answers again, the same write works.
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    assert origin.provider.get(change.pull_request.number).state == "open"


def test_credentials_that_cannot_push_are_named_and_never_shown(
    mirror_hub: MirrorHub, origin: Hub
) -> None:
    reader = mirror_hub("reader", token=READ_TOKEN)
    before = refs(origin.repo.path)
    with pytest.raises(RemoteUnreachable) as refused:
        reader.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert "refused to let mirel push (HTTP 403)" in str(refused.value)
    assert READ_TOKEN not in str(refused.value)
    assert refs(origin.repo.path) == before
    with pytest.raises(RemoteUnreachable) as wrong:
        mirror_hub("stranger", token="not-a-token")
    assert "refused mirel's credentials" in str(wrong.value)
    assert "not-a-token" not in str(wrong.value)


def test_a_push_the_remote_declines_is_refused_at_once_with_its_reason(
    git_server: GitHttpServer, mirror_hub: MirrorHub, origin: Hub
) -> None:
    hook = origin.repo.path / "hooks" / "update"
    hook.write_text(
        '#!/bin/sh\ncase "$1" in refs/heads/mirel/*) echo "branches are frozen" >&2; exit 1;; '
        "esac\nexit 0\n"
    )
    hook.chmod(0o755)
    hub = mirror_hub("one")
    before = refs(origin.repo.path)
    with pytest.raises(PushDeclined) as declined:
        hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert "declined the update of refs/heads/mirel/" in str(declined.value)
    assert "nothing was changed" in str(declined.value)
    # Refused at once: the write and the undo of the refs the remote took of it, no retry loop
    # of pushes against a rule that will not change.
    pushes = [path for _, path in git_server.requests if path.endswith("git-receive-pack")]
    assert len(pushes) == 2
    assert refs(origin.repo.path) == before


def test_credentials_written_into_the_url_are_taken_out_of_it(
    git_server: GitHttpServer, origin: Hub, tmp_path: Path
) -> None:
    del origin
    url = git_server.url("shared").replace("http://", f"http://bot:{WRITE_TOKEN}@")
    repository = open_repository(url, mirror=tmp_path / "mirror")
    hub = Hub.open(repository)
    assert hub.repo.location == git_server.url("shared")
    assert WRITE_TOKEN not in (tmp_path / "mirror" / "config").read_text()
    assert WRITE_TOKEN not in repr(repository.access)
    git_server.stop()
    try:
        with pytest.raises(RemoteUnreachable) as refused:
            hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
        assert WRITE_TOKEN not in str(refused.value)
    finally:
        git_server.start()
