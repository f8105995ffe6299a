"""`mirel pr list | show | merge | close`: the pull requests of the local provider."""

from __future__ import annotations

import click
from rich.markup import escape

from mirel.cli.base import common, emit, options, progress, stdout
from mirel.http.models import PullDetail, PullPublic
from mirel.providers.base import PullState


@click.group()
@common
def pr() -> None:
    """List, show, merge and close pull requests (local provider)."""


@pr.command("list")
@common
@click.option("--state", type=click.Choice([s.value for s in PullState]), help="Only this state.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Show at most this many.",
)
def pr_list(state: str | None, limit: int) -> None:
    """List pull requests, newest first."""
    pulls = options().hub().pulls.list(PullState(state) if state else None, limit)

    def human() -> None:
        if not pulls:
            stdout.print("no pull requests")
        for pull in pulls:
            stdout.print(
                f"#{pull.number:<5} {pull.state:<12} {escape(pull.title)}  "
                f"[dim]{escape(pull.head_branch)}[/]"
            )

    emit({"pulls": [PullPublic.of(pull) for pull in pulls]}, human)


@pr.command("show")
@common
@click.argument("number", type=int)
def pr_show(number: int) -> None:
    """Show a pull request and its diff."""
    provider = options().hub().provider
    pull = provider.get(number)
    diff = provider.diff(number)

    def human() -> None:
        stdout.print(f"#{pull.number} {escape(pull.title)}  [bold]{pull.state}[/]")
        stdout.print(
            escape(f"{pull.head_branch} → {pull.base_branch}, by {pull.author}, {pull.created_at}")
        )
        if pull.conflicts:
            stdout.print(
                f"[red]conflicts with {pull.base_branch} in:[/] {escape(', '.join(pull.conflicts))}"
            )
        for item in diff:
            stdout.print(f"[bold]{item.status}[/] {escape(item.path)}")
            click.echo(item.patch, nl=False)

    emit(PullDetail.of_pull(pull, diff), human)


@pr.command("merge")
@common
@click.argument("number", type=int)
def pr_merge(number: int) -> None:
    """Merge a pull request into the default branch."""
    hub = options().hub()
    with progress(f"merging #{number}"):
        pull = hub.pulls.merge(number, options().who(hub))
    emit(
        PullPublic.of(pull),
        lambda: stdout.print(f"[green]✓[/] merged #{number} as {pull.merge_commit_sha}"),
    )


@pr.command("close")
@common
@click.argument("number", type=int)
def pr_close(number: int) -> None:
    """Close a pull request without merging."""
    hub = options().hub()
    pull = hub.pulls.close(number, options().who(hub))
    emit(PullPublic.of(pull), lambda: stdout.print(f"[green]✓[/] closed #{number}"))
