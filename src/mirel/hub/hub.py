"""The hub: one shared repository, what it holds, and the changes proposed to it.

`Hub` only wires the parts together; each part holds one responsibility:

- `catalog` reads (elements, releases, manifests, hotfixes, history, validation);
- `elements`, `releases`, `manifests` and `hotfixes` propose changes of their kind, each through
  the one propose-a-change path (`propose.BranchWriter`: a branch, a commit, a pull request);
- `pulls` lists, merges and closes pull requests;
- `proposals` says what the open pull requests propose, and `plans` what a change would do on
  each instance.

Each part is built, and its module imported, the first time it is used: a command that only
lists elements pays for the catalog alone, not for every kind of change it does not make.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar, overload

from mirel.core.artifact import DEFAULT_LIMITS, ArtifactLimits
from mirel.core.names import check_name
from mirel.git.repository import HEADS, Author, GitRepository
from mirel.providers import HostSettings, open_provider
from mirel.providers.base import Provider

if TYPE_CHECKING:  # httpx is imported where a call is made: a local repository needs none
    import httpx

    from mirel.git.snapshot import CommitSnapshot
    from mirel.hub.catalog import Catalog
    from mirel.hub.elements import ElementChanges
    from mirel.hub.hotfixes import HotfixChanges
    from mirel.hub.manifests import ManifestChanges
    from mirel.hub.pending import Proposals
    from mirel.hub.plans import Plans
    from mirel.hub.propose import BranchWriter
    from mirel.hub.pulls import PullRequests
    from mirel.hub.releases import ReleaseChanges

_README = (
    b"# mirel repository\n\n"
    b"apps/<name>/ and workflows/<name>/ hold element sources (with metadata.json),\n"
    b"dist/<kind>s/<uuid>/<X.Y.Z>.zip the release artifacts, and manifests/<name>.yaml\n"
    b"which release of each element every instance publishes. Change it through mirel:\n"
    b"every change is a branch and a pull request.\n"
)
_LAYOUT = ("apps", "workflows", "dist/apps", "dist/workflows", "manifests")

Part = TypeVar("Part")


class _BuiltOnFirstUse(Generic[Part]):
    """A part of the hub, built the first time it is read and kept in the hub's own attributes
    (so later reads find it there without this descriptor). Built once per hub even when threads
    read it at once: parts keep caches (the catalog's, the proposals'), and two copies would
    split them."""

    def __init__(self, build: Callable[[Hub], Part]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, hub: None, owner: type[Hub]) -> _BuiltOnFirstUse[Part]: ...

    @overload
    def __get__(self, hub: Hub, owner: type[Hub]) -> Part: ...

    def __get__(self, hub: Hub | None, owner: type[Hub]) -> Part | _BuiltOnFirstUse[Part]:
        if hub is None:
            return self
        # Reentrant: building the plans builds the pulls and the manifests it is made of.
        with hub._building:
            if self._name not in hub.__dict__:
                hub.__dict__[self._name] = self._build(hub)
        built: Part = hub.__dict__[self._name]
        return built


class Hub:
    """One shared repository and its pull requests."""

    def __init__(
        self,
        repository: GitRepository,
        provider: Provider,
        limits: ArtifactLimits = DEFAULT_LIMITS,
    ) -> None:
        self.repo = repository
        self.provider = provider
        self.limits = limits
        self._building = threading.RLock()

    @_BuiltOnFirstUse
    def catalog(self) -> Catalog:
        """Reads what the repository holds, through its caches."""
        from mirel.hub.catalog import Catalog

        return Catalog(self.repo, self.provider, self.limits)

    @_BuiltOnFirstUse
    def branches(self) -> BranchWriter:
        """The one propose-a-change path: a branch, a commit, a pull request."""
        from mirel.hub.propose import BranchWriter

        return BranchWriter(self.repo, self.provider)

    @_BuiltOnFirstUse
    def elements(self) -> ElementChanges:
        """Proposes changes to elements: add, push, edit a file."""
        from mirel.hub.elements import ElementChanges

        return ElementChanges(self.catalog, self.branches)

    @_BuiltOnFirstUse
    def releases(self) -> ReleaseChanges:
        """Proposes releases and their deletion."""
        from mirel.hub.releases import ReleaseChanges

        return ReleaseChanges(self.catalog, self.branches)

    @_BuiltOnFirstUse
    def proposals(self) -> Proposals:
        """Says what the open pull requests propose."""
        from mirel.hub.pending import Proposals

        return Proposals(self.catalog)

    @_BuiltOnFirstUse
    def manifests(self) -> ManifestChanges:
        """Proposes changes to manifests: create, pin, delete, roll back."""
        from mirel.hub.manifests import ManifestChanges

        return ManifestChanges(self.catalog, self.branches, self.proposals)

    @_BuiltOnFirstUse
    def hotfixes(self) -> HotfixChanges:
        """Patches older release lines: a hotfix branch, its release, closing it."""
        from mirel.hub.hotfixes import HotfixChanges

        return HotfixChanges(self.catalog, self.branches, self.releases)

    @_BuiltOnFirstUse
    def pulls(self) -> PullRequests:
        """Lists, merges and closes pull requests."""
        from mirel.hub.pulls import PullRequests

        return PullRequests(self.provider, self.catalog)

    @_BuiltOnFirstUse
    def plans(self) -> Plans:
        """Says what a change would do on each instance."""
        from mirel.hub.plans import Plans

        return Plans(self.catalog, self.pulls, self.manifests)

    @classmethod
    def open(
        cls,
        path: str | Path | GitRepository,
        *,
        web_url: str | None = None,
        limits: ArtifactLimits = DEFAULT_LIMITS,
        http: httpx.Client | None = None,
        host: HostSettings | None = None,
    ) -> Hub:
        """Return the hub of the repository at `path` (or of an open repository, a mirror of a
        remote one for instance); links lead to `web_url` when given, and `http` makes the
        provider's outbound calls."""
        repository = path if isinstance(path, GitRepository) else GitRepository(path)
        provider = open_provider(repository, web_url=web_url, http=http, host=host)
        return cls(repository, provider, limits)

    @classmethod
    def init(cls, path: str | Path, author: Author, default_branch: str = "main") -> Hub:
        """Create a bare repository with the standard layout on `default_branch`."""
        check_name(default_branch, "branch")
        repo = GitRepository.init_bare(path, default_branch)
        layout: dict[str, bytes | None] = {"README.md": _README}
        for folder in _LAYOUT:
            layout[f"{folder}/.gitkeep"] = b""
        tree = repo.write_tree_changes(None, layout)
        commit = repo.write_commit(
            tree_oid=tree, parents=[], message="Start a mirel repository\n", author=author
        )
        repo.create_ref(HEADS + default_branch, commit)
        return cls.open(path)

    @property
    def default_branch(self) -> str:
        """Return the name of the default branch."""
        return self.catalog.default_branch

    def head(self) -> str:
        """Return the tip of the default branch."""
        return self.catalog.head()

    def snapshot(self, revision: str | None = None) -> CommitSnapshot:
        """Return the files of a commit (the default branch's tip when not given)."""
        return self.catalog.snapshot(revision)
