"""Settings → Source control: the connection in use, the stored configuration (each secret only
as set or not set), a form per provider, and the source control settings.

No value of a secret ever reaches a page: the stored configuration answers secrets masked, and
this module keeps only whether each one is set; a secret field left empty in the form keeps the
stored one (it is sent to the store as its mask).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mirel.errors import InvalidInput
from mirel.instance import Instance
from mirel.instance.connection import SECRET_FIELDS, SEED_PROVIDERS
from mirel.instance.source_control import DEFAULT_SETTINGS, MASK

MAX_VALUE = 2000  # as the API's fields
CONFIG = "config."  # the prefix of a provider field in the form
CLEAR = "clear."  # the prefix of a box that removes a stored secret


@dataclass(frozen=True)
class Field:
    """One field of a provider's `config`."""

    name: str
    label: str
    hint: str = ""

    @property
    def secret(self) -> bool:
        """Return whether it is a secret (stored encrypted, never shown)."""
        return self.name in SECRET_FIELDS


@dataclass(frozen=True)
class ProviderForm:
    """The form of one provider: what `org` and `repo` are called there (empty: not asked)."""

    provider: str  # the seed API's name: GitHub, GitLab, ...
    org: str
    repo: str
    fields: tuple[Field, ...]

    @property
    def slug(self) -> str:
        """Return its short name (github, azure, ...), used in addresses and ids."""
        return SEED_PROVIDERS[self.provider]


_WEB = "Web address"
PROVIDER_FORMS: tuple[ProviderForm, ...] = (
    ProviderForm(
        "GitHub",
        "Owner (organization or user)",
        "Repository",
        (
            Field("url", _WEB, "https://github.com when empty, or your GitHub Enterprise server"),
            Field("enterprise_api_url", "Enterprise API address", "when it is not <web>/api/v3"),
            Field("personal_access_token", "Personal access token"),
        ),
    ),
    ProviderForm(
        "GitLab",
        "Group or user",
        "Project",
        (
            Field("url", _WEB, "https://gitlab.com when empty, or your own GitLab"),
            Field("project_id", "Project id", "its number or path; group/project when empty"),
            Field("project_access_token", "Project access token"),
        ),
    ),
    ProviderForm(
        "Bitbucket",
        "Workspace",
        "Repository",
        (
            Field("username", "User name", "with an app password"),
            Field("app_password", "App password"),
            Field("token", "Access token", "instead of a user name and app password"),
            Field("url", _WEB, "https://bitbucket.org when empty"),
        ),
    ),
    ProviderForm(
        "Azure Repos",
        "Organization",
        "Repository",
        (
            Field("url", "Organization address", "https://dev.azure.com/ORGANIZATION"),
            Field("project", "Project"),
            Field("user", "User name", "for git over HTTPS; mirel when empty"),
            Field("personal_access_token", "Personal access token"),
        ),
    ),
    ProviderForm(
        "AWS CodeCommit",
        "",
        "Repository name",
        (
            Field("url", "Clone address (HTTPS)"),
            Field("region", "Region", "eu-west-1, for instance"),
            Field("access_key_id", "Access key id"),
            Field("secret_access_key", "Secret access key"),
            Field("https_username", "Git user name", "the HTTPS Git credentials of an IAM user"),
            Field("https_password", "Git password"),
        ),
    ),
    ProviderForm(
        "Git",
        "",
        "",
        (
            Field("url", "Remote address", "any git remote; mirel keeps its pull requests in it"),
            Field("username", "User name"),
            Field("password", "Password or token"),
        ),
    ),
)
_BY_SLUG = {form.slug: form for form in PROVIDER_FORMS}
_BY_NAME = {form.provider: form for form in PROVIDER_FORMS}
_HOSTS = {"local": "local (pull requests are kept in the repository)"} | {
    slug: name for name, slug in SEED_PROVIDERS.items()
}


# -- the page -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InUse:
    """The connection this instance opened at its start."""

    provider: str
    repository: str  # a path or a URL without credentials
    default_branch: str


@dataclass(frozen=True)
class StoredField:
    """One stored field: its value, or for a secret only whether it is set."""

    name: str
    label: str
    value: str | None  # None for a secret
    is_set: bool


@dataclass(frozen=True)
class StoredConnection:
    """The stored configuration, as the page shows it."""

    provider: str
    org: str
    repo: str
    default_branch: str
    fields: list[StoredField]


@dataclass(frozen=True)
class Setting:
    """One source control setting: a box, or a text."""

    name: str
    label: str
    value: bool | str


@dataclass(frozen=True)
class SourceControlPage:
    """Settings → Source control."""

    in_use: InUse
    stored: StoredConnection | None
    settings: list[Setting]
    providers: tuple[ProviderForm, ...]
    chosen: ProviderForm  # the provider whose form is shown
    values: dict[str, str]  # what that form shows (never a secret)
    secrets_set: frozenset[str]  # the secrets of that form the store holds
    can_seal: bool  # a secret key is set, so secrets can be stored
    forms: tuple[str, ...] = ("connection", "forget", "settings", "test")


_SETTING_LABELS = {
    "auto_branch_naming_enabled": "Name branches automatically",
    "custom_pull_request_template_enabled": "Use a custom pull request template",
    "custom_pull_request_template": "Pull request template",
    "version_control_locked": "Version control locked",
    "force_uuid_mapping": "Force uuid mapping",
    "auto_cleanup_branches_enabled": "Delete merged branches automatically",
}


def _stored(config: Mapping[str, Any]) -> StoredConnection:
    form = _BY_NAME.get(str(config.get("provider")))
    fields = config.get("config") or {}
    # The provider's fields, then any other the API stored.
    labels = {field.name: field.label for field in form.fields} if form else {}
    labels |= {name: name for name in sorted(fields) if name not in labels}
    shown = [
        StoredField(name, label, None, bool(fields.get(name)))
        if name in SECRET_FIELDS
        else StoredField(name, label, str(fields.get(name) or ""), name in fields)
        for name, label in labels.items()
    ]
    return StoredConnection(
        str(config.get("provider")),
        str(config.get("org") or ""),
        str(config.get("repo") or ""),
        str(config.get("default_branch") or ""),
        shown,
    )


def _chosen(slug: str | None, stored: Mapping[str, Any] | None) -> ProviderForm:
    if slug in _BY_SLUG:
        return _BY_SLUG[slug]
    if stored is not None and stored.get("provider") in _BY_NAME:
        return _BY_NAME[stored["provider"]]
    return PROVIDER_FORMS[0]


def slug_of(provider: str) -> str | None:
    """Return the short name of a provider's seed API name (None: not a provider)."""
    return SEED_PROVIDERS.get(provider)


def provider_in_use(instance: Instance) -> str:
    """Return the provider of the connection in use, as people read it."""
    # The Provider protocol does not name its kind; every provider class has a `name`.
    kind = instance.hub.provider.name
    return _HOSTS.get(kind, kind)


def source_control_page(instance: Instance, provider: str | None = None) -> SourceControlPage:
    """Return the data of Settings → Source control, with the form of `provider` (a slug;
    by default the stored configuration's provider, else GitHub)."""
    hub = instance.hub
    in_use = InUse(provider_in_use(instance), hub.repo.location, hub.default_branch)
    config = instance.source_control.config()
    chosen = _chosen(provider, config)
    values = {"default_branch": "main"}
    secrets: frozenset[str] = frozenset()
    if config is not None and config.get("provider") == chosen.provider:
        fields = config.get("config") or {}
        values = {key: str(config.get(key) or "") for key in ("org", "repo", "default_branch")}
        values |= {CONFIG + k: str(v) for k, v in fields.items() if k not in SECRET_FIELDS}
        secrets = frozenset(name for name in SECRET_FIELDS if fields.get(name))
    current = instance.source_control.settings()
    return SourceControlPage(
        in_use=in_use,
        stored=_stored(config) if config is not None else None,
        settings=[Setting(name, _SETTING_LABELS[name], current[name]) for name in DEFAULT_SETTINGS],
        providers=PROVIDER_FORMS,
        chosen=chosen,
        values=values,
        secrets_set=secrets,
        can_seal=instance.settings.secret_key is not None,
    )


# -- what the forms post --------------------------------------------------------------------------


def _text(posted: Mapping[str, str], name: str, what: str) -> str:
    value = posted.get(name, "")
    if len(value) > MAX_VALUE:
        # Never the value itself: it may be a secret.
        raise InvalidInput(f"{what} is longer than {MAX_VALUE:,} characters")
    return value


def posted_config(posted: Mapping[str, str], stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the configuration a provider's form posted, in the seed API's shape: an empty
    secret keeps the stored one (sent as its mask) unless its box says to remove it."""
    form = _BY_NAME.get(posted.get("provider", ""))
    if form is None:
        raise InvalidInput("choose a provider: " + ", ".join(SEED_PROVIDERS))
    kept: Mapping[str, Any] = {}
    if stored is not None and stored.get("provider") == form.provider:
        kept = stored.get("config") or {}
    config: dict[str, str] = {}
    for field in form.fields:
        value = _text(posted, CONFIG + field.name, field.label).strip()
        if value:
            config[field.name] = value
        elif field.secret and kept.get(field.name) and not posted.get(CLEAR + field.name):
            config[field.name] = MASK
    body: dict[str, Any] = {"provider": form.provider, "config": config}
    for key, label in (("org", form.org), ("repo", form.repo), ("default_branch", "")):
        if label or key == "default_branch":
            body[key] = _text(posted, key, label or "the default branch").strip()
    body["default_branch"] = body["default_branch"] or "main"
    return body


def typed_values(posted: Mapping[str, str]) -> dict[str, str]:
    """Return what was typed into a provider's form, without its secrets (shown again beside
    the form's error)."""
    return {
        key: value[:MAX_VALUE]
        for key, value in posted.items()
        if key in ("org", "repo", "default_branch")
        or (key.startswith(CONFIG) and key.removeprefix(CONFIG) not in SECRET_FIELDS)
    }


def posted_settings(posted: Mapping[str, str]) -> dict[str, bool | str]:
    """Return the source control settings the settings form posted (an unticked box is off)."""
    settings: dict[str, bool | str] = {}
    for name, default in DEFAULT_SETTINGS.items():
        if isinstance(default, bool):
            settings[name] = name in posted
        else:
            text = _text(posted, name, _SETTING_LABELS[name].lower())
            settings[name] = text.replace("\r\n", "\n")
    return settings
