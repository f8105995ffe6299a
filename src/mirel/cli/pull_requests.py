"""`mirel pr list | show | merge | close`: the pull requests of the local provider."""

from __future__ import annotations

import click
from rich.markup import escape

from mirel.cli.base import common, emit, options, progress, stdout
from mirel.core.resolve import WORKING
from mirel.http.models import PullDetail, PullPublic
from mirel.hub.values import DeployPlan
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


def served(release: str | None) -> str:
    """Return what an instance serves of an element, in words."""
    if release is None:
        return "nothing"
    return "the working version" if release == WORKING else release


def print_plan(plan: DeployPlan) -> None:
    """Print what each instance would change, by manifest."""
    for group in plan.manifests:
        title = f"manifest {group.manifest}" if group.manifest else "no manifest"
        stdout.print(f"[bold]{escape(title)}[/]" + (" (edited)" if group.edited else ""))
        if not group.instances:
            stdout.print("  no instance publishes it")
        for instance in group.instances:
            what = "no change" if not instance.changes and not instance.errors else ""
            stdout.print(f"  {escape(instance.instance)}: {what}".rstrip())
            for change in instance.changes:
                pin = f" (pin {change.pin})" if change.pin and change.pin != change.to else ""
                stdout.print(
                    f"    {escape(change.name)} {escape(served(change.from_))} → "
                    f"{escape(served(change.to))}{escape(pin)}"
                )
            for error in instance.errors:
                stdout.print(f"    [red]its deploy would fail:[/] {escape(error)}")


@pr.command("show")
@common
@click.argument("number", type=int)
def pr_show(number: int) -> None:
    """Show a pull request: its diff, what would refuse its merge, and what each instance
    would change if it were merged now."""
    review = options().hub().plans.review(number)
    pull = review.pull

    def human() -> None:
        stdout.print(f"#{pull.number} {escape(pull.title)}  [bold]{pull.state}[/]")
        stdout.print(
            escape(f"{pull.head_branch} → {pull.base_branch}, by {pull.author}, {pull.created_at}")
        )
        if pull.conflicts:
            stdout.print(
                f"[red]conflicts with {pull.base_branch} in:[/] {escape(', '.join(pull.conflicts))}"
            )
        if review.problems:
            stdout.print("[red]merging it now would be refused:[/]")
            for problem in review.problems:
                stdout.print(f"  {escape(str(problem))}")
        if review.plan is not None:
            stdout.print("If it were merged now:")
            print_plan(review.plan)
        for item in review.diff:
            stdout.print(f"[bold]{item.status}[/] {escape(item.path)}")
            click.echo(item.patch, nl=False)

    emit(PullDetail.of_review(review), human)


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
