"""GitHub App authentication: the installation tokens mirel signs in with when it acts as a
GitHub App (an app id, an installation and the app's private key) instead of a person's token.

GitHub gives an installation token (POST /app/installations/{id}/access_tokens) to a request
signed with a JSON web token: RS256 (RSASSA-PKCS1-v1_5 over SHA-256) with the app's private key,
`iss` the app, `iat` a minute in the past against clock drift, `exp` under GitHub's ten minutes.
A JWT is three base64url parts, so the `cryptography` package that mirel has anyway signs it
(no JWT library). The token lasts an hour: `InstallationTokens` keeps the current one and asks
for the next a few minutes before it expires, and is asked before every API call (github_api)
and every fetch and push of the mirror (git.remote takes it as its token, with the user name
`x-access-token`), so neither ever sends an expired one.

The private key, the JWT and the tokens never appear in a message, a log line or a repr.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mirel.errors import InvalidInput, RemoteUnreachable

API_VERSION = "2022-11-28"
PUBLIC_API = "https://api.github.com"
GIT_USERNAME = "x-access-token"  # the user name GitHub takes with an installation token
RENEW_BEFORE = 300.0  # ask for the next token this many seconds before the current one expires
JWT_BACKDATE = 60  # `iat` this far in the past, as GitHub advises against clock drift
JWT_LIFETIME = 540  # `exp` after now: GitHub refuses more than 600 seconds
_TIMEOUT = 15.0


@dataclass(frozen=True)
class AppSettingNames:
    """What messages name as the place each of the app's values was set."""

    app_id: str
    installation_id: str
    private_key: str


SETTINGS = AppSettingNames(
    "MIREL_GITHUB_APP_ID", "MIREL_GITHUB_APP_INSTALLATION_ID", "MIREL_GITHUB_APP_PRIVATE_KEY"
)
SEED_CONFIG = AppSettingNames("`config.app_id`", "`config.installation_id`", "`config.private_key`")


@dataclass(frozen=True)
class GitHubApp:
    """One installation of a GitHub App, and the app's private key that signs for it."""

    app_id: str  # the App ID (a number) or the app's Client ID (Iv23...), both taken as `iss`
    installation_id: int
    private_key: rsa.RSAPrivateKey = field(repr=False, compare=False)
    names: AppSettingNames = SETTINGS


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def app_jwt(app: GitHubApp, now: float) -> str:
    """Return the JWT that authenticates as the app at time `now` (seconds since the epoch)."""
    header = {"alg": "RS256", "typ": "JWT"}
    issuer: int | str = int(app.app_id) if app.app_id.isdigit() else app.app_id
    claims = {"iat": int(now) - JWT_BACKDATE, "exp": int(now) + JWT_LIFETIME, "iss": issuer}
    signed = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = app.private_key.sign(signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64url(signature)}"


def load_private_key(pem: bytes, named: str) -> rsa.RSAPrivateKey:
    """Return the RSA private key in `pem`; raise InvalidInput naming the setting `named` (and
    never any of the key) when it is not one."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, binascii.Error):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput(
            f"{named} is not a GitHub App private key: give the unencrypted RSA key in PEM "
            "format that the app's settings page makes ('Generate a private key')"
        )
    return key


def read_private_key(path: str, named: str = SETTINGS.private_key) -> rsa.RSAPrivateKey:
    """Return the private key in the PEM file at `path`."""
    try:
        pem = Path(path).expanduser().read_bytes()
    except OSError as error:
        raise InvalidInput(
            f"{named}: cannot read {path} ({error.strerror or type(error).__name__}); give the "
            "path of the GitHub App's private key file (.pem)"
        ) from None
    return load_private_key(pem, f"{named} ({path})")


def decode_private_key(text: str, named: str = SEED_CONFIG.private_key) -> rsa.RSAPrivateKey:
    """Return the private key of a seed configuration: its PEM, base64-encoded (or as it is)."""
    if "-----BEGIN" in text:
        return load_private_key(text.encode(), named)
    try:
        pem = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        pem = b""
    return load_private_key(pem, f"{named} (the base64 encoding of the .pem file)")


def _installation(value: object, named: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise InvalidInput(
            f"{named} must be the installation's number (the end of the URL of the "
            "installation's settings page, github.com/settings/installations/NUMBER)"
        )
    return int(text)


class InstallationTokens:
    """The installation tokens of one GitHub App installation: calling it returns one that is
    valid for a few minutes more at least, asking GitHub for a new one when needed."""

    def __init__(
        self,
        app: GitHubApp,
        api_url: str | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.api_url = (api_url or PUBLIC_API).rstrip("/")
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        # What the mirror's messages name when the remote refuses a token of this source.
        self.described = f"GitHub App {app.app_id}'s installation {app.installation_id}"

    def __repr__(self) -> str:
        return (
            f"InstallationTokens(app_id={self.app.app_id!r}, "
            f"installation_id={self.app.installation_id}, api_url={self.api_url!r})"
        )

    @property
    def expires_at(self) -> float:
        """Return when the current token expires (seconds since the epoch; 0 before the first)."""
        return self._expires

    def __call__(self) -> str:
        """Return a token valid for RENEW_BEFORE seconds at least."""
        with self._lock:
            if self._token is None or self._expires - self._clock() < RENEW_BEFORE:
                self._token, self._expires = self._request()
            return self._token

    def _request(self) -> tuple[str, float]:
        names, app = self.app.names, self.app
        url = f"{self.api_url}/app/installations/{app.installation_id}/access_tokens"
        headers = {
            "Authorization": f"Bearer {app_jwt(app, self._clock())}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        client = self._client or httpx.Client(timeout=_TIMEOUT)
        try:
            answer = client.post(url, headers=headers)
        except httpx.HTTPError as error:
            raise RemoteUnreachable(
                f"cannot reach GitHub at {self.api_url} for an installation token of GitHub App "
                f"{app.app_id}: {type(error).__name__}; nothing was changed, try again once it "
                "answers"
            ) from error
        finally:
            if self._client is None:
                client.close()
        if answer.status_code == 401:
            raise RemoteUnreachable(
                f"GitHub refused the signature of GitHub App {app.app_id} (401: "
                f"{_message(answer)}); check {names.app_id} and that {names.private_key} is "
                "that app's private key"
            )
        if answer.status_code == 404:
            raise RemoteUnreachable(
                f"GitHub App {app.app_id} has no installation {app.installation_id} (404); "
                f"check {names.installation_id} and that the app is installed on the repository"
            )
        if answer.status_code != 201:
            raise RemoteUnreachable(
                f"GitHub refused an installation token to GitHub App {app.app_id} "
                f"({answer.status_code}: {_message(answer)}); is the installation suspended, "
                "or GitHub busy? Nothing was changed"
            )
        return _token(answer, self.api_url)


def _token(answer: httpx.Response, api_url: str) -> tuple[str, float]:
    try:
        found: Any = answer.json()
        token, expires = str(found["token"]), str(found["expires_at"])
        return token, datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError) as error:
        raise RemoteUnreachable(
            f"GitHub answered an installation token request without a token and its expiry; is "
            f"{api_url} GitHub's API?"
        ) from error


def _message(answer: httpx.Response) -> str:
    try:
        found = answer.json()
    except ValueError:
        return answer.reason_phrase
    message = found.get("message") if isinstance(found, dict) else None
    return str(message or answer.reason_phrase)[:200]


def from_settings(
    app_id: str | None,
    installation_id: str | int | None,
    private_key: str | None,
    *,
    provider: str,
    api_url: str | None,
    tokens: Mapping[str, bool],
) -> InstallationTokens | None:
    """Return the installation tokens the MIREL_GITHUB_APP_* settings describe (None when none
    is set); raise InvalidInput naming the setting that is missing, bad or in conflict.
    `tokens` tells which token settings are set: an app replaces them."""
    given = {
        SETTINGS.app_id: app_id,
        SETTINGS.installation_id: installation_id,
        SETTINGS.private_key: private_key,
    }
    if not any(value not in (None, "") for value in given.values()):
        return None
    missing = [name for name, value in given.items() if value in (None, "")]
    if missing:
        raise InvalidInput(
            f"a GitHub App needs MIREL_GITHUB_APP_ID, MIREL_GITHUB_APP_INSTALLATION_ID and "
            f"MIREL_GITHUB_APP_PRIVATE_KEY: set {', '.join(missing)}"
        )
    if provider != "github":
        raise InvalidInput(
            f"MIREL_GITHUB_APP_ID is set but MIREL_PROVIDER is {provider!r}: a GitHub App "
            "signs in to GitHub; set MIREL_PROVIDER=github"
        )
    both = [name for name, is_set in tokens.items() if is_set]
    if both:
        raise InvalidInput(
            f"set either a GitHub App (MIREL_GITHUB_APP_*) or {' and '.join(both)}, not both: "
            "the app's installation tokens serve git and GitHub's API"
        )
    app = GitHubApp(
        str(app_id).strip(),
        _installation(installation_id, SETTINGS.installation_id),
        read_private_key(str(private_key)),
    )
    return InstallationTokens(app, api_url)


def from_seed_config(
    app_id: str, installation_id: str, private_key: str, api_url: str
) -> InstallationTokens:
    """Return the installation tokens a seed API `"type": "App"` configuration describes."""
    app = GitHubApp(
        app_id,
        _installation(installation_id, SEED_CONFIG.installation_id),
        decode_private_key(private_key),
        SEED_CONFIG,
    )
    return InstallationTokens(app, api_url)


__all__ = [
    "GIT_USERNAME",
    "GitHubApp",
    "InstallationTokens",
    "app_jwt",
    "from_seed_config",
    "from_settings",
    "load_private_key",
]
