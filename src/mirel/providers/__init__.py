"""Where the repository is hosted and where its pull requests live.

`base.Provider` is the seam every other package uses; `open_provider` picks the implementation:
the `local` provider (pull requests kept in the repository itself, which also serves any plain
git remote through a mirror, as `git`) or a host's (`hosted.HostedProvider` over the host's API
adapter, one module per host: `github_api`, ...).
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING

from mirel.errors import InvalidInput
from mirel.git.repository import GitRepository
from mirel.providers.base import Provider
from mirel.providers.host_api import ApiOpener, HostSettings

if TYPE_CHECKING:  # httpx is imported where a call is made: a local repository needs none
    import httpx

# The hosts whose pull requests mirel keeps through their API: provider name -> the module of
# its adapter (mirel.providers.<module>, with `open_api`), imported only when that host is used.
HOST_APIS: dict[str, str] = {
    "azure": "azure_api",
    "bitbucket": "bitbucket_api",
    "codecommit": "codecommit_api",
    "github": "github_api",
    "gitlab": "gitlab_api",
}
PROVIDERS = ("local", "git", *HOST_APIS)


def host_api_opener(kind: str) -> ApiOpener | None:
    """Return how host `kind`'s adapter is made from the settings, None for local and git."""
    module = HOST_APIS.get(kind)
    if module is None:
        return None
    opener: ApiOpener = importlib.import_module(f"mirel.providers.{module}").open_api
    return opener


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
    # Each implementation is imported when a repository uses it: a local one needs no host's.
    if host is None or host.kind in ("local", "git"):
        from mirel.providers.local import LocalProvider

        return LocalProvider(repository, web_url=web_url, http=http)
    opener = host_api_opener(host.kind)
    if opener is None:
        raise InvalidInput(f"provider {host.kind!r}: use one of {', '.join(PROVIDERS)}")
    from mirel.providers.hosted import HostedProvider

    return HostedProvider(host.kind, repository, opener(host, http), http)


__all__ = [
    "HOST_APIS",
    "PROVIDERS",
    "HostSettings",
    "Provider",
    "host_api_opener",
    "open_provider",
    "repository_path",
]
