"""API tokens: random secrets shown once, stored only as sha256 hashes, each with its scopes.

A token is `mirel_` followed by 32 random bytes in URL-safe base64. Its sha256 is what the database
keeps; a lookup hashes the presented token and asks for that hash, so the secret itself is never
stored or compared. A slow password hash is not needed: the secret has 256 bits of entropy.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.models import Token, as_utc
from mirel.errors import InvalidInput, NotFound
from mirel.instance.accounts.lookup import first_row

SCOPES: tuple[str, ...] = (
    "source_control:releases:read",
    "source_control:releases:write",
    "source_control:read",
    "source_control:write",
    "source_control:deploy",
    "source_control:test_deploy",
)
# A write scope grants its read scope, as in the seed API: a script that may write may read.
IMPLIED: dict[str, str] = {
    "source_control:releases:write": "source_control:releases:read",
    "source_control:write": "source_control:read",
}
TOKEN_PREFIX = "mirel_"
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class TokenInfo:
    """What the server knows of a token: never the secret, only its name and scopes."""

    id: int
    name: str
    scopes: frozenset[str]
    created_at: datetime

    def grants(self, scope: str) -> bool:
        """Return whether the token may use a route of `scope`: it holds it, or a scope that
        grants it (IMPLIED)."""
        return scope in self.scopes or any(IMPLIED.get(held) == scope for held in self.scopes)

    @property
    def ordered_scopes(self) -> list[str]:
        """Return the token's scopes in the canonical order of SCOPES."""
        return [scope for scope in SCOPES if scope in self.scopes]

    def to_json(self) -> dict[str, int | str | list[str]]:
        """Return the token's public description (no secret, no hash)."""
        return {
            "id": self.id,
            "name": self.name,
            "scopes": self.ordered_scopes,
            "created_at": self.created_at.isoformat(),
        }


def hash_token(token: str) -> str:
    """Return the sha256 hex digest stored for `token`."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_scopes(scopes: list[str]) -> list[str]:
    """Return `scopes` deduplicated in canonical order; raise InvalidInput for unknown ones."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise InvalidInput(f"unknown scope {unknown[0]!r}; use one or more of: {', '.join(SCOPES)}")
    if not scopes:
        raise InvalidInput(f"give the token at least one scope: {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in scopes]


def check_token_name(name: str) -> str:
    """Return the token name stripped; raise InvalidInput when it cannot name a git author."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a token name has 1 to {MAX_NAME_LENGTH} characters, got {name!r}")
    # The name becomes the author of the token's commits, and git refuses these characters there.
    if any(char in "<>" or unicodedata.category(char).startswith("C") for char in name):
        raise InvalidInput(
            f"token name {name!r} holds '<', '>' or a control character; use plain text"
        )
    return name


def create_token(sessions: sessionmaker[Session], name: str, scopes: list[str]) -> str:
    """Return a new token's secret (shown once); only its hash and scopes are stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store_token(sessions, name, scopes, token)
    return token


def store_token(sessions: sessionmaker[Session], name: str, scopes: list[str], token: str) -> None:
    """Store the hash of an existing token's secret (one secret valid on several instances)."""
    name = check_token_name(name)
    chosen = check_scopes(scopes)
    with sessions.begin() as session:
        session.add(
            Token(
                name=name,
                token_hash=hash_token(token),
                scopes=chosen,
                created_at=datetime.now(UTC),
            )
        )


def _info(row: Token) -> TokenInfo:
    return TokenInfo(row.id, row.name, frozenset(row.scopes or ()), as_utc(row.created_at))


# The lookup every API request makes, built once (accounts/lookup.py).
_LOOKUP = select(Token.id, Token.name, Token.scopes, Token.created_at).where(
    Token.token_hash == bindparam("token_hash")
)


def authenticate(sessions: sessionmaker[Session], token: str) -> TokenInfo | None:
    """Return the token's info when `token` is known, else None.

    Nothing is cached: each call asks the database, so a token revoked by any process (another
    worker, `mirel token revoke`) is refused at its next request.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = first_row(sessions, _LOOKUP, {"token_hash": hash_token(token)})
    if row is None:
        return None
    return TokenInfo(row.id, row.name, frozenset(row.scopes or ()), as_utc(row.created_at))


def list_tokens(sessions: sessionmaker[Session]) -> list[TokenInfo]:
    """Return every token's info, oldest first."""
    with sessions() as session:
        return [_info(row) for row in session.scalars(select(Token).order_by(Token.id))]


def revoke_token(sessions: sessionmaker[Session], token_id: int) -> TokenInfo:
    """Delete a token and return what it was; raise NotFound for an unknown id."""
    with sessions.begin() as session:
        row = session.get(Token, token_id)
        if row is None:
            raise NotFound(f"no token with id {token_id}", cli_hint="'mirel token list' shows them")
        info = _info(row)
        session.delete(row)
    return info
