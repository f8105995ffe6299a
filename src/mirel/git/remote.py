"""A local mirror of a remote repository: what lets mirel work with a repository kept on a git
host (HTTPS with a token, SSH with a key, or any URL libgit2 speaks, `file://` included).

Every process keeps a bare mirror in its own folder. Reads are exactly GitRepository's, against
the mirror, so they keep working while the remote is down. A reference write is pushed to the
remote first, as a compare-and-swap against the value the writer expects (checked in libgit2's
push negotiation, against what the remote advertises in that same connection, and again by the
remote's receive-pack under its ref lock), and made in the mirror only once the remote took it.
The remote is the truth: a lost race fetches, then raises RefRaced, so that the caller's retry
reads the new state. `fetch` brings the mirror up to date (on poll, on webhook, before a command).

One mirror may serve several processes: fetches and pushes take a lock file in it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import pygit2
from pygit2.enums import CredentialType, FetchPrune

from mirel.errors import PushDeclined, RefRaced, RemoteUnreachable, RepositoryUnreachable
from mirel.git.repository import GitRepository

log = logging.getLogger(__name__)

REMOTE = "origin"
MIRROR_REFSPEC = "+refs/*:refs/*"
_ZERO = "0" * 40
_LOCK = "mirel-mirror.lock"
# What receive-pack says when a ref moved between the negotiation and its lock.
_LOST_RACE = re.compile(r"stale info|fetch first|failed to lock|cannot lock ref|non-fast-forward")


class TokenSource(Protocol):
    """Short-lived tokens (a GitHub App's installation tokens): each call returns one that is
    valid now, renewing it when it is about to expire."""

    described: str  # what a message names as the tokens' origin when the remote refuses one

    def __call__(self) -> str: ...


@dataclass(frozen=True)
class RemoteAccess:
    """Where the remote repository is and how to sign in to it. Secrets never leave this
    object: `shown_url` is what messages and logs name."""

    url: str
    # HTTPS: the basic-auth password, or the source of short-lived ones, asked at each fetch
    # and push (so a token that expires hourly is renewed in time).
    token: str | TokenSource | None = field(default=None, repr=False)
    username: str = "mirel"  # HTTPS: the user name sent with the token (hosts ignore most)
    ssh_key: Path | None = None  # SSH: a private key file, its public key beside it (.pub)

    def password(self) -> str | None:
        """Return the token to send now: the fixed one, or the source's current one."""
        return self.token if self.token is None or isinstance(self.token, str) else self.token()

    @property
    def shown_url(self) -> str:
        """Return the URL without any user name or password written into it."""
        parts = urlsplit(self.url)
        if parts.scheme in ("http", "https", "ssh") and "@" in parts.netloc:
            return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        return self.url


class _Stale(Exception):
    """The remote holds another value than the write expected (raised in a push callback)."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class _Callbacks(pygit2.RemoteCallbacks):
    """Credentials for one operation, and the compare-and-swap of a push."""

    def __init__(self, access: RemoteAccess, expected: Mapping[str, str | None] = {}) -> None:
        super().__init__()
        self._access = access
        self._expected = expected
        self._asked = 0
        self.rejected: dict[str, str] = {}
        self.given: str | None = None  # the token answered, masked in messages

    def credentials(self, url: str, username_from_url: str | None, allowed: Any) -> Any:
        # libgit2 asks again after a refused answer: a second question means the first was
        # wrong, and answering it again would loop.
        self._asked += 1
        if self._asked > 1:
            raise RemoteUnreachable(_refused(self._access))
        password = self._access.password() if allowed & CredentialType.USERPASS_PLAINTEXT else None
        if password:
            self.given = password
            return pygit2.UserPass(self._access.username, password)
        key = self._access.ssh_key
        if allowed & CredentialType.SSH_KEY and key is not None:
            return pygit2.Keypair(username_from_url or "git", f"{key}.pub", str(key), "")
        raise RemoteUnreachable(_refused(self._access))

    def certificate_check(self, certificate: Any, valid: bool, host: bytes) -> bool:
        # Over SSH libgit2 looks the server's key up in ~/.ssh/known_hosts and says whether it
        # is there and the same (`valid`), but goes on regardless unless told: a key never seen
        # could be anyone's. Over HTTPS, libgit2's own verification of the certificate stands.
        del certificate
        if not _is_ssh(self._access.url):
            raise pygit2.errors.Passthrough
        if not valid:
            raise RemoteUnreachable(_unknown_host_key(self._access, host.decode(errors="replace")))
        return True

    def push_negotiation(self, updates: list[Any]) -> None:
        for update in updates:
            expected = self._expected.get(update.dst_refname, _ZERO) or _ZERO
            if str(update.src) != expected:
                raise _Stale(update.dst_refname)

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejected[refname] = message


def _refused(access: RemoteAccess) -> str:
    how = "MIREL_GIT_TOKEN" if access.url.startswith("http") else "MIREL_GIT_SSH_KEY"
    if access.token is not None and not isinstance(access.token, str):
        how = access.token.described
    return (
        f"the remote {access.shown_url} refused mirel's credentials; check {how} and that "
        "it may read and push to the repository"
    )


def _mask(text: str, access: RemoteAccess, given: str | None = None) -> str:
    """Return `text` with the token (`given`: the one a source answered), and any password
    written into a URL, replaced by ***."""
    for secret in (access.token, given):
        if isinstance(secret, str) and secret:
            text = text.replace(secret, "***")
    return re.sub(r"(://[^/@\s:]+):[^/@\s]+@", r"\1:***@", text)


def _unreachable(
    access: RemoteAccess, doing: str, error: Exception, given: str | None = None
) -> RemoteUnreachable:
    if isinstance(error, RemoteUnreachable):
        return error
    reason = _mask(str(error), access, given)
    if "403" in reason:
        return RemoteUnreachable(
            f"the remote {access.shown_url} refused to let mirel {doing.split()[0]} (HTTP 403): "
            "its credentials may not do that; give the token (or key) write access to the "
            "repository. Nothing was changed"
        )
    return RemoteUnreachable(
        f"cannot {doing} {access.shown_url}: {reason.strip() or type(error).__name__}; "
        "nothing was changed, try again once the remote answers"
    )


class MirroredRepository(GitRepository):
    """A bare mirror of a remote repository; reads from the mirror, writes through the remote."""

    def __init__(self, mirror: str | Path, access: RemoteAccess) -> None:
        super().__init__(mirror)
        self.access = access
        self._threads = threading.Lock()

    @property
    def location(self) -> str:
        """Return the remote's URL (without credentials): the repository people know."""
        return self.access.shown_url

    def refresh(self) -> None:
        """Fetch from the remote; raise RemoteUnreachable when it does not answer."""
        self.fetch()

    @classmethod
    def open(cls, mirror: str | Path, access: RemoteAccess) -> MirroredRepository:
        """Return the mirror at `mirror` of the remote, made by a first fetch when it is new.

        An existing mirror opens even while the remote is down (reads go on from what it has);
        a new one needs the remote to answer.
        """
        folder = Path(mirror)
        if not (folder / "HEAD").exists():
            folder.mkdir(parents=True, exist_ok=True)
            git = pygit2.init_repository(str(folder), bare=True)
            git.remotes.create(REMOTE, access.url, MIRROR_REFSPEC)
        repository = cls(folder, access)
        repository._repo.remotes.set_url(REMOTE, access.url)
        try:
            repository.fetch()
        except RemoteUnreachable:
            if repository.ref_sha(f"refs/heads/{repository.default_branch}") is None:
                raise
            log.warning("the remote %s does not answer: reading the mirror", access.shown_url)
        return repository

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # A lock file in the mirror: other processes on this mirror wait, and so do this
        # process's other threads (each opens its own file, and flock locks per open file).
        with self._threads, open(self.git_dir / _LOCK, "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            yield

    @property
    def _remote(self) -> Any:
        return self._repo.remotes[REMOTE]

    def fetch(self) -> None:
        """Bring the mirror up to date with the remote: every ref, removed ones removed, and
        HEAD naming the remote's default branch. Raise RemoteUnreachable when it fails."""
        with self._locked():
            self._fetch()

    def _fetch(self) -> None:
        callbacks = _Callbacks(self.access)
        try:
            remote = self._remote
            heads = remote.list_heads(callbacks=callbacks)
            callbacks = _Callbacks(self.access)
            remote.fetch(callbacks=callbacks, prune=FetchPrune.PRUNE)
        except (pygit2.GitError, OSError, RemoteUnreachable) as error:
            raise _unreachable(self.access, "fetch from", error, callbacks.given) from error
        head = next((h.symref_target for h in heads if h.name == "HEAD"), None)
        if head and self._repo.references["HEAD"].target != head:
            self._repo.references.create("HEAD", head, force=True)

    def _push(self, changes: Mapping[str, tuple[str | None, str | None]]) -> None:
        """Push ref -> (expected, new) to the remote (new None deletes it), then make the same
        changes in the mirror; raise RefRaced when the remote holds another value than one
        expected, after fetching, and undo what the remote took of the others."""
        with self._locked():
            rejected = self._push_unlocked(changes)
            if rejected is not None:
                self._fetch()
                raise RefRaced(rejected)
            for ref, (_, new) in changes.items():
                if new is None:
                    existing = self._repo.references.get(ref)
                    if existing is not None:
                        existing.delete()
                else:
                    self._repo.references.create(ref, new, force=True)

    def _push_unlocked(self, changes: Mapping[str, tuple[str | None, str | None]]) -> str | None:
        specs = [f"+{new}:{ref}" if new else f":{ref}" for ref, (_, new) in changes.items()]
        callbacks = _Callbacks(self.access, {ref: old for ref, (old, _) in changes.items()})
        try:
            self._remote.push(specs, callbacks=callbacks)
        except _Stale as stale:
            return stale.ref
        except (pygit2.GitError, OSError, RemoteUnreachable) as error:
            raise _unreachable(self.access, "push to", error, callbacks.given) from error
        if not callbacks.rejected:
            return None
        # The remote took some refs and refused others: put back those it took, as a write is
        # all or nothing.
        taken = {
            ref: (new, old) for ref, (old, new) in changes.items() if ref not in callbacks.rejected
        }
        left = self._push_unlocked(taken) if taken else None
        if left is not None:
            raise RemoteUnreachable(
                f"the remote {self.access.shown_url} refused part of a write and then its undo "
                f"({left} moved meanwhile); run 'mirel repair' to finish what was left"
            )
        ref, reason = next(iter(callbacks.rejected.items()))
        if _LOST_RACE.search(reason):
            return ref
        # A hook, a protected branch or a policy of the host: trying again cannot help.
        raise PushDeclined(
            f"the remote {self.access.shown_url} declined the update of {ref}: "
            f"{_mask(reason, self.access, callbacks.given)}; nothing was changed"
        )

    # -- the reference writes, through the remote ------------------------------------------------

    def create_refs(self, refs: Mapping[str, str]) -> None:
        """Create references that must not exist on the remote yet, all or none."""
        self._push({ref: (None, sha) for ref, sha in refs.items()})

    def update_ref(self, ref: str, new_sha: str, expected_sha: str) -> None:
        """Move `ref` on the remote from `expected_sha` to `new_sha`; raise RefRaced if the
        remote holds it elsewhere."""
        self._push({ref: (expected_sha, new_sha)})

    def delete_ref(self, ref: str, expected_sha: str | None = None) -> bool:
        """Delete `ref` on the remote if it still points to `expected_sha` (to what the mirror
        holds, when None); return whether it was deleted."""
        expected = expected_sha if expected_sha is not None else self.ref_sha(ref)
        if expected is None:
            return False
        try:
            self._push({ref: (expected, None)})
        except RefRaced:
            return False
        return True


def _is_ssh(url: str) -> bool:
    return urlsplit(url).scheme == "ssh" or re.match(r"^[\w.-]+@[\w.-]+:", url) is not None


def _unknown_host_key(access: RemoteAccess, host: str) -> str:
    return (
        f"the SSH server {host} of {access.shown_url} has a host key that ~/.ssh/known_hosts "
        f"does not hold (or holds another one); check its fingerprint, then add it, for "
        f"example with 'ssh-keyscan {host} >> ~/.ssh/known_hosts'. Nothing was changed"
    )


def is_remote(location: str) -> bool:
    """Return whether `location` is a URL of a remote (HTTPS, SSH, git, or scp-like
    `user@host:path`) rather than the path of a local repository."""
    if urlsplit(location).scheme in ("http", "https", "ssh", "git"):
        return True
    return re.match(r"^[\w.-]+@[\w.-]+:", location) is not None


def default_mirror(url: str) -> Path:
    """Return the mirror folder of a remote when none is named: one per URL, in the user's
    cache folder (XDG_CACHE_HOME, else ~/.cache)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    shown = RemoteAccess(url).shown_url
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", shown.split("://")[-1]).strip("-")[-60:]
    digest = hashlib.sha256(shown.encode()).hexdigest()[:12]
    return cache / "mirel" / "mirrors" / f"{slug}-{digest}.git"


def open_repository(
    location: str,
    *,
    mirror: str | Path | None = None,
    token: str | TokenSource | None = None,
    username: str = "mirel",
    ssh_key: str | Path | None = None,
) -> GitRepository:
    """Return the repository at `location`: a local bare repository as it is, or (a remote URL,
    or any location when `mirror` is named) a mirror of it in `mirror`. `token` is the HTTPS
    password, or a source of short-lived ones asked before each fetch and push."""
    if mirror is None and not is_remote(location):
        return GitRepository(location.removeprefix("file://"))
    # A user and password written into an HTTPS URL become credentials: the URL kept in the
    # mirror's config, and shown in messages, holds neither.
    parts = urlsplit(location)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        location = urlunsplit(parts._replace(netloc=hostport))
        token = token or (unquote(password) or None)
        username = unquote(user) or username
    access = RemoteAccess(location, token, username, Path(ssh_key) if ssh_key else None)
    folder = Path(mirror) if mirror is not None else default_mirror(location)
    try:
        return MirroredRepository.open(folder, access)
    except pygit2.GitError as error:
        raise RepositoryUnreachable(
            f"cannot make a mirror at {folder}: {_mask(str(error), access)}"
        ) from error
