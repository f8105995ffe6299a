"""Instance settings: environment variables `MIREL_*` (or arguments), checked at start-up."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mirel.core.names import is_valid_name
from mirel.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///mirel.db"


def normalise_database_url(value: str) -> str:
    """Return the URL SQLAlchemy takes; raise InvalidInput unless it is SQLite or PostgreSQL."""
    if not value.startswith(("sqlite", "postgresql")):
        raise InvalidInput(f"database URL {value!r}: use a sqlite:/// or postgresql:// URL")
    if value.startswith("postgresql://"):
        # psycopg 3 is the driver mirel ships with.
        value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
    return value


class Settings(BaseSettings):
    """Everything one instance needs to run; bad values fail fast with a clear message."""

    model_config = SettingsConfigDict(env_prefix="MIREL_", extra="ignore")

    name: str = Field(default="mirel", description="The instance's display name.")
    repo: str = Field(
        description="The shared repository: a path or file:// URL of a bare repository, or the "
        "URL of a remote one (https://, ssh://, user@host:path), read through a local mirror."
    )
    mirror: str | None = Field(
        default=None,
        description="The folder of this instance's mirror of a remote repository (default: "
        "one per URL in the user's cache folder); naming one mirrors a local path too.",
    )
    git_token: SecretStr | None = Field(
        default=None, description="The token a remote over HTTPS takes as the password."
    )
    git_username: str = Field(
        default="mirel", description="The user name sent with the token over HTTPS."
    )
    provider: Literal["local", "git", "github", "gitlab", "bitbucket", "azure", "codecommit"] = (
        Field(
            default="local",
            description="Where pull requests live: local or git (in the repository itself, on "
            "any git server), or a host's own, through its REST API: github, gitlab, bitbucket "
            "(Cloud), azure (Azure Repos), codecommit.",
        )
    )
    host_repository: str | None = Field(
        default=None,
        description="The repository on the host (default: read from the URL): owner/name on "
        "GitHub, group/project on GitLab, workspace/slug on Bitbucket, organization/project/"
        "repository on Azure Repos, the repository's name on CodeCommit.",
    )
    host_api_url: str | None = Field(
        default=None,
        description="The host's API, when not its public one (GitHub Enterprise: "
        "https://HOST/api/v3; GitLab: https://HOST/api/v4; Azure DevOps Server: "
        "https://HOST/COLLECTION; CodeCommit: https://codecommit.REGION.amazonaws.com).",
    )
    host_token: SecretStr | None = Field(
        default=None,
        description="The token of the host's API (default: the git token); on CodeCommit, the "
        "AWS secret access key.",
    )
    host_username: str | None = Field(
        default=None,
        description="The user name the host's API takes with the token (Bitbucket: the account "
        "of an app password; CodeCommit: the AWS access key id).",
    )
    github_app_id: str | None = Field(
        default=None,
        description="The GitHub App mirel signs in as, instead of a token (its App ID or Client "
        "ID); with MIREL_GITHUB_APP_INSTALLATION_ID and MIREL_GITHUB_APP_PRIVATE_KEY.",
    )
    github_app_installation_id: int | None = Field(
        default=None,
        gt=0,
        description="The app's installation on the repository's account (the number ending "
        "the installation's settings page URL).",
    )
    github_app_private_key: str | None = Field(
        default=None,
        description="The path of the app's private key file (.pem): a file, so that the key "
        "stays out of the environment, which child processes inherit.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The key that encrypts the source control secrets stored in the database "
        "(a long random string; keep it as safe as the database).",
    )
    git_ssh_key: str | None = Field(
        default=None, description="A private key file for a remote over SSH (.pub beside it)."
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the instance database (SQLite file or PostgreSQL).",
    )
    manifest: str | None = Field(
        default=None, description="The manifest to publish when none was chosen through the API."
    )
    poll_interval: float = Field(
        default=5.0, ge=0, description="Seconds between polls of the default branch; 0 is off."
    )
    webhook_secret: str | None = Field(
        default=None, description="Shared secret of provider webhooks (HMAC-SHA256)."
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8600, ge=0, le=65535, description="Port to listen on.")
    public_url: str | None = Field(
        default=None, description="Base URL people use to reach this instance (for links)."
    )
    max_artifact_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Largest uncompressed artifact accepted."
    )
    max_request_bytes: int = Field(
        default=2 * 1024 * 1024, gt=0, description="Largest request body of most routes."
    )
    max_upload_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest request body of the routes carrying files (commits, new elements, "
        "the page editor, webhooks).",
    )

    @property
    def web_url(self) -> str:
        """Return the base URL of this instance's pages: the public URL, else host and port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @field_validator("repo")
    @classmethod
    def _repo_path(cls, value: str) -> str:
        return value.removeprefix("file://")

    @field_validator("manifest")
    @classmethod
    def _manifest_name(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not is_valid_name(value):
            raise ValueError(f"{value!r} is not a valid manifest name")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            return normalise_database_url(value)
        except InvalidInput:
            raise ValueError("use a sqlite:/// or postgresql:// URL") from None


def load_settings(**overrides: str | float | None) -> Settings:
    """Return the settings from the environment and `overrides` (given as on a command line;
    None: not given); raise InvalidInput if bad."""
    given: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    try:
        # Keyword arguments, not model_validate: only __init__ merges in the environment.
        return Settings(**given)
    except ValidationError as error:
        problems = "; ".join(
            f"MIREL_{'_'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}"
            for issue in error.errors()
        )
        raise InvalidInput(f"bad settings: {problems}") from error
