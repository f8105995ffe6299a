"""Text from outside is checked at the edge for what the stores accept (issue 11, item 3): a NUL
in an address or a user's e-mail is a 400 on SQLite and on PostgreSQL, never a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from api_support import Api, Seed, TokenMaker, failed

from mirel.errors import InvalidInput
from mirel.instance import Instance
from mirel.instance.accounts.users import create_user
from mirel.server.app import create_app


@pytest.mark.parametrize(
    "path",
    [
        "/elements/%00",
        "/elements/{billing}/files/a%00b",
        "/source_control/releases/{billing}?elementType=%00",
        "/source_control/elements?kind=%01",
        "/source_control/manifests/%00",
    ],
)
def test_an_api_address_with_a_control_character_is_400(
    api: Api, seed: Seed, path: str, make_token: TokenMaker
) -> None:
    token = make_token()
    message = failed(api.get(path.format(billing=seed.billing), token), 400)
    assert "control character" in message
    assert "remove it" in message


@pytest.mark.parametrize("path", ["/?q=%00", "/elements/app/billing/files/a%00", "/login%00"])
def test_a_page_address_with_a_nul_is_a_400_page(instance: Instance, path: str) -> None:
    transport = httpx.ASGITransport(app=create_app(instance))

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://mirel.test") as client:
            return await client.get(path)

    answer = asyncio.run(get())
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "control character" in answer.text


@pytest.mark.parametrize("email", ["ada\x00@example.com", "ada@exa\x01mple.com"])
def test_an_email_with_a_control_character_is_refused(instance: Instance, email: str) -> None:
    with pytest.raises(InvalidInput, match="is not an email address"):
        create_user(instance.sessions, "ada", "a long enough password", "viewer", email)
