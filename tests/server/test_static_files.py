"""The packaged static files, as the application serves them: validators (ETag, Last-Modified),
304 answers to either, HEAD, ranges, the pages' headers, and the error page for unknown names.

The expected headers are derived from the packaged file itself (its bytes and its stat), so the
same tests hold whether the files are read at each request or once at start-up."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from email.utils import formatdate
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from mirel.hub import Hub
from mirel.instance import Instance
from mirel.server import create_app
from mirel.settings import load_settings

STYLESHEET = Path(str(files("mirel.web") / "static" / "mirel.css"))


class Client:
    """A synchronous client of the application in process, on one event loop."""

    def __init__(self, instance: Instance) -> None:
        self._runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=create_app(instance))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://mirel.test")

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return self._runner.run(self._client.request(method, path, **kwargs))  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()


@pytest.fixture
def client(hub: Hub, tmp_path: Path) -> Iterator[Client]:
    settings = load_settings(
        repo=str(hub.repo.path), database_url=f"sqlite:///{tmp_path / 'r.db'}", poll_interval="0"
    )
    instance = Instance(settings)
    client = Client(instance)
    try:
        yield client
    finally:
        client.close()
        instance.close()


def _validators() -> tuple[str, str]:
    stat = STYLESHEET.stat()
    tag = hashlib.md5(f"{stat.st_mtime}-{stat.st_size}".encode(), usedforsecurity=False)
    return f'"{tag.hexdigest()}"', formatdate(stat.st_mtime, usegmt=True)


def test_a_file_is_served_with_its_validators_and_the_pages_headers(client: Client) -> None:
    answer = client.get("/static/mirel.css")
    assert answer.status_code == 200
    assert answer.content == STYLESHEET.read_bytes()
    etag, last_modified = _validators()
    assert answer.headers["etag"] == etag
    assert answer.headers["last-modified"] == last_modified
    assert answer.headers["content-type"] == "text/css; charset=utf-8"
    assert answer.headers["content-length"] == str(len(answer.content))
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in answer.headers
    assert answer.headers["x-request-id"]
    # Pages are no-store; static files carry no Cache-Control (browsers revalidate them).
    assert "cache-control" not in answer.headers
    script = client.get("/static/mirel.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    "condition",
    [
        lambda etag, _: {"if-none-match": etag},
        lambda etag, _: {"if-none-match": f"W/{etag}"},
        lambda etag, _: {"if-none-match": f'"other", {etag}'},
        lambda _, __: {"if-none-match": "*"},
        lambda _, last_modified: {"if-modified-since": last_modified},
        lambda _, __: {"if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ],
)
def test_a_fresh_copy_is_answered_304(client: Client, condition: object) -> None:
    etag, last_modified = _validators()
    headers = condition(etag, last_modified)  # type: ignore[operator]
    for method in ("GET", "HEAD"):
        answer = client.request(method, "/static/mirel.css", headers=headers)
        assert answer.status_code == 304, (method, headers)
        assert answer.content == b""
        assert answer.headers["etag"] == etag
        assert "last-modified" not in answer.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"if-none-match": '"other"'},
        {"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        # If-None-Match decides when both are sent, even when If-Modified-Since would pass.
        {"if-none-match": '"other"', "if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ],
)
def test_a_stale_copy_gets_the_file(client: Client, headers: dict[str, str]) -> None:
    answer = client.get("/static/mirel.css", headers=headers)
    assert answer.status_code == 200
    assert answer.content == STYLESHEET.read_bytes()


def test_head_answers_the_headers_of_get_without_a_body(client: Client) -> None:
    got = client.get("/static/mirel.css")
    head = client.request("HEAD", "/static/mirel.css")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "last-modified", "content-type", "content-length", "accept-ranges"):
        assert head.headers[name] == got.headers[name]


def test_a_range_is_answered_206(client: Client) -> None:
    answer = client.get("/static/mirel.css", headers={"range": "bytes=0-9"})
    assert answer.status_code == 206
    assert answer.content == STYLESHEET.read_bytes()[:10]
    assert answer.headers["content-range"] == f"bytes 0-9/{STYLESHEET.stat().st_size}"


@pytest.mark.parametrize("address", ["/static/nothing.css", "/static/", "/static/a/b.js"])
def test_an_unknown_name_is_the_404_page(client: Client, address: str) -> None:
    answer = client.get(address)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["x-frame-options"] == "DENY"


def test_other_methods_are_refused(client: Client) -> None:
    assert client.request("POST", "/static/mirel.css").status_code == 405
