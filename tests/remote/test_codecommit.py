"""The codecommit provider against the CodeCommit simulator and the loopback git server (issue
10): what a user of CodeCommit would notice beyond the contract every adapter keeps
(test_contract.py). The Signature Version 4 signer against AWS's published test suite; a bad
secret, an unknown key, a wrong clock, the host down, throttling, an outage and missing
permissions each give one clear line without the secret; pages of more than one
ListPullRequests call, newest first; the merge refused when the head moved or conflicts; a
branch's second pull request not opened; ids that are the account's, not the repository's.
Every body the simulator handled is checked against CodeCommit's published model (the
`codecommit` fixture fails the test otherwise)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pygit2
import pytest

from codecommit_sim import ACCESS_KEY_ID, CodeCommitSimulator
from git_server import GitHttpServer
from mirel.core.kinds import APP
from mirel.errors import (
    AlreadyProposed,
    InvalidInput,
    MergeConflict,
    PullRequestChanged,
    PullRequestNotFound,
    PullRequestNotOpen,
    PushDeclined,
    RemoteUnreachable,
)
from mirel.hub import Hub
from mirel.providers import HostSettings, aws_sigv4
from mirel.providers.base import PullState
from mirel.providers.codecommit_api import PAGE, CodeCommitApi, open_api, region_of
from remote_support import MirrorHub, running_simulator, simulated_hub_maker
from support import AUTHOR, add_element, merge

# AWS's Signature Version 4 test suite (Copyright Amazon.com, Inc. or its affiliates,
# Apache-2.0), published with the SigV4 documentation
# (https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html) and kept in
# boto/botocore at tests/unit/auth/aws4_testsuite/ (commit
# 0e6e2404b85dc336dd2889814e089bde7d1a4c55): the cases `post-vanilla` and
# `post-x-www-form-urlencoded` (a POST with a body, as every CodeCommit call is) and
# `get-vanilla-query-order-encoded` (the query's canonical order), with the suite's key.
SUITE_KEY = aws_sigv4.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_DATE = "20150830T123600Z"
SUITE = {
    "post-vanilla": (
        "POST",
        "",
        {"Host": "example.amazonaws.com", "X-Amz-Date": SUITE_DATE},
        b"",
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    "post-x-www-form-urlencoded": (
        "POST",
        "",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": "example.amazonaws.com",
            "X-Amz-Date": SUITE_DATE,
        },
        b"Param1=value1",
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    ),
    "get-vanilla-query-order-encoded": (
        "GET",
        "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        {"Host": "example.amazonaws.com", "X-Amz-Date": SUITE_DATE},
        b"",
        "SignedHeaders=host;x-amz-date, "
        "Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
    ),
}
# The suite's canonical request and string to sign of post-x-www-form-urlencoded.
SUITE_CREQ = (
    "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
    "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
)
SUITE_STS = (
    "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
    "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"
)


@pytest.fixture
def codecommit(git_server: GitHttpServer, origin: Hub) -> Iterator[CodeCommitSimulator]:
    """Return the CodeCommit simulator (`shared` is the shared repository)."""
    del origin
    with running_simulator("codecommit", git_server) as simulator:
        assert isinstance(simulator, CodeCommitSimulator)
        yield simulator


@pytest.fixture
def codecommit_hub(
    git_server: GitHttpServer, codecommit: CodeCommitSimulator, tmp_path: Path
) -> MirrorHub:
    return simulated_hub_maker(codecommit, git_server, tmp_path / "mirrors")


def _api(sim: CodeCommitSimulator, **changes: str) -> CodeCommitApi:
    settings = sim.settings("shared")
    return open_api(HostSettings(**{**settings.__dict__, **changes}), None)


# -- the signer ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(SUITE))
def test_the_signer_gives_the_signatures_of_aws_test_suite(case: str) -> None:
    method, query, headers, body, expected = SUITE[case]
    header = aws_sigv4.authorization(
        SUITE_KEY,
        method=method,
        path="/",
        query=query,
        headers=headers,
        body=body,
        region="us-east-1",
        service="service",
    )
    scope = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
    assert header == f"AWS4-HMAC-SHA256 {scope}, {expected}"


def test_the_signer_makes_the_suites_canonical_request_and_string_to_sign() -> None:
    _, _, headers, body, _ = SUITE["post-x-www-form-urlencoded"]
    request, signed = aws_sigv4.canonical_request("POST", "/", "", headers, body)
    assert (request, signed) == (SUITE_CREQ, "content-type;host;x-amz-date")
    scope = aws_sigv4.scope(SUITE_DATE, "us-east-1", "service")
    assert aws_sigv4.string_to_sign(SUITE_DATE, scope, request) == SUITE_STS


def test_the_secret_is_in_no_header_and_no_repr(codecommit: CodeCommitSimulator) -> None:
    sent: list[httpx.Request] = []
    client = httpx.Client(event_hooks={"request": [sent.append]})
    api = open_api(codecommit.settings("shared"), client)
    assert api.pulls("open") == []
    assert sent
    assert all(codecommit.secret not in value for r in sent for value in r.headers.values())
    assert codecommit.secret not in repr(api.__dict__)
    assert codecommit.secret not in repr(codecommit.settings("shared"))


# -- refusals and outages: one line that says what to check -----------------------------------


def test_a_wrong_secret_is_refused_by_its_signature(codecommit: CodeCommitSimulator) -> None:
    api = _api(codecommit, token="not-the-secret-access-key")
    with pytest.raises(RemoteUnreachable) as refused:
        api.pulls("open")
    message = str(refused.value)
    assert "InvalidSignatureException" in message
    assert "MIREL_HOST_TOKEN" in message
    assert "MIREL_HOST_USERNAME" in message
    assert "not-the-secret-access-key" not in message
    assert "\n" not in message


def test_an_unknown_access_key_is_named_as_such(codecommit: CodeCommitSimulator) -> None:
    api = _api(codecommit, username="AKIAUNKNOWNKEY000000")
    with pytest.raises(RemoteUnreachable, match="does not accept mirel's access key") as refused:
        api.pull(1)
    assert codecommit.secret not in str(refused.value)


def test_a_wrong_clock_is_named(codecommit: CodeCommitSimulator) -> None:
    codecommit.clock_skew = 3600.0
    with pytest.raises(RemoteUnreachable, match=r"Signature expired.*clock"):
        _api(codecommit).pulls("all")


def test_the_host_down_is_a_remote_unreachable(codecommit: CodeCommitSimulator) -> None:
    api = _api(codecommit)
    codecommit.stop()
    with pytest.raises(RemoteUnreachable, match="cannot reach CodeCommit at http://127"):
        api.pulls("open")


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ((500, "InternalFailure", "internal error"), "answered 500"),
        ((503, "ServiceUnavailable", "unavailable"), "try again in a moment"),
        ((400, "ThrottlingException", "Rate exceeded"), "throttling mirel's access key"),
        (
            (400, "AccessDeniedException", "User is not authorized to perform this action"),
            "codecommit:CreatePullRequest, GetPullRequest",
        ),
    ],
)
def test_an_outage_or_refusal_changes_nothing(
    codecommit_hub: MirrorHub,
    codecommit: CodeCommitSimulator,
    origin: Hub,
    fault: tuple[int, str, str],
    said: str,
) -> None:
    hub = codecommit_hub("one")
    codecommit.faults.extend([fault] * 3)
    with pytest.raises(RemoteUnreachable, match=said):
        hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert codecommit.pulls == {}
    assert origin.repo.branches_under("mirel/") == {}


def test_the_settings_name_what_is_missing() -> None:
    with pytest.raises(InvalidInput, match="MIREL_HOST_USERNAME"):
        open_api(HostSettings("codecommit", "shared", None, "secret"), None)
    with pytest.raises(InvalidInput, match="MIREL_HOST_REPOSITORY"):
        open_api(HostSettings("codecommit", "acme/shared", None, "secret", "AKIA"), None)
    # The name read from a clone URL (https://git-codecommit.REGION.amazonaws.com/v1/repos/x).
    api = open_api(HostSettings("codecommit", "v1/repos/shared", None, "secret", "AKIA"), None)
    assert api.repository.name == "shared"


def test_the_region_comes_from_the_endpoint() -> None:
    assert region_of("https://codecommit.us-east-1.amazonaws.com") == "us-east-1"
    assert region_of("https://codecommit-fips.us-gov-west-1.amazonaws.com") == "us-gov-west-1"
    assert region_of("https://vpce-0a1b.codecommit.eu-west-1.vpce.amazonaws.com") == "eu-west-1"
    assert region_of("http://127.0.0.1:8080") == "us-east-1"
    api = open_api(
        HostSettings(
            "codecommit", "shared", "https://codecommit.eu-west-1.amazonaws.com", "s", "AKIA"
        ),
        None,
    )
    assert api.branch_url("main") == (
        "https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/shared/"
        "browse/refs/heads/main"
    )


# -- pages -----------------------------------------------------------------------------------


def test_pages_span_several_list_calls_and_come_newest_first(
    codecommit_hub: MirrorHub, codecommit: CodeCommitSimulator
) -> None:
    hub = codecommit_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    branch = change.pull_request.head_branch
    with codecommit._lock:  # CodeCommit lets one branch have many open pull requests
        for index in range(104):
            target = {"repositoryName": "shared", "sourceReference": branch}
            codecommit.create({"title": f"More {index}", "targets": [target]})
    api = _api(codecommit)
    first = api.pulls("open", page=1)
    assert len(first) == PAGE
    assert [pull.number for pull in first] == list(range(105, 105 - PAGE, -1))
    codecommit.calls.clear()
    numbers = [pull.number for pull in hub.provider.open_pulls()]
    assert numbers == list(range(105, 0, -1))
    # Each page reads every id: 100 per ListPullRequests call, then the continuation token.
    assert codecommit.calls.count(("POST", "ListPullRequests")) == 2 * 5
    assert codecommit.calls.count(("POST", "GetPullRequest")) == 105


def test_a_branch_gets_no_second_open_pull_request(
    codecommit_hub: MirrorHub, codecommit: CodeCommitSimulator
) -> None:
    hub = codecommit_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    api = _api(codecommit)
    head = change.pull_request.head_branch
    with pytest.raises(AlreadyProposed) as refused:
        api.open_pull(title="Again", head=head, base="main", body="")
    assert refused.value.number == change.pull_request.number
    assert list(codecommit.pulls) == [change.pull_request.number]


def test_a_pull_request_of_another_repository_is_not_this_ones(
    codecommit_hub: MirrorHub, codecommit: CodeCommitSimulator, git_server: GitHttpServer
) -> None:
    pygit2.clone_repository(
        str(git_server.root / "shared.git"), str(git_server.root / "other.git"), bare=True
    )
    codecommit_hub("one")
    other = _api(codecommit, repository="other")
    git = pygit2.Repository(str(git_server.root / "other.git"))
    git.references.create("refs/heads/topic", git.references["refs/heads/main"].target)
    with codecommit._lock:
        codecommit.create(
            {
                "title": "Elsewhere",
                "targets": [
                    {
                        "repositoryName": "other",
                        "sourceReference": "main",
                        "destinationReference": "topic",
                    }
                ],
            }
        )
    elsewhere = max(codecommit.pulls)
    assert other.pull(elsewhere).title == "Elsewhere"
    api = _api(codecommit)
    with pytest.raises(PullRequestNotFound):
        api.pull(elsewhere)
    with pytest.raises(PullRequestNotFound):
        api.close(elsewhere)
    assert codecommit.state("other", elsewhere) == "open"
    assert elsewhere not in [pull.number for pull in api.pulls("all")]


# -- merges ----------------------------------------------------------------------------------


def test_a_merge_is_refused_by_codecommit_when_the_head_moved(
    codecommit_hub: MirrorHub, codecommit: CodeCommitSimulator, origin: Hub
) -> None:
    hub = codecommit_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    seen = change.pull_request.head_sha
    hub.branches.commit(change.pull_request.head_branch, {"apps/crm/b": b"y"}, "More\n", AUTHOR)
    before = origin.head()
    with pytest.raises(PullRequestChanged, match="new commits"):
        _api(codecommit).merge(change.pull_request.number, sha=seen, title="Merge")
    assert codecommit.calls[-1] == ("POST", "MergePullRequestByThreeWay")
    assert codecommit.state("shared", change.pull_request.number) == "open"
    assert origin.head() == before


def test_a_conflict_codecommit_finds_is_a_merge_conflict(
    codecommit_hub: MirrorHub, codecommit: CodeCommitSimulator, origin: Hub
) -> None:
    hub = codecommit_hub("one")
    add_element(hub, "app", "crm", {"main.rsx": b"base"})
    first = hub.elements.push("crm", {"main.rsx": b"first"}, AUTHOR)
    second = hub.elements.push("crm", {"main.rsx": b"second"}, AUTHOR)
    merge(hub, first)
    assert second.pull_request is not None
    before = origin.head()
    with pytest.raises(MergeConflict):
        _api(codecommit).merge(
            second.pull_request.number, sha=second.pull_request.head_sha, title="Merge"
        )
    assert origin.head() == before


@pytest.mark.parametrize(
    ("error", "raised", "said"),
    [
        ("PullRequestApprovalRulesNotSatisfiedException", PushDeclined, "approval rules"),
        ("ConcurrentReferenceUpdateException", RemoteUnreachable, "nothing was merged"),
        ("PullRequestAlreadyClosedException", PullRequestNotOpen, "already closed"),
    ],
)
def test_codecommits_merge_refusals_say_what_to_do(
    codecommit_hub: MirrorHub,
    codecommit: CodeCommitSimulator,
    origin: Hub,
    error: str,
    raised: type[Exception],
    said: str,
) -> None:
    hub = codecommit_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    before = origin.head()
    codecommit.faults.append((400, error, "refused"))
    with pytest.raises(raised, match=said):
        _api(codecommit).merge(
            change.pull_request.number, sha=change.pull_request.head_sha, title="Merge"
        )
    assert origin.head() == before


def test_a_merge_in_the_console_names_who_merged_it(
    codecommit_hub: MirrorHub, codecommit: CodeCommitSimulator, origin: Hub
) -> None:
    hub = codecommit_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    assert change.pull_request.url == (
        "https://us-east-1.console.aws.amazon.com/codesuite/codecommit/repositories/shared/"
        f"pull-requests/{change.pull_request.number}"
    )
    codecommit.merge_on_page("shared", change.pull_request.number)
    found = _api(codecommit).pull(change.pull_request.number)
    assert (found.state, found.merged_by, found.author) == ("merged", "alice", "mirel-bot")
    assert found.merge_sha == origin.head()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", found.created_at)
    hub.repo.refresh()
    assert hub.provider.get(change.pull_request.number).state is PullState.MERGED


def test_the_access_key_id_in_the_credential_is_the_settings_one(
    codecommit: CodeCommitSimulator,
) -> None:
    sent: list[httpx.Request] = []
    client = httpx.Client(event_hooks={"request": [sent.append]})
    open_api(codecommit.settings("shared"), client).pulls("all")
    authorization = sent[0].headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")
    assert "/us-east-1/codecommit/aws4_request" in authorization
    assert sent[0].headers["X-Amz-Target"] == "CodeCommit_20150413.ListPullRequests"


def test_the_simulator_refuses_a_body_that_is_not_the_signed_one(
    codecommit: CodeCommitSimulator,
) -> None:
    signed_body, sent_body = b'{"repositoryName": "shared"}', b'{"repositoryName": "other"}'
    headers = {
        "Host": f"127.0.0.1:{codecommit.port}",
        "X-Amz-Date": aws_sigv4.amz_date(),
        "X-Amz-Target": "CodeCommit_20150413.ListPullRequests",
        "Content-Type": "application/x-amz-json-1.1",
    }
    key = aws_sigv4.Credentials(ACCESS_KEY_ID, codecommit.secret)
    headers["Authorization"] = aws_sigv4.authorization(
        key,
        method="POST",
        path="/",
        query="",
        headers=headers,
        body=signed_body,
        region="us-east-1",
        service="codecommit",
    )
    assert httpx.post(codecommit.api_url, content=signed_body, headers=headers).status_code == 200
    refused = httpx.post(codecommit.api_url, content=sent_body, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["__type"] == "InvalidSignatureException"
