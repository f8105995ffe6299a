"""Commands that talk to a running instance over its REST API: `mirel deploy`, `deployments` and
`status` (`--url`/MIREL_URL, `--token`/MIREL_TOKEN).

Their `--json` prints exactly the `data` of the API's answer; an HTTP error exits 1 with the
server's message, an unreachable instance exits 1 with one line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click
import httpx
from rich.markup import escape
from rich.table import Table

from mirel.cli.base import common, emit, print_table, stderr, stdout
from mirel.errors import InstanceRefused, InstanceUnreachable, InvalidInput

F = TypeVar("F", bound=Callable[..., Any])

API = "/api/v2"
DONE = frozenset({"SUCCESS", "ERROR"})


def remote(command: F) -> F:
    """Add --url and --token to a command that talks to a running instance."""
    command = click.option(
        "--token",
        "token_value",
        metavar="TOKEN",
        help="API token (or MIREL_TOKEN; the variable keeps it out of `ps`).",
    )(command)
    return click.option(
        "--url", metavar="URL", help="The instance, e.g. http://127.0.0.1:8600 (or MIREL_URL)."
    )(command)


class Remote:
    """An instance's REST API, answering `data` or raising a MirelError with one line."""

    def __init__(self, url: str | None, token_value: str | None, timeout: float = 30.0) -> None:
        base = url or os.environ.get("MIREL_URL")
        if not base:
            raise InvalidInput(
                "say which instance: pass --url URL or set MIREL_URL (e.g. http://127.0.0.1:8600)"
            )
        secret = token_value or os.environ.get("MIREL_TOKEN")
        if not secret:
            raise InvalidInput(
                "no API token: pass --token or set MIREL_TOKEN; "
                "make one with 'mirel token create --scope all --db URL'"
            )
        self.url = base.rstrip("/").removesuffix(API)
        if not self.url.startswith(("http://", "https://")):
            raise InvalidInput(f"{base!r} is not an http(s) URL; write it like http://host:8600")
        self._headers = {"Authorization": f"Bearer {secret}"}
        self._timeout = timeout

    def call(
        self, method: str, path: str, body: object = None, timeout: float | None = None
    ) -> Any:
        """Return the `data` of one API call."""
        try:
            response = httpx.request(
                method,
                f"{self.url}{API}{path}",
                headers=self._headers,
                json=body,
                timeout=timeout or self._timeout,
            )
        except httpx.HTTPError as error:
            detail = (str(error).splitlines() or ["no answer"])[0]
            raise InstanceUnreachable(
                f"cannot reach the instance at {self.url} ({error.__class__.__name__}: "
                f"{detail}); is it running? check --url or MIREL_URL"
            ) from error
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "success" not in answer:
            raise InstanceRefused(
                f"{self.url} answered HTTP {response.status_code} without mirel's JSON; "
                "is --url the address of a mirel instance?",
                response.status_code,
            )
        if not answer["success"] or response.is_error:
            message = str(answer.get("message") or f"HTTP {response.status_code}")
            raise InstanceRefused(message.splitlines()[0], response.status_code)
        return answer.get("data")


def _deployment_line(item: dict[str, Any]) -> str:
    commit = str(item.get("commit_sha") or "-")[:12]
    return f"#{item.get('id')} {item.get('status')} at {commit}"


@click.command()
@common
@remote
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the deploy has finished.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=300,
    show_default=True,
    help="Seconds to wait for the deploy to finish.",
)
def deploy(url: str | None, token_value: str | None, wait: bool, timeout: float) -> None:
    """Deploy the head of the default branch on a running instance; exit 1 if it fails."""
    client = Remote(url, token_value)
    before = client.call("GET", "/source_control/deployments?limit=1")["deployments"]
    # The API deploys before it answers (allow for a big first deploy).
    deployment: dict[str, Any] = client.call(
        "POST", "/source_control/deploy", timeout=max(timeout, 30.0)
    )
    # An unchanged head and manifest answer the last deployment again: nothing was done now.
    repeated = bool(before) and before[0]["id"] == deployment.get("id")
    deadline = time.monotonic() + timeout
    while wait and deployment.get("status") not in DONE and time.monotonic() < deadline:
        time.sleep(0.2)
        deployment = client.call("GET", f"/source_control/deployment/{deployment['id']}")

    def human() -> None:
        status = deployment.get("status")
        mark = {"SUCCESS": "[green]✓[/]", "ERROR": "[red]✗[/]"}.get(str(status), "…")
        if repeated and status == "SUCCESS":
            stdout.print(
                f"{mark} already deployed: deployment {_deployment_line(deployment)} "
                "has the current head and manifest; nothing to do"
            )
            return
        stdout.print(f"{mark} deployment {_deployment_line(deployment)}")
        changes = deployment.get("changes") or []
        for change in changes:
            stdout.print(f"  {_change_text(change)}", markup=False)
        if status == "SUCCESS" and not changes:
            stdout.print("  nothing changed")
        for problem in deployment.get("errors") or []:
            stderr.print(f"  {problem}", markup=False)

    emit(deployment, human)
    if deployment.get("status") == "ERROR":
        count = len(deployment.get("errors") or [])
        raise InstanceRefused(
            f"deployment #{deployment.get('id')} failed with {count} problem"
            f"{'s' if count != 1 else ''}; the instance keeps serving what it served before",
            409,
        )
    if wait and deployment.get("status") not in DONE:
        raise InstanceRefused(
            f"deployment #{deployment.get('id')} is still {deployment.get('status')} after "
            f"{timeout:g} s; follow it with 'mirel deployments'",
            409,
        )


def _change_text(change: object) -> str:
    """Return one change of a deployment as `name (kind): from → to`."""
    if not isinstance(change, dict):
        return str(change)

    def shown(release: object, missing: str) -> str:
        if release is None:
            return missing
        return "working version" if release == "working" else str(release)

    return (
        f"{change.get('name')} ({change.get('kind')}): "
        f"{shown(change.get('from'), 'not served')} → {shown(change.get('to'), 'not served')}"
    )


@click.command()
@common
@remote
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="Show at most this many (newest first).",
)
def deployments(url: str | None, token_value: str | None, limit: int) -> None:
    """List a running instance's deployments, newest first."""
    data: dict[str, Any] = Remote(url, token_value).call(
        "GET", f"/source_control/deployments?limit={limit}"
    )

    def human() -> None:
        items = data.get("deployments", [])
        table = Table("id", "status", "commit", "manifest", "by", "started", "took", box=None)
        for item in items:
            table.add_row(
                str(item.get("id")),
                str(item.get("status")),
                str(item.get("commit_sha") or "-")[:12],
                escape(str(item.get("manifest") or "-")),
                escape(str(item.get("triggered_by") or "-")),
                str(item.get("created_at") or "-")[:19],
                _duration(item),
            )
        print_table(table if items else "no deployments yet; start one with 'mirel deploy'")

    emit(data, human)


def _duration(item: dict[str, Any]) -> str:
    from datetime import datetime

    try:
        started = datetime.fromisoformat(str(item["created_at"]))
        finished = datetime.fromisoformat(str(item["completed_at"]))
    except (KeyError, TypeError, ValueError):
        return "-"
    return f"{(finished - started).total_seconds():.2f} s"


@click.command()
@common
@remote
def status(url: str | None, token_value: str | None) -> None:
    """Show a running instance: its name, manifest, deployed commit and last deployment."""
    client = Remote(url, token_value)
    data: dict[str, Any] = client.call("GET", "/instance")

    def human() -> None:
        stdout.print(f"instance  {escape(str(data.get('name')))}  ({client.url})")
        stdout.print(f"manifest  {escape(str(data.get('manifest') or '(none)'))}")
        stdout.print(f"deployed  {data.get('deployed_commit') or '(nothing yet)'}")
        last = data.get("last_deployment")
        if isinstance(last, dict):
            stdout.print(f"last      deployment {_deployment_line(last)}")

    emit(data, human)
