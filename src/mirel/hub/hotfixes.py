"""Hotfixes: a branch per element and `X.Y` line holding that line's newest files, its patch
release (whose pull request adds only the artifact), and closing it."""

from __future__ import annotations

from mirel.core.catalog import Element, get_release, releases_of
from mirel.core.rules import hotfix_base, hotfix_branch, next_patch
from mirel.core.versions import Line, Version
from mirel.errors import (
    BranchExists,
    BranchMoved,
    ElementNotFound,
    HotfixBranchExists,
    HotfixHasCommits,
)
from mirel.git.repository import HEADS, Author
from mirel.hub.catalog import Catalog
from mirel.hub.elements import replace_folder
from mirel.hub.propose import BranchWriter
from mirel.hub.releases import ReleaseChanges
from mirel.hub.values import ChangeRequest, HotfixClosed


def _exists_message(element: Element, line: Line, branch: str) -> str:
    return (
        f"{element.name} already has a hotfix for {line} on branch {branch}; "
        "release or close it first"
    )


class HotfixChanges:
    """Starts, releases and closes hotfix branches."""

    def __init__(self, catalog: Catalog, branches: BranchWriter, releases: ReleaseChanges) -> None:
        self._catalog = catalog
        self._branches = branches
        self._releases = releases

    def create(self, reference: str, version: str, author: Author) -> ChangeRequest:
        """Make the hotfix branch of a release's `X.Y` line, holding that line's newest files.

        A hotfix branch has no pull request of its own: its patch release does.
        """
        snapshot = self._catalog.snapshot()
        element = self._catalog.element(reference, snapshot)
        requested = get_release(snapshot, element, Version.parse(version))
        released = releases_of(snapshot, element.kind, element.uuid)
        line = requested.version.line
        base = released[hotfix_base(element.name, line, set(released))]
        branch = hotfix_branch(element.kind, element.uuid, line)
        if self._catalog.repo.branch_sha(branch) is not None:
            raise HotfixBranchExists(_exists_message(element, line, branch))
        files = self._catalog.artifact_files(base)
        try:
            return self._branches.start_branch(
                branch=branch,
                base_sha=snapshot.commit_sha,
                changes=replace_folder(self._catalog.repo, element, files),
                message=f"Start hotfix {line} of {element.name} from {base.version}\n",
                author=author,
            )
        except BranchExists as error:
            raise HotfixBranchExists(_exists_message(element, line, branch)) from error

    def release(
        self,
        reference: str,
        line_text: str,
        author: Author,
        description: str = "",
        *,
        allow_same: bool = False,
    ) -> ChangeRequest:
        """Propose the patch release of a hotfix: `X.Y.(P+1)` built from the hotfix branch.

        Its pull request adds only the artifact to the default branch; the hotfix branch goes
        away when it merges. A branch with no change since the line's newest release is refused
        unless `allow_same`.
        """
        element, hotfix = self._catalog.open_hotfix(reference, line_text)
        on_branch = self._catalog.snapshot(HEADS + hotfix.branch)
        if on_branch.entry(element.source_dir) is None:
            raise ElementNotFound(f"{element.source_dir} is missing on {hotfix.branch}")
        return self._releases.claim(
            element,
            lambda released, claimed: next_patch(hotfix.line, released, claimed),
            source=on_branch,
            title=f"Release {element.name} (hotfix)",
            description=description,
            author=author,
            retry=True,
            cleanup_branches={hotfix.branch: on_branch.commit_sha},
            allow_same=allow_same,
        )

    def close(
        self,
        reference: str,
        line_text: str,
        *,
        drop_commits: bool = False,
        expected_sha: str | None = None,
    ) -> HotfixClosed:
        """Delete a hotfix branch and return what was removed.

        A branch with commits after the one that started it is kept unless `drop_commits`:
        closing would lose that work. With `expected_sha`, a branch that moved since the user
        looked is kept too.
        """
        element, hotfix = self._catalog.open_hotfix(reference, line_text)
        repo = self._catalog.repo
        sha = repo.require_branch(hotfix.branch)
        if expected_sha is not None and sha != expected_sha:
            raise BranchMoved(
                f"the hotfix branch {hotfix.branch} changed since it was shown; look at it "
                "again before closing it"
            )
        if not drop_commits:
            commits = self._catalog.hotfix_commits(sha)
            if commits:
                count = f"{len(commits)} commit{'s' if len(commits) != 1 else ''}"
                raise HotfixHasCommits(
                    len(commits),
                    f"the hotfix {hotfix.line} of {element.name} has {count} after it was "
                    "started, which closing it would lose; confirm that you want that",
                    cli_hint="add --yes to close it anyway",
                )
        if not repo.delete_ref(HEADS + hotfix.branch, sha):
            raise BranchMoved(
                f"the hotfix branch {hotfix.branch} changed while it was being closed; look at "
                "it again before closing it"
            )
        return HotfixClosed(
            branch_name=hotfix.branch,
            commit_sha=sha,
            element_uuid=element.uuid,
            line=str(hotfix.line),
        )
