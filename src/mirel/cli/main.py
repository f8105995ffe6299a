"""The `mirel` command: repository commands that work on the repository directly (SPEC.md §6).

Exit codes: 0 success, 1 a user error (one line saying what to do), 2 wrong usage, 3 an internal
error (the traceback is written to a file whose path is printed; `--debug` shows it instead).
`--json` prints exactly the objects the REST API returns in `data`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mirel.cli.folders import read_folder
from mirel.core.catalog import releases_of
from mirel.core.kinds import KINDS
from mirel.core.manifest import write_manifest
from mirel.core.rules import hotfix_base
from mirel.core.versions import Bump, Version
from mirel.errors import InvalidInput, MirelError, RepositoryInvalid
from mirel.git.repository import Author
from mirel.http.models import (
    ChangeRequestPublic,
    HotfixClosed,
    HotfixPublic,
    Matrix,
    PullDetail,
    PullPublic,
    ReleaseDiff,
    ReleasePublic,
)
from mirel.hub import ChangeRequest, Hub
from mirel.hub.compare import release_diff as compare_releases
from mirel.hub.matrix import matrix as build_matrix
from mirel.hub.values import Matrix as MatrixValue
from mirel.providers.base import PullState
from mirel.providers.hooks import DeployHooks

F = TypeVar("F", bound=Callable[..., Any])

# User text (names, paths, descriptions, authors) is printed as written: no emoji codes, and
# `escape()` wherever it is mixed into markup.
stdout = Console(highlight=False, soft_wrap=True, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


@dataclass
class Options:
    """The options every command accepts, before or after the command name."""

    repo: str | None = None
    author: str | None = None
    json: bool = False
    debug: bool = False

    def hub(self) -> Hub:
        """Return the hub of `--repo` (or MIREL_REPO)."""
        path = self.repo or os.environ.get("MIREL_REPO")
        if not path:
            raise InvalidInput("say which repository: pass --repo PATH or set MIREL_REPO")
        return Hub.open(path)

    def who(self, hub: Hub) -> Author:
        """Return the author: --author, MIREL_AUTHOR, else git's user.name and user.email."""
        text = self.author or os.environ.get("MIREL_AUTHOR")
        if text:
            return Author.parse(text)
        configured = hub.repo.configured_author()
        if configured is None:
            raise InvalidInput(
                "no author known; pass --author 'Name <email>', set MIREL_AUTHOR, "
                "or set git's user.name and user.email"
            )
        return configured


def _merge_option(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> Any:
        options = ctx.ensure_object(Options)
        if value not in (None, False):
            setattr(options, name, value)
        return value

    return callback


def common(command: F) -> F:
    """Add --repo, --author, --json and --debug to a command (and to the group)."""
    decorators = [
        click.option(
            "--repo",
            callback=_merge_option("repo"),
            expose_value=False,
            help="The bare repository (or MIREL_REPO).",
            metavar="PATH",
        ),
        click.option(
            "--author",
            callback=_merge_option("author"),
            expose_value=False,
            help="'Name <email>' (or MIREL_AUTHOR, else git's configuration).",
        ),
        click.option(
            "--json",
            "json_output",
            is_flag=True,
            default=False,
            callback=_merge_option("json"),
            expose_value=False,
            help="Print the API's JSON instead of text.",
        ),
        click.option(
            "--debug",
            is_flag=True,
            default=False,
            callback=_merge_option("debug"),
            expose_value=False,
            help="Show tracebacks of internal errors.",
        ),
    ]
    for decorator in decorators:
        command = decorator(command)
    return command


def options() -> Options:
    """Return the merged options of the running command."""
    return click.get_current_context().ensure_object(Options)


def print_table(table: Table | str) -> None:
    """Print a table; when the output is not a terminal, at full width, so no cell is cut."""
    piped = Console(highlight=False, soft_wrap=True, emoji=False, width=100_000)
    (stdout if stdout.is_terminal else piped).print(table)


def emit(data: object, human: Callable[[], None]) -> None:
    """Print `data` as JSON under --json, else call `human` to print it for people.

    `data` holds the API's answer models (or plain JSON values), so `--json` prints exactly what
    the REST API returns in `data`.
    """
    if options().json:
        shown = to_jsonable_python(data, by_alias=True)
        click.echo(json.dumps(shown, indent=2, sort_keys=False))
    else:
        human()


def emit_change(change: ChangeRequest, what: str) -> None:
    """Print the answer of a write: branch, commit and pull request."""

    def human() -> None:
        stdout.print(f"[green]✓[/] {escape(what)}")
        stdout.print(f"  branch  {escape(change.branch_name)}")
        stdout.print(f"  commit  {change.commit_sha}")
        if change.pull_request:
            stdout.print(
                f"  pull request #{change.pull_request.number} ({change.pull_request.state}): "
                f"merge it with 'mirel pr merge {change.pull_request.number}'"
            )

    emit(ChangeRequestPublic.of(change), human)


@contextmanager
def progress(message: str) -> Iterator[Callable[[str], None]]:
    """Show a spinner on a terminal while something takes a moment; yield a way to update it."""
    if not sys.stderr.isatty() or options().json:
        yield lambda _: None
        return
    with stderr.status(message) as status:
        yield lambda text: status.update(text)


# -- the command tree --------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common
@click.version_option(package_name="mirel")
def cli() -> None:
    """mirel: which release of each app and workflow is live on each instance, through git."""


@cli.command()
@common
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--default-branch", default="main", show_default=True, help="The default branch.")
def init(path: Path, default_branch: str) -> None:
    """Create a new bare repository with the standard layout."""
    text = options().author or os.environ.get("MIREL_AUTHOR")
    author = Author.parse(text) if text else _git_author()
    hub = Hub.init(path, author, default_branch)
    data = {"path": str(hub.repo.path), "default_branch": default_branch, "commit_sha": hub.head()}
    emit(
        data,
        lambda: stdout.print(
            f"[green]✓[/] created {escape(str(hub.repo.path))} on {default_branch}"
        ),
    )


def _git_author() -> Author:
    import pygit2

    try:
        config = pygit2.Config.get_global_config()
        return Author(str(config["user.name"]), str(config["user.email"]))
    except (KeyError, OSError, pygit2.GitError) as error:
        raise InvalidInput(
            "no author known; pass --author 'Name <email>' or set MIREL_AUTHOR"
        ) from error


# -- elements -----------------------------------------------------------------------------------


@cli.group()
@common
def element() -> None:
    """Put folders under source control and list elements."""


@element.command("add")
@common
# Not a click.Choice: an unknown kind is bad input (exit 1, one line), not wrong usage.
@click.argument("kind", metavar="{" + "|".join(kind.name for kind in KINDS) + "}")
@click.argument("name")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path),
    help="The folder holding the element's files.",
)
def element_add(kind: str, name: str, source: Path) -> None:
    """Put a folder under source control as a new app or workflow (pull request)."""
    element_kind = KINDS.get(kind)
    hub = options().hub()
    change = hub.elements.add(element_kind, name, read_folder(source), options().who(hub))
    emit_change(change, f"proposed {element_kind.name} {name}")


@element.command("push")
@common
@click.argument("name")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path),
    help="The folder holding the element's new files.",
)
@click.option(
    "--branch", help="Commit to this branch (an existing one, e.g. a hotfix, or a new one)."
)
@click.option("-m", "--message", help="The commit message.")
def element_push(name: str, source: Path, branch: str | None, message: str | None) -> None:
    """Commit a folder's new content for an element (pull request)."""
    hub = options().hub()
    change = hub.elements.push(
        name,
        read_folder(source),
        options().who(hub),
        branch=branch,
        message=f"{message}\n" if message else None,
    )
    emit_change(change, f"pushed {name}")


@element.command("list")
@common
def element_list() -> None:
    """List the elements on the default branch."""
    hub = options().hub()
    rows = [
        {"uuid": e.uuid, "kind": e.kind.name, "element_type": e.kind.api_type, "name": e.name}
        for e in hub.catalog.elements()
    ]

    def human() -> None:
        table = Table("kind", "name", "uuid", box=None)
        for row in rows:
            table.add_row(str(row["kind"]), str(row["name"]), str(row["uuid"]))
        print_table(table if rows else "no elements yet; add one with 'mirel element add'")

    emit({"elements": rows}, human)


# -- releases -----------------------------------------------------------------------------------


@cli.group()
@common
def release() -> None:
    """Create, list, compare and delete releases."""


@release.command("create")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.option("--major", "bump", flag_value=Bump.MAJOR.value, help="Next major version.")
@click.option("--minor", "bump", flag_value=Bump.MINOR.value, help="Next minor version.")
@click.option("--patch", "bump", flag_value=Bump.PATCH.value, help="Next patch version.")
@click.option("--version", "version", metavar="X.Y.Z", help="An explicit version.")
@click.option("-d", "--description", default="", help="What this release brings.")
def release_create(
    element_ref: str, bump: str | None, version: str | None, description: str
) -> None:
    """Create a release of an element's working version (pull request)."""
    if (bump is None) == (version is None):
        raise click.UsageError("choose one of --major, --minor, --patch or --version X.Y.Z")
    hub = options().hub()
    author = options().who(hub)
    with progress("building the release artifact") as update:
        change = hub.releases.create(
            element_ref,
            author,
            bump=Bump(bump) if bump else None,
            version=version,
            description=description,
            progress=update,
        )
    emit_change(
        change, f"proposed release {change.branch_name.rsplit('/', 1)[-1]} of {element_ref}"
    )


@release.command("list")
@common
@click.argument("element_ref", metavar="ELEMENT")
def release_list(element_ref: str) -> None:
    """List an element's releases, newest first."""
    views = options().hub().catalog.releases(element_ref)

    def human() -> None:
        if not views:
            stdout.print(
                f"{element_ref} has no releases yet; create one with 'mirel release create'"
            )
            return
        table = Table("version", "created", "by", "published in", "description", box=None)
        for view in views:
            table.add_row(
                str(view.version),
                view.info.created_at,
                escape(view.info.created_by),
                ", ".join(view.published_in) or "-",
                escape(view.info.description),
            )
        print_table(table)

    emit([ReleasePublic.of(view) for view in views], human)


@release.command("delete")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("version", metavar="X.Y.Z")
def release_delete(element_ref: str, version: str) -> None:
    """Delete a release (pull request); refused while a manifest pins it."""
    hub = options().hub()
    change = hub.releases.delete(element_ref, version, options().who(hub))
    emit_change(change, f"proposed deleting {element_ref} {version}")


@release.command("diff")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("version", metavar="X.Y.Z")
@click.option(
    "--against", metavar="X.Y.Z", help="Compare with this release (default: the previous one)."
)
def release_diff(element_ref: str, version: str, against: str | None) -> None:
    """Show the files added, removed and changed between two releases."""
    data = compare_releases(options().hub().catalog, element_ref, version, against)

    def human() -> None:
        stdout.print(f"{data.element_name} {data.against or '(nothing)'} → {data.release_version}")
        for status, entries in (
            ("added", data.added),
            ("removed", data.removed),
            ("changed", data.changed),
        ):
            for entry in entries:
                stdout.print(f"[bold]{status}[/] {escape(entry.path)}")
                click.echo(entry.diff, nl=False)

    emit(ReleaseDiff.of(data), human)


# -- manifests ----------------------------------------------------------------------------------


@cli.group()
@common
def manifest() -> None:
    """Create, show and change manifests (which release each instance publishes)."""


@manifest.command("create")
@common
@click.argument("name")
def manifest_create(name: str) -> None:
    """Create an empty manifest (pull request)."""
    hub = options().hub()
    emit_change(hub.manifests.create(name, options().who(hub)), f"proposed manifest {name}")


@manifest.command("list")
@common
def manifest_list() -> None:
    """List the manifests on the default branch."""
    hub = options().hub()
    snapshot_manifests = [hub.catalog.manifest(name) for name in hub.catalog.manifest_names()]

    def human() -> None:
        if not snapshot_manifests:
            stdout.print("no manifests yet; create one with 'mirel manifest create NAME'")
        for item in snapshot_manifests:
            count = sum(len(pins) for pins in item.pins.values())
            stdout.print(f"{item.name}  ({count} pin{'s' if count != 1 else ''})")

    emit({"manifests": [item.to_api() for item in snapshot_manifests]}, human)


@manifest.command("show")
@common
@click.argument("name")
def manifest_show(name: str) -> None:
    """Show one manifest."""
    found = options().hub().catalog.manifest(name)
    emit({"manifest": found.to_api()}, lambda: click.echo(write_manifest(found), nl=False))


@manifest.command("set")
@common
@click.argument("name")
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("release_ref", metavar="RELEASE")
def manifest_set(name: str, element_ref: str, release_ref: str) -> None:
    """Pin ELEMENT at RELEASE (X.Y.Z or latest) in a manifest (pull request)."""
    hub = options().hub()
    change = hub.manifests.set_pin(name, element_ref, release_ref, options().who(hub))
    emit_change(change, f"proposed {name}: {element_ref} → {release_ref}")


@manifest.command("unset")
@common
@click.argument("name")
@click.argument("element_ref", metavar="ELEMENT")
def manifest_unset(name: str, element_ref: str) -> None:
    """Remove ELEMENT's pin from a manifest (pull request)."""
    hub = options().hub()
    change = hub.manifests.unset_pin(name, element_ref, options().who(hub))
    emit_change(change, f"proposed removing {element_ref} from {name}")


@cli.command()
@common
def matrix() -> None:
    """Show every element against every manifest, with pins and drift."""
    data = build_matrix(options().hub().catalog)
    emit(Matrix.of(data), lambda: _print_matrix(data))


def _print_matrix(data: MatrixValue) -> None:
    names = data.manifests
    table = Table("element", "kind", "latest", *names, box=None)
    marks = {"ok": "", "behind": " [yellow](behind)[/]", "missing": " [red](missing)[/]"}
    for row in data.elements:
        cells = []
        for name in names:
            cell = row.pins[name]
            if cell.status == "not_in_manifest":
                cells.append("[dim]—[/]")
                continue
            shown = cell.release
            if cell.release == "latest":
                shown = f"latest={cell.resolved or 'working'}"
            cells.append(f"{shown}{marks.get(cell.status, '')}")
        table.add_row(row.name, row.kind, row.latest or "[dim]working[/]", *cells)
    print_table(table if data.elements else "no elements yet")
    for problem in data.problems:
        stderr.print(f"[red]problem[/] {escape(problem)}")


# -- hotfixes -----------------------------------------------------------------------------------


@cli.group()
@common
def hotfix() -> None:
    """Patch an older release line."""


@hotfix.command("create")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("version", metavar="X.Y.Z")
def hotfix_create(element_ref: str, version: str) -> None:
    """Make the hotfix branch of a release's X.Y line."""
    hub = options().hub()
    change = hub.hotfixes.create(element_ref, version, options().who(hub))
    # The branch starts from the line's newest release, which may be above the one named.
    element, line = hub.catalog.element(element_ref), Version.parse(version).line
    base = hotfix_base(
        element.name, line, set(releases_of(hub.snapshot(), element.kind, element.uuid))
    )
    emit_change(change, f"started hotfix {line} of {element.name} from {base}")
    if not options().json:
        stdout.print(
            f"  commit fixes with 'mirel element push {element_ref} --from DIR "
            f"--branch {change.branch_name}'"
        )


@hotfix.command("release")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("line", metavar="X.Y")
@click.option("-d", "--description", default="", help="What the patch fixes.")
def hotfix_release(element_ref: str, line: str, description: str) -> None:
    """Create the patch release of a hotfix (pull request)."""
    hub = options().hub()
    with progress("building the patch release"):
        change = hub.hotfixes.release(element_ref, line, options().who(hub), description)
    emit_change(change, f"proposed patch release {change.branch_name.rsplit('/', 1)[-1]}")


@hotfix.command("close")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("line", metavar="X.Y")
def hotfix_close(element_ref: str, line: str) -> None:
    """Drop a hotfix branch."""
    data = options().hub().hotfixes.close(element_ref, line)
    emit(HotfixClosed.of(data), lambda: stdout.print(f"[green]✓[/] removed {data.branch_name}"))


@hotfix.command("list")
@common
def hotfix_list() -> None:
    """List the open hotfix branches."""
    found = options().hub().catalog.hotfixes()

    def human() -> None:
        if not found:
            stdout.print("no open hotfixes")
        for item in found:
            stdout.print(f"{item.element_name} {item.line}  {item.branch_name}")

    emit({"hotfixes": [HotfixPublic.of(item) for item in found]}, human)


# -- pull requests ------------------------------------------------------------------------------


@cli.group()
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


# -- checks and hooks ---------------------------------------------------------------------------


@cli.command()
@common
@click.option("--ref", help="Check this branch or commit instead of the default branch.")
def validate(ref: str | None) -> None:
    """Check the repository format; exit non-zero listing every problem."""
    hub = options().hub()
    with progress("validating") as update:
        snapshot = hub.snapshot(ref)
        problems = hub.catalog.validate(ref, progress=lambda path: update(f"checking {path}"))
    data = {
        "commit_sha": snapshot.commit_sha,
        "valid": not problems,
        "problems": [{"path": p.path, "line": p.line, "message": p.message} for p in problems],
    }

    def human() -> None:
        for problem in problems:
            stdout.print(str(problem), markup=False)
        if not problems:
            stdout.print(f"[green]✓[/] {snapshot.commit_sha[:12]} is valid")

    emit(data, human)
    if problems:
        raise RepositoryInvalid(problems)


@cli.group()
@common
def hook() -> None:
    """Deploy hooks: URLs the repository notifies after each merge."""


def _hooks() -> DeployHooks:
    return DeployHooks(options().hub().repo.git_dir)


@hook.command("add")
@common
@click.argument("url")
@click.option(
    "--secret", help="Sign each call with HMAC-SHA256 of this secret (X-Mirel-Signature)."
)
def hook_add(url: str, secret: str | None) -> None:
    """Register a deploy hook URL."""
    hooks = _hooks().add(url, secret)
    emit({"hooks": hooks}, lambda: stdout.print(f"[green]✓[/] {escape(url)} registered"))


@hook.command("remove")
@common
@click.argument("url")
def hook_remove(url: str) -> None:
    """Unregister a deploy hook URL."""
    hooks = _hooks().remove(url)
    emit({"hooks": hooks}, lambda: stdout.print(f"[green]✓[/] {escape(url)} removed"))


@hook.command("list")
@common
def hook_list() -> None:
    """List deploy hook URLs."""
    hooks = _hooks().urls()
    emit(
        {"hooks": hooks}, lambda: stdout.print("\n".join(hooks) or "no deploy hooks", markup=False)
    )


@cli.command()
@common
@click.option(
    "--dir",
    "folder",
    default="mirel-demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where to create the demo repository.",
)
def demo(folder: Path) -> None:
    """Create a demo repository with apps, workflows, releases and manifests, and show it."""
    from mirel.hub.demo import build_demo

    with progress("building the demo repository") as update:
        hub = build_demo(folder, progress=update)
    data = build_matrix(hub.catalog)
    emit(Matrix.of(data), lambda: None)
    if not options().json:
        stdout.print(f"[green]✓[/] demo repository at {escape(str(hub.repo.path))}\n")
        _print_matrix(data)
        stdout.print(f"\nTry: mirel --repo {hub.repo.path} release list billing", markup=False)


# The server commands (serve, up, token, deploy, deployments, status) live in cli/server.py and
# register themselves on `cli` when imported; it imports this module, hence the late import.
from mirel.cli import server as _server  # noqa: E402, F401

# -- entry point --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 user error, 2 usage, 3 internal error)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("MIREL_DEBUG"))
    try:
        cli.main(args=args, prog_name="mirel", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.UsageError as error:
        error.show()
        return 2
    except click.exceptions.Abort:
        stderr.print("aborted")
        return 1
    except click.ClickException as error:
        error.show()
        return 1
    except MirelError as error:
        stderr.print(f"error: {error.message}", markup=False)
        return error.exit_code
    except Exception:
        if debug:
            traceback.print_exc()
        else:
            handle, path = tempfile.mkstemp(prefix="mirel-crash-", suffix=".log")
            with os.fdopen(handle, "w") as stream:
                traceback.print_exc(file=stream)
            stderr.print(
                f"internal error: mirel failed unexpectedly; details written to {path} "
                "(rerun with --debug to see them here)",
                markup=False,
            )
        return 3
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
