"""The connection to the repository's host, as the seed API describes it (`source_control/config`)
and as mirel opens it (a remote URL, git credentials, the host's API).

The seed API's body names the provider (`GitHub`, `GitLab`, `Bitbucket`, `Azure Repos`,
`AWS CodeCommit`; mirel adds `Git`, any git remote whose pull requests mirel keeps), the `org`,
`repo` and `default_branch`, and a `config` of the provider's own fields, some of them secrets.
`connection_of` turns one into a `Connection`, naming what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mirel.errors import InvalidInput
from mirel.git.remote import TokenSource
from mirel.providers import HostSettings, github_app

# The seed API's provider names, and mirel's.
SEED_PROVIDERS: dict[str, str] = {
    "GitHub": "github",
    "GitLab": "gitlab",
    "Bitbucket": "bitbucket",
    "Azure Repos": "azure",
    "AWS CodeCommit": "codecommit",
    "Git": "git",
}
# The fields of `config` that are secrets: stored encrypted, never answered, printed or logged.
SECRET_FIELDS = frozenset(
    {
        "personal_access_token",
        "private_key",
        "project_access_token",
        "app_password",
        "token",
        "secret_access_key",
        "https_password",
        "password",
    }
)


@dataclass(frozen=True)
class Connection:
    """Where the repository lives and how to reach it."""

    repo: str  # the remote's URL
    host: HostSettings
    git_username: str
    git_token: str | TokenSource | None = field(default=None, repr=False)  # or a GitHub App's


def _need(config: Mapping[str, Any], provider: str, *names: str) -> list[str]:
    missing = [name for name in names if not str(config.get(name) or "").strip()]
    if missing:
        raise InvalidInput(
            f"the {provider} configuration needs {', '.join(missing)} in `config`; "
            "see docs/remote.md for each provider's fields"
        )
    return [str(config[name]).strip() for name in names]


def _web(config: Mapping[str, Any], default: str) -> str:
    return str(config.get("url") or default).rstrip("/")


def _github(org: str, repo: str, config: Mapping[str, Any]) -> Connection:
    web = _web(config, "https://github.com")
    api = str(
        config.get("enterprise_api_url")
        or ("https://api.github.com" if web == "https://github.com" else f"{web}/api/v3")
    )
    if config.get("type") == "App":
        fields = ("app_id", "installation_id", "private_key")
        missing = [name for name in fields if not str(config.get(name) or "").strip()]
        if missing:
            raise InvalidInput(
                f"the GitHub App configuration needs {', '.join(missing)} in `config` (or use a "
                'personal access token: `"type": "Personal"` with `personal_access_token`)'
            )
        app_id, installation, key = (str(config[name]).strip() for name in fields)
        tokens = github_app.from_seed_config(app_id, installation, key, api)
        host = HostSettings("github", f"{org}/{repo}", api, token_source=tokens)
        return Connection(f"{web}/{org}/{repo}.git", host, github_app.GIT_USERNAME, tokens)
    (token,) = _need(config, "GitHub", "personal_access_token")
    host = HostSettings("github", f"{org}/{repo}", api, token)
    return Connection(f"{web}/{org}/{repo}.git", host, "x-access-token", token)


def _gitlab(org: str, repo: str, config: Mapping[str, Any]) -> Connection:
    (token,) = _need(config, "GitLab", "project_access_token")
    web = _web(config, "https://gitlab.com")
    # The seed's `project_id` is kept as given; the API is called with the project's path,
    # which names the same project and gives the pages' URLs too.
    host = HostSettings("gitlab", f"{org}/{repo}", f"{web}/api/v4", token)
    return Connection(f"{web}/{org}/{repo}.git", host, "oauth2", token)


def _bitbucket(org: str, repo: str, config: Mapping[str, Any]) -> Connection:
    web = _web(config, "https://bitbucket.org")
    api = str(config.get("enterprise_api_url") or "https://api.bitbucket.org/2.0")
    if config.get("app_password"):
        user, password = _need(config, "Bitbucket", "username", "app_password")
        host = HostSettings("bitbucket", f"{org}/{repo}", api, password, user)
        return Connection(f"{web}/{org}/{repo}.git", host, user, password)
    (token,) = _need(config, "Bitbucket", "token")
    host = HostSettings("bitbucket", f"{org}/{repo}", api, token)
    return Connection(f"{web}/{org}/{repo}.git", host, "x-token-auth", token)


def _azure(org: str, repo: str, config: Mapping[str, Any]) -> Connection:
    url, project, token = _need(config, "Azure Repos", "url", "project", "personal_access_token")
    url = url.rstrip("/")
    # The seed's `url` is the organization's (https://dev.azure.com/ORG); the API's root is above.
    api = url.removesuffix(f"/{org}") if url.endswith(f"/{org}") else url
    host = HostSettings("azure", f"{org}/{project}/{repo}", api, token)
    user = str(config.get("user") or "mirel")
    return Connection(f"{api}/{org}/{project}/_git/{repo}", host, user, token)


def _codecommit(org: str, repo: str, config: Mapping[str, Any]) -> Connection:
    del org
    url, region, key_id, secret, user, password = _need(
        config,
        "AWS CodeCommit",
        "url",
        "region",
        "access_key_id",
        "secret_access_key",
        "https_username",
        "https_password",
    )
    api = f"https://codecommit.{region}.amazonaws.com"
    host = HostSettings("codecommit", repo, api, secret, key_id)
    return Connection(url, host, user, password)


def _git(org: str, repo: str, config: Mapping[str, Any]) -> Connection:
    del org, repo
    (url,) = _need(config, "Git", "url")
    if re.match(r"^[a-z][a-z0-9+.-]*://[^/]*@", url) and url.startswith("http"):
        raise InvalidInput(
            "`config.url` holds credentials: give the URL without them, and the password in "
            "`config.password` (stored encrypted, never shown)"
        )
    token = str(config.get("password") or config.get("token") or "") or None
    return Connection(url, HostSettings("git"), str(config.get("username") or "mirel"), token)


_MAKERS = {
    "github": _github,
    "gitlab": _gitlab,
    "bitbucket": _bitbucket,
    "azure": _azure,
    "codecommit": _codecommit,
    "git": _git,
}


def connection_of(stored: Mapping[str, Any]) -> Connection:
    """Return the connection a seed API configuration describes; raise InvalidInput naming
    what is missing or unknown."""
    provider = str(stored.get("provider") or "")
    kind = SEED_PROVIDERS.get(provider)
    if kind is None:
        raise InvalidInput(
            f"provider {provider!r} is not one mirel connects to: use one of "
            + ", ".join(SEED_PROVIDERS)
        )
    org, repo = str(stored.get("org") or "").strip(), str(stored.get("repo") or "").strip()
    if kind != "git" and ((not org and kind != "codecommit") or not repo):
        raise InvalidInput(f"the {provider} configuration needs `org` and `repo`")
    config = stored.get("config")
    return _MAKERS[kind](org, repo, config if isinstance(config, Mapping) else {})


def split_secrets(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return a provider `config` without its secrets, and its secrets."""
    plain = {key: value for key, value in config.items() if key not in SECRET_FIELDS}
    secrets = {key: str(value) for key, value in config.items() if key in SECRET_FIELDS}
    return plain, secrets
