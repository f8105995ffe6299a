"""Where the repository is hosted and where its pull requests live.

`base.Provider` is the seam every other package uses; `open_provider` picks the implementation:
the `local` provider (pull requests kept in the repository itself, which also serves any plain
git remote through a mirror, as `git`) or a host's (`hosted.HostedProvider` over the host's API
adapter, one module per host: `github_api`, ...).
"""

from __future__ import annotations

import re

import httpx

from mirel.errors import InvalidInput
from mirel.git.repository import GitRepository
from mirel.providers import azure_api, bitbucket_api, codecommit_api, github_api, gitlab_api
from mirel.providers.base import Provider
from mirel.providers.host_api import ApiOpener, HostSettings
from mirel.providers.hosted import HostedProvider
from mirel.providers.local import LocalProvider

# The hosts whose pull requests mirel keeps through their API, by provider name.
HOST_APIS: dict[str, ApiOpener] = {
    "azure": azure_api.open_api,
    "bitbucket": bitbucket_api.open_api,
    "codecommit": codecommit_api.open_api,
    "github": github_api.open_api,
    "gitlab": gitlab_api.open_api,
}
PROVIDERS = ("local", "git", *HOST_APIS)


def repository_path(url: str) -> str | None:
    """Return the repository's path on its host, read from its URL (HTTPS, SSH or scp-like),
    without `.git`: `owner/name`, `group/sub/project`, `org/project/_git/repo`; None when the
    URL names no host (a local path)."""
    found = re.match(r"^(?:[a-z][a-z0-9+.-]*://[^/]+/|[^/@:]+@[^/:]+:)(.+?)(?:\.git)?/?$", url)
    return found[1] if found and "/" in found[1] else None


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
    opener = HOST_APIS.get(host.kind)
    if opener is None:
        raise InvalidInput(f"provider {host.kind!r}: use one of {', '.join(PROVIDERS)}")
    return HostedProvider(host.kind, repository, opener(host, http), http)


__all__ = ["HOST_APIS", "PROVIDERS", "HostSettings", "Provider", "open_provider", "repository_path"]
