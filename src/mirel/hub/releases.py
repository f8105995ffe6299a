"""Changes to releases: creating one (claiming its version first), and deleting one.

Creating the release branch `mirel/release/<kind>/<uuid>/<X.Y.Z>` is the atomic claim on the
version: when a racing writer claimed it first, a computed version is chosen again and a version
the user gave is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mirel.core.artifact import build_artifact, files_digest
from mirel.core.catalog import Element, Release, get_release, releases_of
from mirel.core.rules import (
    check_deletable,
    choose_regular_version,
    delete_branch,
    previous_release,
    release_branch,
    release_branch_prefix,
)
from mirel.core.versions import Bump, Version
from mirel.errors import (
    AlreadyProposed,
    ArtifactInvalid,
    BranchExists,
    InvalidInput,
    ReleaseExists,
    ReleaseUnchanged,
)
from mirel.git.repository import Author
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog, Progress, quiet
from mirel.hub.propose import BranchWriter
from mirel.hub.values import ChangeRequest

# Given the versions released on the default branch and those claimed by open branches, return
# the version to release.
ChooseVersion = Callable[[set[Version], set[Version]], Version]

_CLAIM_ATTEMPTS = 20


class ReleaseChanges:
    """Proposes new releases and release deletions."""

    def __init__(self, catalog: Catalog, branches: BranchWriter) -> None:
        self._catalog = catalog
        self._branches = branches

    def create(
        self,
        reference: str,
        author: Author,
        *,
        bump: Bump | None = None,
        version: str | None = None,
        description: str = "",
        message: str | None = None,
        allow_same: bool = False,
        progress: Progress = quiet,
    ) -> ChangeRequest:
        """Propose a regular release of an element's working version on the default branch.

        `message` replaces the commit message's first line ("Release <name> <version>"). A
        release holding exactly the files of the one before it is refused unless `allow_same`.
        """
        explicit = Version.parse(version) if version is not None else None
        if (bump is None) == (explicit is None):
            raise InvalidInput("choose exactly one of a bump (major, minor, patch) or a version")
        element = self._catalog.element(reference)
        return self.claim(
            element,
            lambda released, claimed: choose_regular_version(
                element.name, released, claimed, bump=bump, explicit=explicit
            ),
            source=None,
            title=f"Release {element.name}",
            description=description,
            author=author,
            retry=explicit is None,
            message=message,
            allow_same=allow_same,
            progress=progress,
        )

    def claim(
        self,
        element: Element,
        choose: ChooseVersion,
        *,
        source: CommitSnapshot | None,
        title: str,
        description: str,
        author: Author,
        retry: bool,
        cleanup_branches: Mapping[str, str] | None = None,
        message: str | None = None,
        allow_same: bool = False,
        progress: Progress = quiet,
    ) -> ChangeRequest:
        """Build the chosen version from `source` (the default branch when None) and propose it.

        When a racing writer claimed the version first, a computed version (`retry`) is chosen
        again; a version the user gave is refused. So is a release whose files are those of the
        release before it (released or claimed), unless `allow_same`: nothing is created then.
        """
        # A claim left by an interrupted command (a branch without its pull request) is freed.
        self._branches.leftovers.release_under(release_branch_prefix(element.kind, element.uuid))
        for _ in range(_CLAIM_ATTEMPTS):
            claimed = self._catalog.claimed(element)
            # Read main after the branches: a release merged meanwhile is then in one or the
            # other (its branch goes only after main moved), never hidden from both.
            main = self._catalog.snapshot()
            released = releases_of(main, element.kind, element.uuid)
            version = choose(set(released), claimed)
            files = (source or main).folder_files(element.source_dir)
            repeated = (
                None if allow_same else self._identical(element, version, files, released, claimed)
            )
            if repeated is not None:
                where = "" if repeated in released else " (in an open pull request)"
                raise ReleaseUnchanged(
                    f"{element.name} {version} would hold exactly the files of {repeated}"
                    f"{where}; change the source first, or ask explicitly for an identical release",
                    cli_hint="add --allow-same to release it anyway",
                )
            progress(f"building {element.name} {version}")
            artifact = self._build(element, source or main, version, files, description, author)
            try:
                return self._branches.propose(
                    branch=release_branch(element.kind, element.uuid, version),
                    base_sha=main.commit_sha,
                    changes={element.kind.artifact_path(element.uuid, str(version)): artifact},
                    message=f"{message or f'{title} {version}'}\n\n{description}".rstrip() + "\n",
                    author=author,
                    description=description,
                    cleanup_branches=cleanup_branches,
                )
            except BranchExists as error:
                if not retry:
                    raise ReleaseExists(
                        f"release {version} of {element.name} is already in an open pull "
                        "request; merge or close it first"
                    ) from error
        raise ReleaseExists(f"could not claim a release number for {element.name}; try again")

    def same_as(
        self, element: Element, version: Version, source: CommitSnapshot | None = None
    ) -> Version | None:
        """Return the release before `version` when the element's files at `source` (the
        default branch when None) are exactly its files, so releasing would change nothing."""
        claimed = self._catalog.claimed(element)
        main = self._catalog.snapshot()
        released = releases_of(main, element.kind, element.uuid)
        files = (source or main).folder_files(element.source_dir)
        return self._identical(element, version, files, released, claimed)

    def _identical(
        self,
        element: Element,
        version: Version,
        files: Mapping[str, bytes],
        released: Mapping[Version, Release],
        claimed: set[Version],
    ) -> Version | None:
        """Return the release before `version` if it holds exactly `files`, else None.

        The files are compared by the digest every release.json records, so no artifact is
        unpacked; a claimed release is read from its open release branch.
        """
        previous = previous_release(version, set(released), claimed)
        if previous is None:
            return None
        path = element.kind.artifact_path(element.uuid, str(previous))
        if previous in released:
            blob_oid = released[previous].blob_oid
        else:
            repo = self._catalog.repo
            sha = repo.branch_sha(release_branch(element.kind, element.uuid, previous))
            entry = None if sha is None else CommitSnapshot(repo, sha).entry(path)
            if entry is None:
                return None  # merged or closed meanwhile, or holding no artifact
            blob_oid = entry.oid
        try:
            info = self._catalog.release_info(path, blob_oid)
        except ArtifactInvalid:
            return None  # an unreadable release holds nothing to repeat; validate reports it
        same = info.files_sha256 == files_digest(files)
        return previous if same else None

    def _build(
        self,
        element: Element,
        snapshot: CommitSnapshot,
        version: Version,
        files: Mapping[str, bytes],
        description: str,
        author: Author,
    ) -> bytes:
        """Return the artifact of `version`: the element's folder `files` at `snapshot`."""
        return build_artifact(
            kind=element.kind,
            uuid=element.uuid,
            name=element.name,
            version=version,
            description=description,
            created_by=str(author),
            source_commit=snapshot.commit_sha,
            files=files,
            limits=self._catalog.limits,
        )

    def delete(self, reference: str, version: str, author: Author) -> ChangeRequest:
        """Propose removing a release; refused while a manifest pins exactly that version."""
        snapshot = self._catalog.snapshot()
        element = self._catalog.element(reference, snapshot)
        release = get_release(snapshot, element, Version.parse(version))
        manifests, _ = self._catalog.manifests_at(snapshot)
        check_deletable(element.name, element.uuid, release.version, manifests)
        branch = delete_branch(element.kind, element.uuid, release.version)
        pending = self._catalog.provider.open_pull_for_branch(branch)  # one ref, one record
        if pending is not None:
            raise AlreadyProposed(
                pending.number,
                f"pull request #{pending.number} already deletes release {release.version} of "
                f"{element.name}; merge or close it instead of proposing it again",
            )
        return self._branches.propose(
            branch=branch,
            base_sha=snapshot.commit_sha,
            changes={release.path: None},
            message=f"Delete release {element.name} {release.version}\n",
            author=author,
        )
