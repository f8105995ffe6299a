"""The one exception hierarchy of mirel.

Every failure a user can cause is a `MirelError` subclass. Each class carries a stable CLI exit code
and an HTTP status, so the CLI and the API translate errors in one place each and never scatter
`sys.exit` or `HTTPException` through the code. Messages are one line and say what to do.

The few signals that cross modules but never reach a user (`RefRaced`) live here too, outside the
`MirelError` tree, so that every exception class of mirel has one home.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def shown(text: str) -> str:
    """Return `text` as every output can hold it: a byte git kept in a name that is not UTF-8
    (read as a lone surrogate) is written as its escape, `\\xff`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


class MirelError(Exception):
    """A failure caused by input or repository state, reported to the user without a traceback."""

    exit_code: int = 1
    http_status: int = 400

    def __init__(self, message: str, *, cli_hint: str | None = None) -> None:
        message = shown(message)
        super().__init__(message)
        self.message = message
        # What to type, for the command line only: the message says what to do in words, and
        # each face adds its own hint (the pages link, the CLI names a command).
        self.cli_hint = cli_hint

    def __str__(self) -> str:
        return self.message


# -- 400: the input itself is wrong -------------------------------------------------------------


class InvalidInput(MirelError):
    """Malformed input: a bad name, version, JSON or YAML document, or argument."""


class InvalidName(InvalidInput):
    """An element, manifest or branch name that does not match the allowed pattern."""


class InvalidVersion(InvalidInput):
    """A version string that is not a strict `X.Y.Z`."""


class BlobTooLarge(InvalidInput):
    """A file in the repository is larger than the reader of it accepts; found from the object's
    header, before its content is read. Callers say which file it is."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the file holds {size:,} bytes, over the {limit:,} accepted here")


class BodyTooLarge(InvalidInput):
    """A request body is over its route's limit; refused before it is read."""

    http_status = 413


@dataclass(frozen=True)
class Problem:
    """One problem found in a file: the file, the line when known, and what is wrong."""

    path: str
    message: str
    line: int | None = None

    def __post_init__(self) -> None:
        # A path git holds may not be UTF-8; every report of it (JSON, logs, the database) is.
        object.__setattr__(self, "path", shown(self.path))
        object.__setattr__(self, "message", shown(self.message))

    def __str__(self) -> str:
        if not self.path:
            return self.message  # about the change as a whole, not one file
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class DocumentInvalid(InvalidInput):
    """A file (manifest, metadata.json, release.json) breaks its schema; `problems` lists each."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        first = str(self.problems[0]) if self.problems else "invalid document"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(first + suffix)


class ManifestInvalid(DocumentInvalid):
    """A manifest that cannot be parsed or breaks the manifest schema."""


class MetadataInvalid(DocumentInvalid):
    """An element's metadata.json that is missing, unparsable or incomplete."""


class ArtifactInvalid(InvalidInput):
    """A release artifact that is unsafe, oversized, corrupt or inconsistent."""

    def __init__(self, artifact: str, reason: str) -> None:
        super().__init__(f"artifact {artifact}: {reason}")
        self.artifact = artifact
        self.reason = reason


class RepositoryInvalid(MirelError):
    """`validate` found problems; each is listed in `problems`."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(
            f"the repository has {count} problem{'s' if count != 1 else ''}; fix each listed file"
        )


# -- 401 / 403: authentication and authorisation (used by the server) ----------------------------


class Unauthenticated(MirelError):
    """No token, or a token that is not known."""

    http_status = 401


class Forbidden(MirelError):
    """A known token or user without the scope or role the action needs."""

    http_status = 403


# -- 404: something named does not exist ---------------------------------------------------------


class NotFound(MirelError):
    """A named thing does not exist."""

    http_status = 404


class ElementNotFound(NotFound):
    """No element with that name or uuid on the branch that was read."""


class ReleaseNotFound(NotFound):
    """The element has no release with that version."""


class ManifestNotFound(NotFound):
    """No `manifests/<name>.yaml` on the branch that was read."""


class PullRequestNotFound(NotFound):
    """No pull request with that number."""


class BranchNotFound(NotFound):
    """No branch with that name."""


class HotfixNotFound(NotFound):
    """No open hotfix branch for that element and line."""


class RepositoryNotFound(NotFound):
    """The repository path does not exist or is not a git repository."""


class DeploymentNotFound(NotFound):
    """No deployment with that id on this instance."""


class LiveFileNotFound(NotFound):
    """The element this instance serves has no file at that path."""


class UserNotFound(NotFound):
    """No user with that name or id."""


class SignInThrottled(MirelError):
    """Too many failed sign-ins: wait `retry_after` seconds, or (None) ask an admin to unlock."""

    http_status = 429

    def __init__(self, message: str, *, retry_after: int | None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


# -- 409: the request conflicts with the repository's state --------------------------------------


class Conflict(MirelError):
    """The request is valid but conflicts with what the repository holds."""

    http_status = 409


class ElementExists(Conflict):
    """An element with that name or uuid is already under source control."""


class ReleaseExists(Conflict):
    """The version is taken, or is not above the element's highest release."""


class ReleaseUnchanged(Conflict):
    """A new release would hold exactly the files of the release before it on its line."""


class ReleasePinned(Conflict):
    """A release cannot be deleted while manifests pin it."""


class ManifestExists(Conflict):
    """A manifest with that name already exists."""


class BranchExists(Conflict):
    """A branch with that name already exists."""


class HotfixBranchExists(Conflict):
    """An open hotfix branch for that element and line already exists."""


class HotfixHasCommits(Conflict):
    """Closing a hotfix branch would drop commits made on it; `count` says how many."""

    def __init__(self, count: int, message: str, *, cli_hint: str | None = None) -> None:
        self.count = count
        super().__init__(message, cli_hint=cli_hint)


class NothingToChange(Conflict):
    """The requested change would leave the repository as it is."""


class AlreadyProposed(Conflict):
    """An open pull request already makes the change asked for; `number` names it."""

    def __init__(self, number: int, message: str) -> None:
        self.number = number
        super().__init__(message)


class MergeConflict(Conflict):
    """A pull request cannot be merged because both sides changed the same paths."""

    def __init__(self, number: int, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        super().__init__(
            f"pull request #{number} conflicts with the default branch in {', '.join(self.paths)}; "
            "close it and make the change again from the current default branch"
        )


class MergeRefused(Conflict):
    """Merging would leave the default branch with problems; `problems` lists each."""

    def __init__(self, number: int, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else "a problem"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(
            f"pull request #{number} cannot be merged: the default branch would then have "
            f"{count} problem{'s' if count != 1 else ''}: {first}{more}; change the pull "
            "request, or close it"
        )


class PullRequestNotOpen(Conflict):
    """The pull request was already merged or closed."""


class PullRequestChanged(Conflict):
    """The pull request's branch moved since the person merging it looked at it."""


class BranchMoved(Conflict):
    """A branch moved since the person acting on it looked at it."""


class ConcurrentUpdate(Conflict):
    """A reference kept moving under us; the operation gave up after several tries."""


class WebhookReplayed(Conflict):
    """A webhook delivery id that was already received: a replay, refused."""


class UserExists(Conflict):
    """A user with that name already exists."""


class LastAdmin(Conflict):
    """The change would leave the instance without an admin."""


# -- 503-ish but reported as a user error: the repository cannot be reached ----------------------


class RepositoryUnreachable(MirelError):
    """The repository cannot be opened or read."""

    http_status = 400


class PushDeclined(Conflict):
    """The remote refused a ref update for a reason of its own (a protected branch, a hook, a
    policy): not a race, so trying again cannot help. The message quotes the remote."""

    http_status = 409


class RemoteUnreachable(RepositoryUnreachable):
    """The remote a mirror pushes to and fetches from does not answer, or refuses mirel's
    credentials: a write is not made; reads go on from the mirror."""

    http_status = 503


class DatabaseUnreachable(MirelError):
    """The instance database cannot be opened or migrated."""

    http_status = 503


# -- talking to running instances (the CLI's remote commands and `mirel up`) ---------------------


class InstanceUnreachable(MirelError):
    """No answer from the instance at the URL given (down, wrong URL, or a timeout)."""


class InstanceRefused(MirelError):
    """The instance answered with an error; the message is the server's."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.http_status = status


class FleetFailed(MirelError):
    """An instance of `mirel up` could not start or stopped on its own."""


class InternalError(MirelError):
    """A bug: reported with exit code 3 and the path of the details."""

    exit_code = 3
    http_status = 500


# -- not user errors: control flow inside the deploy engine --------------------------------------


class LeaseLost(Exception):
    """Another process took the lease (ours had expired): the work under it must stop."""


# -- internal signals: caught and retried or translated, never shown to a user -------------------


class RefRaced(Exception):
    """A reference moved, was locked by another writer, or already exists; the caller may retry.

    The git layer raises it for every lost compare-and-swap; `retry_on_race` retries, and callers
    that cannot retry turn it into a MirelError such as ConcurrentUpdate or BranchExists.
    """

    @property
    def ref(self) -> str:
        """Return the reference that raced (the first argument), or "" when none was named."""
        return str(self.args[0]) if self.args else ""
