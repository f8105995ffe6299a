"""Commands that talk to a running instance over its REST API, through mirel.client: `mirel
deploy`, `deployments`, `rollback` and `status` (`--url`/MIREL_URL, `--token`/MIREL_TOKEN).

Their `--json` prints exactly the `data` of the API's answer (the same models, dumped as the
server dumps them); an HTTP error exits 1 with the server's message, an unreachable instance
exits 1 with one line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from rich.markup import escape
from rich.table import Table

from mirel.cli.base import F, common, emit, print_table, stderr, stdout
from mirel.client import Advice, InstanceClient
from mirel.errors import InstanceRefused, InvalidInput
from mirel.http.models import ChangePublic, DeploymentList, DeploymentPublic

DONE = frozenset({"SUCCESS", "ERROR"})
TIMEOUT = 30.0
# The client's messages, naming where the command line takes the address from.
ADVICE = Advice(
    unreachable="is it running? check --url or MIREL_URL",
    not_mirel="is --url the address of a mirel instance?",
)


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


@contextmanager
def connect(url: str | None, token_value: str | None) -> Iterator[InstanceClient]:
    """Yield a client of the instance at --url (or MIREL_URL) with --token (or MIREL_TOKEN);
    raise InvalidInput saying which is missing."""
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
    with InstanceClient(base, secret, timeout=TIMEOUT, advice=ADVICE) as client:
        yield client


def _deployment_line(deployment: DeploymentPublic) -> str:
    commit = (deployment.commit_sha or "-")[:12]
    return f"#{deployment.number} {deployment.status} at {commit}"


# -- deploy -------------------------------------------------------------------------------------


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
    with connect(url, token_value) as client:
        before = client.deployments(limit=1)
        # The API deploys before it answers (allow for a big first deploy).
        deployment = client.deploy(timeout=max(timeout, TIMEOUT))
        # An unchanged head and manifest answer the last deployment again: nothing was done now.
        repeated = bool(before) and before[0].id == deployment.id
        deadline = time.monotonic() + timeout
        while wait and deployment.status not in DONE and time.monotonic() < deadline:
            time.sleep(0.2)
            deployment = client.deployment(deployment.id)
    emit(deployment, lambda: _print_deployment(deployment, repeated))
    _check_finished(deployment, wait, timeout)


def _print_deployment(deployment: DeploymentPublic, repeated: bool) -> None:
    mark = {"SUCCESS": "[green]✓[/]", "ERROR": "[red]✗[/]"}.get(deployment.status, "…")
    if repeated and deployment.status == "SUCCESS":
        stdout.print(
            f"{mark} already deployed: deployment {_deployment_line(deployment)} "
            "has the current head and manifest; nothing to do"
        )
        return
    stdout.print(f"{mark} deployment {_deployment_line(deployment)}")
    for change in deployment.changes:
        stdout.print(f"  {_change_text(change)}", markup=False)
    if deployment.status == "SUCCESS" and not deployment.changes:
        stdout.print("  nothing changed")
    for problem in deployment.errors:
        stderr.print(f"  {problem}", markup=False)


def _check_finished(deployment: DeploymentPublic, wait: bool, timeout: float) -> None:
    """Raise InstanceRefused when the deploy failed, or is still running after waiting for it."""
    if deployment.status == "ERROR":
        count = len(deployment.errors)
        raise InstanceRefused(
            f"deployment #{deployment.number} failed with {count} problem"
            f"{'s' if count != 1 else ''}; the instance keeps serving what it served before",
            409,
        )
    if wait and deployment.status not in DONE:
        raise InstanceRefused(
            f"deployment #{deployment.number} is still {deployment.status} after "
            f"{timeout:g} s; follow it with 'mirel deployments'",
            409,
        )


def _change_text(change: ChangePublic) -> str:
    """Return one change of a deployment as `name (kind): from → to`."""

    def shown(release: str | None) -> str:
        if release is None:
            return "not served"
        return "working version" if release == "working" else release

    return f"{change.name} ({change.kind}): {shown(change.from_)} → {shown(change.to)}"


# -- deployments and status ---------------------------------------------------------------------


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
    with connect(url, token_value) as client:
        found = client.deployments(limit)

    def human() -> None:
        table = Table("#", "status", "commit", "manifest", "by", "started", "took", box=None)
        for item in found:
            table.add_row(
                str(item.number),
                item.status,
                (item.commit_sha or "-")[:12],
                escape(item.manifest or "-"),
                escape(item.trigger or "-"),
                (item.created_at or "-")[:19],
                _duration(item),
            )
        print_table(table if found else "no deployments yet; start one with 'mirel deploy'")

    emit(DeploymentList(deployments=found), human)


def _duration(deployment: DeploymentPublic) -> str:
    """Return how long a deployment took, or "-" while it runs (or when its times are odd)."""
    if deployment.completed_at is None:
        return "-"
    try:
        started = datetime.fromisoformat(deployment.created_at)
        finished = datetime.fromisoformat(deployment.completed_at)
    except ValueError:
        return "-"
    return f"{(finished - started).total_seconds():.2f} s"


@click.command()
@common
@remote
def status(url: str | None, token_value: str | None) -> None:
    """Show a running instance: its name, manifest, deployed commit and last deployment."""
    with connect(url, token_value) as client:
        data = client.instance()

    def human() -> None:
        stdout.print(f"instance  {escape(data.name)}  ({client.url})")
        stdout.print(f"manifest  {escape(data.manifest or '(none)')}")
        stdout.print(f"deployed  {data.deployed_commit or '(nothing yet)'}")
        if data.last_deployment is not None:
            stdout.print(f"last      deployment {_deployment_line(data.last_deployment)}")

    emit(data, human)


# -- rollback -----------------------------------------------------------------------------------


def _previous_success(client: InstanceClient, manifest: str) -> DeploymentPublic:
    """Return the successful deployment of `manifest` before the newest one: the state the
    instance served before what it serves now."""
    done = [
        item
        for item in client.deployments(1000)
        if item.status == "SUCCESS" and item.manifest == manifest
    ]
    if len(done) < 2:
        raise InvalidInput(
            f"there is no earlier successful deployment of {manifest} to go back to; "
            "pass --to with one of 'mirel deployments'"
        )
    return done[1]


@click.command()
@common
@remote
@click.argument("manifest")
@click.option(
    "--to",
    "target",
    metavar="DEPLOYMENT",
    help="The deployment to go back to: its number or id (default: the one before the last).",
)
@click.option("--merge", is_flag=True, help="Merge the pull request at once (the gate applies).")
def rollback(
    url: str | None, token_value: str | None, manifest: str, target: str | None, merge: bool
) -> None:
    """Propose (or --merge) restoring what an earlier deployment of MANIFEST served, as exact
    pins that no later release moves."""
    with connect(url, token_value) as client:
        published = client.instance().manifest
        if published != manifest:
            raise InvalidInput(
                f"the instance at {client.url} publishes {published or 'no manifest'}, not "
                f"{manifest}; name its manifest, or the instance that publishes {manifest}"
            )
        chosen = client.deployment(target) if target else _previous_success(client, manifest)
        change = client.roll_back(chosen.id)
        merged = None
        if merge and change.pull_request is not None:
            merged = client.merge(change.pull_request.number)

    def human() -> None:
        pull = change.pull_request
        number = f"#{pull.number}" if pull is not None else "(no pull request)"
        stdout.print(
            f"pull request {number} rolls {escape(manifest)} back to deployment "
            f"{chosen.number} ({(chosen.commit_sha or '-')[:12]})"
        )
        if merged is not None:
            stdout.print("merged; instances publishing it deploy it next")

    emit(change, human)
