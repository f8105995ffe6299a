"""Deploy hooks: the URLs a repository notifies after each merge, each with a signing secret.

They are stored in the bare repository's folder (`mirel-deploy-hooks.json`), so every process
sharing the repository calls them. A call is best effort: instances also poll.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    import httpx

from mirel.errors import InvalidInput, MirelError
from mirel.providers.webhook_schemes import DELIVERY_HEADER as DELIVERY_HEADER
from mirel.providers.webhook_schemes import SIGNATURE_HEADER as SIGNATURE_HEADER
from mirel.providers.webhook_schemes import sign as sign

log = logging.getLogger(__name__)

HOOKS_FILE = "mirel-deploy-hooks.json"
_TIMEOUT = 3.0


class _Hook(TypedDict, total=False):
    url: str
    secret: str


class DeployHooks:
    """URLs to notify after a merge, each with an optional signing secret.

    `client` makes the calls; without one, each notification opens and closes its own.
    """

    def __init__(self, git_dir: Path, client: httpx.Client | None = None) -> None:
        self._file = git_dir / HOOKS_FILE
        self._client = client

    def _entries(self) -> list[_Hook]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise InvalidInput(f"{self._file} is not valid JSON; remove or fix it") from error
        hooks = data.get("hooks", []) if isinstance(data, dict) else []
        found: list[_Hook] = []
        for hook in hooks:
            if isinstance(hook, dict) and isinstance(hook.get("url"), str):
                entry = _Hook(url=hook["url"])
                if isinstance(hook.get("secret"), str):
                    entry["secret"] = hook["secret"]
                found.append(entry)
        return found

    def urls(self) -> list[str]:
        """Return the registered hook URLs."""
        return [hook["url"] for hook in self._entries()]

    def add(self, url: str, secret: str | None = None) -> list[str]:
        """Register a hook URL (replacing its secret if it was there) and return the URLs."""
        if not re.fullmatch(r"https?://[^\s]+", url):
            raise InvalidInput(f"{url!r} is not an http(s) URL")
        entry = _Hook(url=url)
        if secret:
            entry["secret"] = secret
        hooks = [hook for hook in self._entries() if hook["url"] != url] + [entry]
        self._write(hooks)
        return [hook["url"] for hook in hooks]

    def remove(self, url: str) -> list[str]:
        """Unregister a hook URL and return the URLs."""
        hooks = [hook for hook in self._entries() if hook["url"] != url]
        self._write(hooks)
        return [hook["url"] for hook in hooks]

    def _write(self, hooks: list[_Hook]) -> None:
        # Write a new file and rename it over the old one, so readers never see half a file.
        handle, temporary = tempfile.mkstemp(dir=self._file.parent, prefix=".hooks-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"hooks": hooks}, stream, indent=2)
        os.replace(temporary, self._file)

    def notify(self, event: Mapping[str, str | int]) -> None:
        """POST `event` to every hook (signed when it has a secret); failures are only logged."""
        body = json.dumps(event).encode()
        try:
            hooks = self._entries()
        except MirelError as error:
            # The merge is done; a broken hooks file must not make it look failed.
            log.warning("deploy hooks not called: %s", error)
            return
        if not hooks:
            return
        import httpx  # here: only a notification needs it

        client = self._client or httpx.Client(timeout=_TIMEOUT)
        try:
            for hook in hooks:
                # Each call is its own delivery: the receiver refuses a replay of its id.
                headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(uuid.uuid4())}
                if hook.get("secret"):
                    headers[SIGNATURE_HEADER] = sign(body, hook["secret"])
                try:
                    client.post(hook["url"], content=body, headers=headers, timeout=_TIMEOUT)
                except httpx.HTTPError as error:
                    log.warning("deploy hook %s failed: %s", hook["url"], error)
        finally:
            if client is not self._client:
                client.close()
