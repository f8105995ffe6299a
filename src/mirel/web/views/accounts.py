"""The admin pages of accounts: the users of this instance and its API tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from mirel.instance.accounts.tokens import SCOPES, TokenInfo, list_tokens
from mirel.instance.accounts.users import Role, UserInfo, list_users


@dataclass(frozen=True)
class UsersPage:
    """Every user with their role, and the roles one can be given."""

    users: list[UserInfo]
    roles: tuple[str, ...] = tuple(str(role) for role in Role)

    @property
    def forms(self) -> set[str]:
        """Return the forms the page shows an error beside: Add a user, and one per user."""
        return {"add-user"} | {f"user-{user.username}" for user in self.users}


def users_page(sessions: sessionmaker[Session]) -> UsersPage:
    """Return the data of the users page."""
    return UsersPage(list_users(sessions))


@dataclass(frozen=True)
class TokensPage:
    """Every API token (never its secret) and the scopes one can be given."""

    tokens: list[TokenInfo]
    new_token: str | None = None  # the secret of the token just created, shown this once
    scopes: tuple[str, ...] = SCOPES

    @property
    def forms(self) -> set[str]:
        """Return the forms the page shows an error beside: Create a token, and one per token."""
        return {"add-token"} | {f"token-{token.id}" for token in self.tokens}


def tokens_page(sessions: sessionmaker[Session], new_token: str | None = None) -> TokensPage:
    """Return the data of the tokens page (with the secret of a token just created)."""
    return TokensPage(list_tokens(sessions), new_token)
