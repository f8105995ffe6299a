"""The source control configuration and settings an instance keeps in its database: set through
`PUT /api/v2/source_control/config` (and `settings`) or `mirel connect`, read at the instance's
start, where the stored connection takes the place of MIREL_REPO and the host's settings.

Secrets (tokens, passwords, keys) are stored encrypted with Fernet (AES-128 in CBC mode with an
HMAC-SHA256 tag, from the `cryptography` package) under a key derived from the instance's
MIREL_SECRET_KEY; answers show them as MASK. A body that sends MASK back for a secret keeps the
stored one, so a configuration read, edited and written back does not lose its token.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.models import SourceControlRecord
from mirel.errors import InvalidInput, MirelError
from mirel.instance.connection import SECRET_FIELDS, Connection, connection_of, split_secrets
from mirel.providers import host_api_opener

MASK = "********"
# The fields of a configuration that say which server its secrets are sent to (with the
# provider): another repository or user on the same host is not another server.
ROUTING_FIELDS = ("url", "enterprise_api_url", "region")
# The seed API's source control settings, with its defaults.
DEFAULT_SETTINGS: dict[str, bool | str] = {
    "auto_branch_naming_enabled": True,
    "custom_pull_request_template_enabled": False,
    "custom_pull_request_template": "",
    "version_control_locked": False,
    "force_uuid_mapping": False,
    "auto_cleanup_branches_enabled": True,
}


class SecretBox:
    """Seals and opens the stored secrets with a key derived from the instance's secret key."""

    def __init__(self, secret_key: str | None) -> None:
        self._fernet: Fernet | None = None
        if secret_key:
            digest = hashlib.sha256(b"mirel source control\0" + secret_key.encode()).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, secrets: dict[str, str]) -> bytes:
        if self._fernet is None:
            raise InvalidInput(
                "set MIREL_SECRET_KEY (a long random string) on this instance before storing "
                "a source control configuration: its secrets are stored encrypted with it"
            )
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode())

    def open(self, token: bytes) -> dict[str, str]:
        if self._fernet is None:
            raise MirelError("the stored source control secrets need MIREL_SECRET_KEY to be read")
        try:
            found = json.loads(self._fernet.decrypt(token))
        except (InvalidToken, ValueError) as error:
            raise MirelError(
                "the stored source control secrets cannot be read with this MIREL_SECRET_KEY: "
                "set the key they were stored with, or store the configuration again"
            ) from error
        return {str(key): str(value) for key, value in found.items()}


def _check_opens(connection: Connection) -> None:
    """Raise InvalidInput unless the host's adapter accepts the connection's settings: stored
    otherwise, it would stop the instance at its next start."""
    opener = host_api_opener(connection.host.kind)
    if opener is not None:
        with httpx.Client() as unused:  # nothing is sent: the adapter only checks its settings
            opener(connection.host, unused)


class SourceControlStore:
    """The `source_control` rows of one instance database."""

    def __init__(self, sessions: sessionmaker[Session], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    def _row(self, key: str) -> SourceControlRecord | None:
        with self._sessions() as session:
            return session.scalar(select(SourceControlRecord).where(SourceControlRecord.key == key))

    def _write(self, key: str, value: dict[str, Any], secrets: bytes | None) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(SourceControlRecord).where(SourceControlRecord.key == key))
            session.add(
                SourceControlRecord(
                    key=key, value=value, secrets=secrets, updated_at=datetime.now(UTC)
                )
            )

    # -- the connection ------------------------------------------------------------------------

    def config(self) -> dict[str, Any] | None:
        """Return the stored configuration in the seed API's shape, secrets masked."""
        row = self._row("config")
        if row is None:
            return None
        value = dict(row.value)
        config = dict(value.get("config") or {})
        for name in value.get("secret_fields") or []:
            config[name] = MASK
        value["config"] = config
        value.pop("secret_fields", None)
        return value

    def _secrets(self) -> dict[str, str]:
        row = self._row("config")
        return self._box.open(row.secrets) if row is not None and row.secrets else {}

    def put_config(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store a configuration (replacing any), after checking that it describes a connection;
        a secret sent as MASK keeps the stored one. Return it as `config()` does."""
        sent = dict(body.get("config") or {})
        stored = self._secrets() if MASK in sent.values() else {}
        if stored:
            self._check_same_host(body)
        for name, value in list(sent.items()):
            if value == MASK:
                if name not in stored:
                    raise InvalidInput(f"`config.{name}` is masked but no value of it is stored")
                sent[name] = stored[name]
        candidate = {**body, "config": sent}
        _check_opens(connection_of(candidate))  # raises, naming what is missing
        plain, secrets = split_secrets(sent)
        value = {
            key: body[key]
            for key in ("provider", "org", "repo", "default_branch", "repo_version")
            if body.get(key) is not None
        }
        value.update(config=plain, secret_fields=sorted(secrets))
        self._write("config", value, self._box.seal(secrets) if secrets else None)
        found = self.config()
        assert found is not None
        return found

    def _check_same_host(self, body: dict[str, Any]) -> None:
        """Refuse to keep a stored secret for a configuration that sends it elsewhere: whoever
        may write the configuration must not be able to point the stored token at a server of
        theirs without knowing it."""
        row = self._row("config")
        before: dict[str, Any] = dict(row.value) if row is not None else {}
        old_config, new_config = before.get("config") or {}, body.get("config") or {}
        changed = ["provider"] if body.get("provider") != before.get("provider") else []
        changed += [
            f"config.{key}" for key in ROUTING_FIELDS if new_config.get(key) != old_config.get(key)
        ]
        if changed:
            raise InvalidInput(
                f"a stored secret is kept only for the host it was given for, and "
                f"{', '.join(changed)} changed: send the secrets again instead of {MASK}"
            )

    def delete_config(self) -> bool:
        """Forget the stored configuration; return whether there was one."""
        with self._sessions.begin() as session:
            gone = session.execute(
                delete(SourceControlRecord).where(SourceControlRecord.key == "config")
            )
        return bool(getattr(gone, "rowcount", 0))

    def connection(self) -> Connection | None:
        """Return the stored connection (secrets opened), or None when none is stored."""
        row = self._row("config")
        if row is None:
            return None
        value = dict(row.value)
        value["config"] = {**dict(value.get("config") or {}), **self._secrets()}
        return connection_of(value)

    # -- the settings --------------------------------------------------------------------------

    def settings(self) -> dict[str, bool | str]:
        """Return the source control settings (the seed API's defaults where none is set)."""
        row = self._row("settings")
        stored = row.value if row is not None else {}
        return {key: stored.get(key, default) for key, default in DEFAULT_SETTINGS.items()}

    def put_settings(self, settings: dict[str, bool | str]) -> dict[str, bool | str]:
        """Replace the settings (the ones not given return to their defaults)."""
        unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
        if unknown:
            raise InvalidInput(f"unknown source control settings: {', '.join(unknown)}")
        self._write("settings", {**DEFAULT_SETTINGS, **settings}, None)
        return self.settings()


__all__ = ["DEFAULT_SETTINGS", "MASK", "SECRET_FIELDS", "SecretBox", "SourceControlStore"]
