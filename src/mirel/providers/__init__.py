"""Where the repository is hosted and where its pull requests live.

`base.Provider` is the seam every other package uses; `open_provider` picks the implementation:
the `local` provider (pull requests kept in the repository itself, which also serves any plain
git remote through a mirror) or a host's (`github`: pull requests through its REST API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx

from mirel.errors import InvalidInput
from mirel.git.repository import GitRepository
from mirel.providers.base import Provider
from mirel.providers.github_api import GitHubApi, GitHubRepository
from mirel.providers.hosted import HostedProvider
from mirel.providers.local import LocalProvider

PROVIDERS = ("local", "git", "github")


@dataclass(frozen=True)
class HostSettings:
    """Which host keeps the pull requests, and how to reach its API."""

    kind: str = "local"  # local or git: mirel keeps them in the repository; github: GitHub
    repository: str | None = None  # owner/name on the host
    api_url: str | None = None  # the host's API (GitHub: https://api.github.com)
    token: str | None = field(default=None, repr=False)


def repository_path(url: str) -> str | None:
    """Return `owner/name` read from a host's repository URL (HTTPS, SSH or scp-like)."""
    found = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$", url)
    return f"{found[1]}/{found[2]}" if found else None


def open_provider(
    repository: GitRepository,
    *,
    web_url: str | None = None,
    http: httpx.Client | None = None,
    host: HostSettings | None = None,
) -> Provider:
    """Return the provider of a repository; links lead to `web_url` (a server's pages) when
    given, else to the repository's files. `http` makes its outbound calls (deploy hooks, a
    host's API); without it each call opens its own connection."""
    if host is None or host.kind in ("local", "git"):
        return LocalProvider(repository, web_url=web_url, http=http)
    if host.kind != "github":
        raise InvalidInput(f"provider {host.kind!r}: use one of {', '.join(PROVIDERS)}")
    owner, _, name = (host.repository or "").partition("/")
    if not owner or not name or not host.token:
        raise InvalidInput(
            "the github provider needs the repository as owner/name (MIREL_HOST_REPOSITORY) "
            "and a token (MIREL_GIT_TOKEN)"
        )
    where = GitHubRepository(owner, name, host.api_url or "https://api.github.com")
    return HostedProvider("github", repository, GitHubApi(where, host.token, http), http)


__all__ = ["PROVIDERS", "HostSettings", "Provider", "open_provider", "repository_path"]
