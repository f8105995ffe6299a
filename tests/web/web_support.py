"""Helpers of the page tests: a cookie-keeping client of the application in process, and a small
reader of the HTML it answers (forms, links, the text people see)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from mirel.hub import Hub
from mirel.instance import Instance
from mirel.instance.accounts.users import Role, hash_password, put_user
from mirel.settings import Settings

PASSWORD = "correct horse battery"
# argon2 is slow on purpose: hash the test password once, store it for every user.
PASSWORD_HASH = hash_password(PASSWORD)
USERS = {"ada": Role.ADMIN, "eve": Role.EDITOR, "vic": Role.VIEWER}


def open_web_instance(
    hub: Hub, database_url: str, name: str = "web", secret_key: str | None = None
) -> Instance:
    """Return an instance publishing `dev`, deployed once, with users ada, eve and vic (and a
    secret key, which storing a source control configuration with secrets needs)."""
    instance = Instance(
        Settings(
            name=name,
            repo=str(hub.repo.path),
            database_url=database_url,
            manifest="dev",
            poll_interval=0,
            secret_key=SecretStr(secret_key) if secret_key else None,
        ),
        hub,
    )
    instance.deployer.deploy("test")
    for username, role in USERS.items():
        put_user(instance.sessions, username, PASSWORD_HASH, role, replace=False)
    return instance


@dataclass
class Form:
    """One form of a page: where it goes, how, and the fields it sends."""

    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.meta: dict[str, str] = {}
        self._form: Form | None = None
        self._skip = 0
        self._textarea: str | None = None
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "form":
            self._form = Form(found.get("method", "get").lower(), found.get("action", ""))
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and "name" in found:
            kind = found.get("type", "text")
            if kind not in ("radio", "checkbox") or "checked" in found:
                self._form.fields[found["name"]] = found.get("value", "")
        elif tag == "textarea" and self._form is not None:
            self._textarea = found.get("name")
            self._form.fields[self._textarea or ""] = ""
        elif tag == "button" and self._form is not None:
            self._button = []
        elif tag == "a" and "href" in found:
            self.links.append(found["href"])
        elif tag == "meta" and "name" in found:
            self.meta[found["name"]] = found.get("content", "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "button" and self._form is not None and self._button is not None:
            self._form.buttons.append(" ".join("".join(self._button).split()))
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._textarea is not None and self._form is not None:
            self._form.fields[self._textarea] += data
        if self._button is not None:
            self._button.append(data)
        self.text.append(data)


@dataclass
class Page:
    """An answer of the application, read as a person would read the page."""

    response: httpx.Response
    forms: list[Form]
    links: list[str]
    text: str
    meta: dict[str, str]

    @classmethod
    def of(cls, response: httpx.Response) -> Page:
        """Return the page of an HTML answer."""
        reader = _Reader()
        reader.feed(response.text)
        text = " ".join(" ".join(reader.text).split())
        return cls(response, reader.forms, reader.links, text, reader.meta)

    @property
    def status(self) -> int:
        """Return the HTTP status."""
        return self.response.status_code

    @property
    def html(self) -> str:
        """Return the page's HTML."""
        return self.response.text

    def form(self, action: str, **fields: str) -> Form:
        """Return the form posting to `action` (whose fields include `fields`)."""
        for form in self.forms:
            if form.action == action and all(form.fields.get(k) == v for k, v in fields.items()):
                return form
        raise AssertionError(f"no form to {action} {fields} on {self.response.url}: {self.forms}")

    def post_forms(self) -> list[Form]:
        """Return the forms that post (that would change something)."""
        return [form for form in self.forms if form.method == "post"]


class Browser:
    """A client that keeps cookies and follows the pages' forms, without a browser engine."""

    def __init__(self, app: FastAPI, *, raise_app_exceptions: bool = True) -> None:
        self._runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://mirel.test")
        self.csrf = ""

    def close(self) -> None:
        """Close the client and its event loop."""
        self._runner.run(self.client.aclose())
        self._runner.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Return the raw answer to one request (redirects are not followed)."""
        return self._runner.run(self.client.request(method, path, **kwargs))

    def get(self, path: str, *, follow: bool = True) -> Page:
        """Return a page (following redirects, as a browser does)."""
        response = self.request("GET", path)
        for _ in range(5):
            if not follow or response.status_code not in (301, 302, 303, 307):
                break
            response = self.request("GET", response.headers["location"])
        page = Page.of(response)
        self.csrf = page.meta.get("csrf-token") or self.csrf
        return page

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        csrf: bool = True,
        follow: bool = True,
    ) -> Page:
        """Post a form as a page would (with this session's CSRF token unless `csrf` is off)."""
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        response = self.request("POST", path, data=body)
        if follow and response.status_code == 303:
            return self.get(response.headers["location"])
        return Page.of(response)

    def submit(self, form: Form, **changes: str) -> Page:
        """Submit one of a page's forms with some fields changed."""
        fields = {**form.fields, **changes}
        if form.method == "get":
            query = httpx.QueryParams(fields)
            return self.get(f"{form.action}?{query}")
        return self.post(form.action, fields, csrf=False)

    def sign_in(self, username: str, password: str = PASSWORD) -> Page:
        """Sign in through the sign-in form and return the page it leads to."""
        login = self.get("/login")
        form = login.form("/login")
        return self.submit(form, username=username, password=password)


def flash_link(page: Page, text: str) -> str:
    """Return the address of the link in the page's message that says `text`."""
    match = re.search(r'<a class="button primary" href="([^"]+)">' + re.escape(text), page.html)
    assert match, f"no link {text!r} in {page.text[:500]}"
    return match.group(1)
