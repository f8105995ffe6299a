"""`test_connection`: can this process read the repository, write to it, and reach the host's
pull request API, and if not, which of them fails and what to do.

Each step is done for real: a fetch (a mirror of a remote), a write (a reference created under
`refs/mirel/connection-check/` and deleted again: on a remote, a push), and one call of the host's
API. A token that may read but not push is found by the second step, which is the one failure
reads alone would never show until the first change.
"""

from __future__ import annotations

import logging
import secrets

from mirel.errors import MirelError
from mirel.git.repository import GitRepository
from mirel.hub.values import ConnectionCheck
from mirel.providers.base import Provider

log = logging.getLogger(__name__)
PROBE_PREFIX = "refs/mirel/connection-check/"


def _failed(message: str) -> ConnectionCheck:
    log.warning("test_connection: %s", message)
    return ConnectionCheck(connected=False, message=message, default_branch=None, commit_sha=None)


def _read(repository: GitRepository) -> tuple[str, str] | str:
    """Fetch and read the default branch; return (branch, head) or what went wrong."""
    try:
        repository.refresh()
    except MirelError as error:
        text = error.message
        if "404" in text or "not found" in text.lower():
            return (
                f"no repository at {repository.location} (the host answered 404): check "
                "the repository's URL (MIREL_REPO), and that the token may see it"
            )
        return f"cannot fetch: {text}"
    try:
        return repository.default_branch, repository.require_branch(repository.default_branch)
    except Exception as error:
        # A probe: whatever the failure, the answer is "not connected", and why.
        reason = error.message if isinstance(error, MirelError) else repr(error)
        return f"cannot read the repository at {repository.location}: {reason}"


def _write(repository: GitRepository, head: str) -> str | None:
    """Create and delete a probe reference; return what went wrong, if anything."""
    probe = PROBE_PREFIX + secrets.token_hex(8)
    try:
        repository.create_refs({probe: head})
    except MirelError as error:
        return (
            f"mirel can read {repository.location} but not write to it: {error.message}; "
            "give its token (or key) write access to the repository's contents"
        )
    if not repository.delete_ref(probe, head):
        log.warning("test_connection: the probe %s could not be deleted", probe)
    return None


def check_connection(repository: GitRepository, provider: Provider) -> ConnectionCheck:
    """Return whether the repository can be read and written and the host's API answers,
    with the default branch and its head, or the first thing that fails."""
    try:
        found = _read(repository)
        if isinstance(found, str):
            return _failed(found)
        branch, head = found
        refused = _write(repository, head) or provider.check_api()
    except Exception as error:
        # A probe: whatever the failure, the answer is "not connected", and why.
        return _failed(f"cannot check {repository.location}: {type(error).__name__}")
    if refused is not None:
        return _failed(refused)
    return ConnectionCheck(
        connected=True,
        message=f"connected to {repository.location}: read it, wrote and removed a probe "
        "reference, and its pull requests answer",
        default_branch=branch,
        commit_sha=head,
    )
