"""Where the repository is hosted and where its pull requests live.

`base.Provider` is the seam every other package uses; `open_provider` picks the implementation
(today the `local` provider: a bare repository that keeps its own pull requests).
"""

from __future__ import annotations

import httpx

from mirel.git.repository import GitRepository
from mirel.providers.base import Provider
from mirel.providers.local import LocalProvider


def open_provider(
    repository: GitRepository, *, web_url: str | None = None, http: httpx.Client | None = None
) -> Provider:
    """Return the provider of a repository; links lead to `web_url` (a server's pages) when
    given, else to the repository's files. `http` makes its outbound calls (deploy hooks);
    without it each call opens its own connection."""
    return LocalProvider(repository, web_url=web_url, http=http)


__all__ = ["Provider", "open_provider"]
