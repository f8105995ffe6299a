"""The hub: mirel's operations on the shared repository, each write a branch plus a pull request.

This layer joins the pure core (rules, manifests, artifacts) to the git layer and a provider. The
CLI, and later the REST API and the web pages, call these methods and only shape their answers.
"""

from __future__ import annotations

import difflib
import json
import uuid as uuid_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mirel.core.artifact import (
    DEFAULT_LIMITS,
    ArtifactLimits,
    ReleaseInfo,
    build_artifact,
    read_artifact,
    read_release_info,
)
from mirel.core.catalog import (
    METADATA,
    Element,
    ManifestCache,
    MetadataCache,
    find_element,
    get_release,
    list_elements,
    list_manifest_names,
    load_element,
    load_manifest,
    load_manifests,
    releases_of,
)
from mirel.core.kinds import ElementKind
from mirel.core.manifest import LATEST, Manifest, manifest_path, write_manifest
from mirel.core.names import check_name, is_valid_uuid
from mirel.core.resolve import resolve_manifest, resolve_pin
from mirel.core.rules import (
    BRANCH_PREFIX,
    HOTFIX_PREFIX,
    HotfixBranch,
    change_branch,
    check_deletable,
    choose_regular_version,
    claimed_versions,
    hotfix_base,
    hotfix_branch,
    next_patch,
    parse_hotfix_branch,
    release_branch,
    release_branch_prefix,
)
from mirel.core.validation import validate_snapshot
from mirel.core.versions import Bump, Line, Version
from mirel.errors import (
    BranchExists,
    ElementExists,
    ElementNotFound,
    HotfixBranchExists,
    HotfixNotFound,
    InvalidInput,
    ManifestExists,
    ManifestInvalid,
    ManifestNotFound,
    NotFound,
    NothingToChange,
    Problem,
    ReleaseExists,
)
from mirel.git.repository import (
    HEADS,
    Author,
    ChangedPath,
    CommitInfo,
    GitRepository,
    check_repo_path,
    retry_on_race,
)
from mirel.git.snapshot import CommitSnapshot
from mirel.providers.base import InstanceReport, PullRequest
from mirel.providers.local import LocalProvider

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ChangeRequest:
    """What every write answers: the branch it made, its commit, and the pull request."""

    commit_sha: str
    url: str
    branch_name: str
    pull_request: PullRequest | None

    def to_json(self) -> dict[str, object]:
        """Return the answer as the API and `--json` show it."""
        return {
            "commit_sha": self.commit_sha,
            "url": self.url,
            "branch_name": self.branch_name,
            "pull_request": self.pull_request.summary() if self.pull_request else None,
        }


@dataclass(frozen=True)
class ReleaseView:
    """One release with the metadata read from its artifact."""

    element: Element
    version: Version
    info: ReleaseInfo
    path: str
    blob_oid: str
    published_in: tuple[str, ...]  # manifests on the default branch that serve this release
    pinned_by: tuple[str, ...] = ()  # manifests that pin exactly this version (it cannot go)

    def to_json(self) -> dict[str, object]:
        """Return the release in the compatible API's shape (plus mirel's own fields)."""
        return {
            "release_version": str(self.version),
            "release_description": self.info.description,
            "created_at": self.info.created_at,
            "created_by": self.info.created_by,
            "source_commit": self.info.source_commit,
            "element_uuid": self.element.uuid,
            "element_name": self.element.name,
            "element_type": self.element.kind.api_type,
            "artifact_path": self.path,
            "blob_sha": self.blob_oid,
            "published_in": list(self.published_in),
            "pinned_by": list(self.pinned_by),
        }


HISTORY_SCAN = 2000


def _deploys(
    cell: Mapping[str, object], uuid: str, manifest: str, reports: Sequence[InstanceReport]
) -> list[dict[str, object]]:
    """Return what each instance publishing `manifest` serves of an element, against the pin.

    `current` is false while the instance serves something else than what the manifest on the
    default branch resolves to: the pin is not deployed there yet (or its deploy failed).
    """
    wanted = cell["resolved"] or ("working" if cell["status"] != "missing" else None)
    return [
        {
            "instance": report.name,
            "serves": report.live.get(uuid),
            "current": wanted is not None and report.live.get(uuid) == wanted,
            "status": report.status,
        }
        for report in reports
        if report.manifest == manifest
    ]


@dataclass(frozen=True)
class BranchView:
    """A branch as its page shows it."""

    name: str
    commit_sha: str
    base_sha: str  # where it left the default branch
    changes: list[ChangedPath]  # against that commit
    commits: list[CommitInfo]  # its own, newest first (at most 50)
    pull_request: PullRequest | None
    hotfix: dict[str, object] | None
    element: Element | None  # the element a hotfix branch patches
    files: list[str]  # that element's files on the branch


def read_folder(folder: Path) -> dict[str, bytes]:
    """Return every file below a local folder, keyed by posix path; raise InvalidInput."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder; pass the folder that holds the sources")
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] == ".git":
            continue
        if path.is_symlink():
            raise InvalidInput(f"{path} is a symbolic link; mirel stores plain files only")
        if path.is_file():
            files[relative.as_posix()] = path.read_bytes()
    if not files:
        raise InvalidInput(f"{folder} holds no files")
    return files


def _text_diff(path: str, old: bytes | None, new: bytes | None) -> str:
    try:
        old_text = old.decode("utf-8") if old is not None else ""
        new_text = new.decode("utf-8") if new is not None else ""
    except UnicodeDecodeError:
        return "binary file differs\n"
    return "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"a/{path}" if old is not None else "/dev/null",
            tofile=f"b/{path}" if new is not None else "/dev/null",
        )
    )


def _check_new_branch_name(branch: str) -> None:
    """Raise InvalidInput when a user-chosen new branch would enter mirel's own namespace."""
    # A branch `mirel` (or `mirel/x/...` made by hand) would block the ref folders under which
    # mirel makes every release, hotfix and manifest branch.
    if branch == "mirel" or branch.startswith(BRANCH_PREFIX):
        raise InvalidInput(
            f"branch names starting with {BRANCH_PREFIX!r} are mirel's own; choose another name"
        )


class Hub:
    """One shared repository and its pull requests."""

    def __init__(
        self,
        repository: GitRepository,
        provider: LocalProvider | None = None,
        limits: ArtifactLimits = DEFAULT_LIMITS,
    ) -> None:
        self.repo = repository
        self.provider = provider or LocalProvider(repository)
        self.limits = limits
        self._metadata = MetadataCache()
        self._manifests = ManifestCache()
        # Release metadata never changes for a given artifact blob, so it is kept by blob id.
        self._release_infos: dict[str, ReleaseInfo] = {}

    @classmethod
    def open(cls, path: str | Path) -> Hub:
        """Return the hub of the bare repository at `path`."""
        return cls(GitRepository(path))

    @classmethod
    def init(cls, path: str | Path, author: Author, default_branch: str = "main") -> Hub:
        """Create a bare repository with the standard layout on `default_branch`."""
        check_name(default_branch, "branch")
        repo = GitRepository.init_bare(path, default_branch)
        readme = (
            b"# mirel repository\n\n"
            b"apps/<name>/ and workflows/<name>/ hold element sources (with metadata.json),\n"
            b"dist/<kind>s/<uuid>/<X.Y.Z>.zip the release artifacts, and manifests/<name>.yaml\n"
            b"which release of each element every instance publishes. Change it through mirel:\n"
            b"every change is a branch and a pull request.\n"
        )
        layout: dict[str, bytes | None] = {"README.md": readme}
        for folder in ("apps", "workflows", "dist/apps", "dist/workflows", "manifests"):
            layout[f"{folder}/.gitkeep"] = b""
        tree = repo.write_tree_changes(None, layout)
        commit = repo.write_commit(
            tree_oid=tree, parents=[], message="Start a mirel repository\n", author=author
        )
        repo.create_ref(HEADS + default_branch, commit)
        return cls(repo)

    # -- reading -----------------------------------------------------------------------------

    @property
    def default_branch(self) -> str:
        """Return the name of the default branch."""
        return self.repo.default_branch

    def head(self) -> str:
        """Return the tip of the default branch."""
        return self.repo.require_branch(self.default_branch)

    def snapshot(self, revision: str | None = None) -> CommitSnapshot:
        """Return the files of a commit (the default branch's tip when not given)."""
        sha = self.head() if revision is None else self.repo.resolve(revision)
        return CommitSnapshot(self.repo, sha)

    def elements(self, snapshot: CommitSnapshot | None = None) -> list[Element]:
        """Return every element on the default branch, sorted by kind and name."""
        listing = list_elements(snapshot or self.snapshot(), self._metadata)
        return sorted(listing.elements, key=lambda element: (element.kind.name, element.name))

    def element(self, reference: str, snapshot: CommitSnapshot | None = None) -> Element:
        """Return the element named by name, `kind/name` or uuid on the default branch."""
        return find_element(snapshot or self.snapshot(), reference, self._metadata)

    def release_info(self, path: str, blob_oid: str) -> ReleaseInfo:
        """Return the release.json of an artifact, read once per blob."""
        info = self._release_infos.get(blob_oid)
        if info is None:
            info = read_release_info(self.repo.read_blob(blob_oid), path, self.limits)
            self._release_infos[blob_oid] = info
        return info

    def releases(self, reference: str) -> list[ReleaseView]:
        """Return the releases of one element on the default branch, newest first."""
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        found = releases_of(snapshot, element.kind, element.uuid)
        manifests, _ = load_manifests(snapshot, self._manifests)
        # Which release each manifest serves, by the same resolution a deploy uses.
        serving: dict[Version, list[str]] = {}
        exact: dict[str, list[str]] = {}
        for name, manifest in sorted(manifests.items()):
            pin = manifest.find(element.uuid)
            if pin is not None:
                exact.setdefault(pin[1].release, []).append(name)
            try:
                served = resolve_pin(pin[1].release, found) if pin is not None else None
            except KeyError:
                served = None  # pins a missing release: validate and deploys report it
            if served is not None:
                serving.setdefault(served.version, []).append(name)
        views = []
        for version in sorted(found, reverse=True):
            release = found[version]
            published = serving.get(version, [])
            views.append(
                ReleaseView(
                    element=element,
                    version=version,
                    info=self.release_info(release.path, release.blob_oid),
                    path=release.path,
                    blob_oid=release.blob_oid,
                    published_in=tuple(published),
                    pinned_by=tuple(exact.get(str(version), [])),
                )
            )
        return views

    def manifest_names(self) -> list[str]:
        """Return the names of the manifests on the default branch."""
        return list_manifest_names(self.snapshot())

    def manifest(self, name: str) -> Manifest:
        """Return one manifest from the default branch."""
        return load_manifest(self.snapshot(), name, self._manifests)

    def matrix(
        self,
        *,
        query: str | None = None,
        kind: ElementKind | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> dict[str, object]:
        """Return elements against every manifest: pins, what they resolve to, and drift.

        `query` (a part of the name, any case) and `kind` choose the elements, `offset` and
        `limit` a page of them: only the rows of that page read their releases. Each cell lists,
        for every instance that reported publishing its manifest, what that instance serves, so
        that a pin not yet deployed there shows.
        """
        snapshot = self.snapshot()
        manifests, problems = load_manifests(snapshot, self._manifests)
        names = sorted(manifests)
        needle = (query or "").strip().casefold()
        chosen = [
            element
            for element in self.elements(snapshot)
            if (kind is None or element.kind == kind) and needle in element.name.casefold()
        ]
        page = chosen[max(0, offset) : None if limit is None else max(0, offset) + max(0, limit)]
        reports = self.provider.instance_reports()
        rows = []
        for element in page:
            found = releases_of(snapshot, element.kind, element.uuid)
            latest = max(found, default=None)
            pins: dict[str, object] = {}
            for name in names:
                pin = manifests[name].find(element.uuid)
                cell = self._cell(pin[1].release if pin else None, found, latest)
                cell["deploys"] = _deploys(cell, element.uuid, name, reports)
                pins[name] = cell
            rows.append(
                {
                    "uuid": element.uuid,
                    "kind": element.kind.name,
                    "element_type": element.kind.api_type,
                    "name": element.name,
                    "releases": [str(version) for version in sorted(found, reverse=True)],
                    "latest": str(latest) if latest else None,
                    "pins": pins,
                }
            )
        return {
            "commit_sha": snapshot.commit_sha,
            "manifests": names,
            "elements": rows,
            "total": len(chosen),
            "offset": max(0, offset),
            "instances": [
                {key: value for key, value in report.to_json().items() if key != "live"}
                for report in reports
            ],
            "problems": [str(problem) for problem in problems],
        }

    def next_versions(self, reference: str) -> dict[str, str]:
        """Return the version a new major, minor and patch release of an element would get."""
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        released = set(releases_of(snapshot, element.kind, element.uuid))
        claimed = self._claimed(element)
        return {
            str(bump): str(choose_regular_version(element.name, released, claimed, bump=bump))
            for bump in Bump
        }

    def element_hotfixes(self, element: Element) -> list[dict[str, object]]:
        """Return the open hotfix branches of one element, by line."""
        prefix = f"{HOTFIX_PREFIX}{element.kind.name}/{element.uuid}/"
        found: list[dict[str, object]] = []
        for branch, sha in self.repo.branches_under(prefix).items():
            hotfix = parse_hotfix_branch(branch)
            if hotfix is not None:
                found.append(self._hotfix_json(hotfix, sha, element))
        return sorted(found, key=lambda item: Line.parse(str(item["line"])))

    def _hotfix_json(
        self, hotfix: HotfixBranch, sha: str, element: Element | None
    ) -> dict[str, object]:
        return {
            "branch_name": hotfix.branch,
            "commit_sha": sha,
            "element_uuid": hotfix.uuid,
            "element_name": element.name if element else None,
            "kind": hotfix.kind.name,
            "line": str(hotfix.line),
            "url": self.provider.branch_url(hotfix.branch),
        }

    def element_history(
        self, element: Element, start: str | None = None, limit: int = 20
    ) -> tuple[list[CommitInfo], str | None]:
        """Return a page of the default branch's commits that changed an element's source or
        releases, and where the next page starts (None: no more).

        At most `HISTORY_SCAN` commits are looked at per page, so a page costs the same however
        long the history is; a page may then hold fewer commits but still point further back.
        """
        return self.repo.history_page(
            start or self.head(),
            [element.source_dir, element.kind.release_dir(element.uuid)],
            limit,
            scan=HISTORY_SCAN,
        )

    def branch(self, branch: str) -> BranchView:
        """Return a branch: its tip, what it changes against the default branch, its commits
        since it left it, its open pull request, and for a hotfix its element's files."""
        tip = self.repo.require_branch(branch)
        head = self.head()
        base = self.repo.merge_base(head, tip) or head
        commits, _ = self.repo.history_page(tip, [], limit=50)
        own: list[CommitInfo] = []
        for commit in commits:
            if commit.sha == base:
                break
            own.append(commit)
        hotfix = parse_hotfix_branch(branch)
        element: Element | None = None
        files: list[str] = []
        if hotfix is not None:
            element = self.elements_by_uuid().get(hotfix.uuid)
        if element is not None:
            on_branch = load_element(self.snapshot(HEADS + branch), element.kind, element.name)
            if on_branch is not None:
                files = [path for path, _ in self.repo.walk_files(on_branch.tree_oid)]
        return BranchView(
            name=branch,
            commit_sha=tip,
            base_sha=base,
            changes=self.repo.diff_trees(self.repo.tree_of(base), self.repo.tree_of(tip)),
            commits=own,
            pull_request=self.provider.open_pull_for_branch(branch),
            hotfix=self._hotfix_json(hotfix, tip, element) if hotfix is not None else None,
            element=element,
            files=files,
        )

    def elements_by_uuid(self, snapshot: CommitSnapshot | None = None) -> dict[str, Element]:
        """Return the default branch's elements by uuid."""
        return {element.uuid: element for element in self.elements(snapshot)}

    @staticmethod
    def _cell(
        pin: str | None, found: Mapping[Version, object], latest: Version | None
    ) -> dict[str, object]:
        if pin is None:
            return {"release": None, "resolved": None, "status": "not_in_manifest"}
        try:
            release = resolve_pin(pin, found)  # type: ignore[arg-type]
        except KeyError:
            return {"release": pin, "resolved": None, "status": "missing"}
        resolved = release.version if release else None
        status = (
            "behind" if resolved is not None and latest is not None and resolved < latest else "ok"
        )
        return {"release": pin, "resolved": str(resolved) if resolved else None, "status": status}

    def validate(self, revision: str | None = None, progress: Progress = _quiet) -> list[Problem]:
        """Return every problem of the repository at a commit."""
        return validate_snapshot(self.snapshot(revision), self.limits, progress)

    def release_diff(self, reference: str, version: str, against: str | None) -> dict[str, object]:
        """Return the files added, removed and changed from `against` (default: the previous
        release; none: an empty folder) to `version`, with text diffs."""
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        target = get_release(snapshot, element, Version.parse(version))
        if against is None:
            lower = [
                v for v in releases_of(snapshot, element.kind, element.uuid) if v < target.version
            ]
            base = get_release(snapshot, element, max(lower)) if lower else None
        else:
            base = get_release(snapshot, element, Version.parse(against))
        new_files = self._artifact_files(target.path, target.blob_oid)
        old_files = self._artifact_files(base.path, base.blob_oid) if base else {}
        added: list[dict[str, str]] = []
        removed: list[dict[str, str]] = []
        changed: list[dict[str, str]] = []
        for path in sorted(set(new_files) | set(old_files)):
            old, new = old_files.get(path), new_files.get(path)
            if old == new:
                continue
            entry = {"path": path, "diff": _text_diff(path, old, new)}
            (added if old is None else removed if new is None else changed).append(entry)
        return {
            "element_uuid": element.uuid,
            "element_name": element.name,
            "release_version": str(target.version),
            "against": str(base.version) if base else None,
            "added": added,
            "removed": removed,
            "changed": changed,
        }

    def _artifact_files(self, path: str, blob_oid: str) -> Mapping[str, bytes]:
        return read_artifact(self.repo.read_blob(blob_oid), path, self.limits).files

    def hotfixes(self) -> list[dict[str, object]]:
        """Return the open hotfix branches with their element and line."""
        by_uuid = self.elements_by_uuid()
        found: list[dict[str, object]] = []
        for branch, sha in sorted(self.repo.branches_under(HOTFIX_PREFIX).items()):
            hotfix = parse_hotfix_branch(branch)
            if hotfix is None:
                continue
            found.append(self._hotfix_json(hotfix, sha, by_uuid.get(hotfix.uuid)))
        return found

    # -- the shared write path ---------------------------------------------------------------

    def _propose(
        self,
        *,
        branch: str,
        base_sha: str,
        changes: Mapping[str, bytes | None],
        message: str,
        author: Author,
        description: str = "",
        cleanup_branches: Mapping[str, str] | None = None,
        open_pull_request: bool = True,
    ) -> ChangeRequest:
        """Commit `changes` on a new branch from `base_sha` and open its pull request.

        The commit is written before any reference moves, and the branch is removed again if the
        pull request cannot be opened, so a failure leaves nothing behind.
        """
        base_tree = self.repo.tree_of(base_sha)
        tree = self.repo.write_tree_changes(base_tree, changes)
        if tree == base_tree:
            raise NothingToChange("that change is already on the default branch; nothing to do")
        commit = self.repo.write_commit(
            tree_oid=tree, parents=[base_sha], message=message, author=author
        )
        retry_on_race(lambda: self.repo.create_branch(branch, commit), what=f"creating {branch}")
        if not open_pull_request:
            return ChangeRequest(commit, self.provider.branch_url(branch), branch, None)
        try:
            pull = self.provider.create_pull_request(
                head_branch=branch,
                title=message.split("\n", 1)[0],
                description=description or message,
                author=author,
                cleanup_branches=cleanup_branches,
            )
        except BaseException:
            self.repo.delete_ref(HEADS + branch, commit)
            raise
        return ChangeRequest(commit, self.provider.branch_url(branch), branch, pull)

    # -- elements ----------------------------------------------------------------------------

    def add_element(
        self, kind: ElementKind, name: str, files: Mapping[str, bytes], author: Author
    ) -> ChangeRequest:
        """Propose a new element from a folder's files; its uuid is new unless metadata has one."""
        check_name(name, "element")
        snapshot = self.snapshot()
        if snapshot.entry(kind.source_dir(name)) is not None:
            raise ElementExists(f"{kind.source_dir(name)} already exists on the default branch")
        metadata = self._metadata_for(kind, name, files.get(METADATA))
        element_uuid = str(metadata[kind.uuid_field])
        if any(element.uuid == element_uuid for element in self.elements(snapshot)):
            raise ElementExists(
                f"uuid {element_uuid} from {METADATA} is already used by another element; "
                "remove it from the file to get a new one"
            )
        source = {**files, METADATA: json.dumps(metadata, indent=2).encode() + b"\n"}
        changes = {f"{kind.source_dir(name)}/{path}": content for path, content in source.items()}
        return self._propose(
            branch=f"mirel/element/{kind.name}/{element_uuid}",
            base_sha=snapshot.commit_sha,
            changes=changes,
            message=f"Add {kind.name} {name}\n",
            author=author,
        )

    @staticmethod
    def _metadata_for(kind: ElementKind, name: str, raw: bytes | None) -> dict[str, object]:
        metadata: dict[str, object] = {}
        if raw is not None:
            try:
                loaded = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                raise InvalidInput(f"{METADATA} is not valid JSON: {error}") from error
            if not isinstance(loaded, dict):
                raise InvalidInput(f"{METADATA} must hold a JSON object")
            metadata = loaded
        given = metadata.get(kind.uuid_field)
        if given is not None and not is_valid_uuid(given):
            raise InvalidInput(
                f"{METADATA} has {kind.uuid_field} {given!r}, which is not a lowercase uuid; "
                "remove it to get a new one"
            )
        metadata[kind.uuid_field] = given or str(uuid_module.uuid4())
        metadata["name"] = name
        return metadata

    def push_element(
        self,
        reference: str,
        files: Mapping[str, bytes],
        author: Author,
        branch: str | None = None,
        message: str | None = None,
    ) -> ChangeRequest:
        """Propose an element's new content (its folder becomes exactly `files`).

        With `branch` naming an existing branch (a hotfix, say), the commit goes on top of it and
        the branch's open pull request, if any, is returned; otherwise a new branch and pull
        request are made from the default branch.
        """
        main = self.snapshot()
        element = self.element(reference, main)
        if branch is not None and self.repo.branch_sha(branch) is not None:
            target = self.snapshot(HEADS + branch)
            on_branch = load_element(target, element.kind, element.name)
            if on_branch is None or on_branch.uuid != element.uuid:
                raise ElementNotFound(f"{element.name} is not on branch {branch!r}")
            return self._commit_on_branch(
                branch, target, element, files, author, message or f"Update {element.name}\n"
            )
        if branch is not None:
            _check_new_branch_name(branch)
        changes = self._folder_changes(main, element, files)
        return self._propose(
            branch=branch or change_branch(f"update/{element.kind.name}", element.name),
            base_sha=main.commit_sha,
            changes=changes,
            message=message or f"Update {element.kind.name} {element.name}\n",
            author=author,
        )

    def edit_file(
        self,
        reference: str,
        path: str,
        content: bytes | None,
        author: Author,
        *,
        branch: str | None = None,
        message: str | None = None,
    ) -> ChangeRequest:
        """Propose one file of an element changed (None deletes it), `path` inside its folder.

        On an existing `branch` (a hotfix, say) the commit goes on top of it; otherwise a new
        branch and pull request are made from the default branch.
        """
        element = self.element(reference)
        exists = branch is not None and self.repo.branch_sha(branch) is not None
        source = self.snapshot(HEADS + branch) if exists and branch else self.snapshot()
        on_source = load_element(source, element.kind, element.name)
        if on_source is None or on_source.uuid != element.uuid:
            raise ElementNotFound(f"{element.name} is not on branch {branch!r}")
        relative = path.strip().strip("/")
        check_repo_path(f"{element.source_dir}/{relative}")
        files = source.folder_files(on_source.source_dir)
        if content is None:
            if relative not in files:
                raise NotFound(f"{element.name} has no file {relative!r} to delete")
            if relative == METADATA:
                raise InvalidInput(f"{METADATA} names the element; it cannot be deleted")
            del files[relative]
        else:
            files[relative] = content
        verb = "Delete" if content is None else "Edit"
        return self.push_element(
            element.uuid,
            files,
            author,
            branch=branch,
            message=message or f"{verb} {relative} of {element.name}\n",
        )

    def _folder_changes(
        self, snapshot: CommitSnapshot, element: Element, files: Mapping[str, bytes]
    ) -> dict[str, bytes | None]:
        folder = element.source_dir
        new_files = dict(files)
        raw = new_files.get(METADATA)
        if raw is None:
            new_files[METADATA] = snapshot.read(f"{folder}/{METADATA}") or b""
        else:
            metadata = self._metadata_for(element.kind, element.name, raw)
            if metadata[element.kind.uuid_field] != element.uuid:
                raise InvalidInput(
                    f"{METADATA} in the folder names uuid {metadata[element.kind.uuid_field]}, "
                    f"but {element.name} is {element.uuid}; push the folder of the same element"
                )
        return self._replace_folder(element, new_files)

    def _replace_folder(
        self, element: Element, files: Mapping[str, bytes]
    ) -> dict[str, bytes | None]:
        """Return the changes that make the element's folder hold exactly `files`."""
        folder = element.source_dir
        changes: dict[str, bytes | None] = {
            f"{folder}/{path}": None for path, _ in self.repo.walk_files(element.tree_oid)
        }
        changes.update({f"{folder}/{path}": content for path, content in files.items()})
        return changes

    def _commit_on_branch(
        self,
        branch: str,
        snapshot: CommitSnapshot,
        element: Element,
        files: Mapping[str, bytes],
        author: Author,
        message: str,
    ) -> ChangeRequest:
        on_branch = load_element(snapshot, element.kind, element.name)
        assert on_branch is not None
        return self.commit_to_branch(
            branch, self._folder_changes(snapshot, on_branch, files), message, author
        )

    def commit_to_branch(
        self,
        branch: str,
        changes: Mapping[str, bytes | None],
        message: str,
        author: Author,
        base: str | None = None,
    ) -> ChangeRequest:
        """Commit file changes on top of a branch (new branches start at `base` or the default)."""
        if branch == self.default_branch:
            # Nothing writes to the default branch directly: every change is a pull request.
            raise InvalidInput(
                f"{branch!r} is the default branch, which only changes by merging pull requests; "
                "name another branch, or leave the branch out to get a new one"
            )
        tip = self.repo.branch_sha(branch)
        if tip is None:
            _check_new_branch_name(branch)
            base_sha = self.repo.resolve(base) if base else self.head()
            return self._propose(
                branch=branch, base_sha=base_sha, changes=changes, message=message, author=author
            )

        def attempt() -> str:
            current = self.repo.require_branch(branch)
            tree = self.repo.tree_of(current)
            new_tree = self.repo.write_tree_changes(tree, changes)
            if new_tree == tree:
                raise NothingToChange(f"branch {branch!r} already holds that content")
            commit = self.repo.write_commit(
                tree_oid=new_tree, parents=[current], message=message, author=author
            )
            self.repo.update_ref(HEADS + branch, commit, current)
            return commit

        commit = retry_on_race(attempt, what=f"committing to {branch}")
        pull = self.provider.open_pull_for_branch(branch)
        return ChangeRequest(commit, self.provider.branch_url(branch), branch, pull)

    # -- releases ----------------------------------------------------------------------------

    def _claimed(self, element: Element) -> set[Version]:
        branches = self.repo.branches_under(release_branch_prefix(element.kind, element.uuid))
        return claimed_versions(set(branches), element.kind, element.uuid)

    def create_release(
        self,
        reference: str,
        author: Author,
        *,
        bump: Bump | None = None,
        version: str | None = None,
        description: str = "",
        message: str | None = None,
        progress: Progress = _quiet,
    ) -> ChangeRequest:
        """Propose a regular release of an element's working version on the default branch.

        `message` replaces the commit message's first line ("Release <name> <version>").
        """
        explicit = Version.parse(version) if version is not None else None
        if (bump is None) == (explicit is None):
            raise InvalidInput("choose exactly one of a bump (major, minor, patch) or a version")
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        return self._claim_release(
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
            progress=progress,
        )

    def _claim_release(
        self,
        element: Element,
        choose: Callable[[set[Version], set[Version]], Version],
        *,
        source: CommitSnapshot | None,
        title: str,
        description: str,
        author: Author,
        retry: bool,
        cleanup_branches: Mapping[str, str] | None = None,
        message: str | None = None,
        progress: Progress = _quiet,
    ) -> ChangeRequest:
        """Build the chosen version from `source` (the default branch when None) and propose it.

        Creating the release branch claims the version. When a racing writer claimed it first, a
        computed version (`retry`) is chosen again; a version the user gave is refused.
        """
        for _ in range(20):
            claimed = self._claimed(element)
            # Read main after the branches: a release merged meanwhile is then in one or the
            # other (its branch goes only after main moved), never hidden from both.
            main = self.snapshot()
            version = choose(set(releases_of(main, element.kind, element.uuid)), claimed)
            progress(f"building {element.name} {version}")
            artifact = self._build(element, source or main, version, description, author)
            try:
                return self._propose(
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

    def _build(
        self,
        element: Element,
        snapshot: CommitSnapshot,
        version: Version,
        description: str,
        author: Author,
        folder: str | None = None,
    ) -> bytes:
        files = snapshot.folder_files(folder or element.source_dir)
        return build_artifact(
            kind=element.kind,
            uuid=element.uuid,
            name=element.name,
            version=version,
            description=description,
            created_by=str(author),
            source_commit=snapshot.commit_sha,
            files=files,
            limits=self.limits,
        )

    def delete_release(self, reference: str, version: str, author: Author) -> ChangeRequest:
        """Propose removing a release; refused while a manifest pins exactly that version."""
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        release = get_release(snapshot, element, Version.parse(version))
        manifests, _ = load_manifests(snapshot, self._manifests)
        check_deletable(element.name, element.uuid, release.version, manifests)
        return self._propose(
            branch=f"mirel/delete/{element.kind.name}/{element.uuid}/{release.version}",
            base_sha=snapshot.commit_sha,
            changes={release.path: None},
            message=f"Delete release {element.name} {release.version}\n",
            author=author,
        )

    # -- manifests ---------------------------------------------------------------------------

    def create_manifest(self, name: str, author: Author) -> ChangeRequest:
        """Propose a new, empty manifest."""
        check_name(name, "manifest")
        snapshot = self.snapshot()
        if snapshot.entry(manifest_path(name)) is not None:
            raise ManifestExists(f"manifest {name!r} already exists; 'mirel manifest show {name}'")
        return self._write_manifests(
            snapshot, [Manifest.empty(name)], f"Create manifest {name}", author
        )

    def put_manifest(
        self, manifest: Manifest, author: Author, message: str | None = None
    ) -> ChangeRequest:
        """Propose creating or overwriting a whole manifest; every pin must resolve on main."""
        snapshot = self.snapshot()
        _, problems = resolve_manifest(
            manifest,
            self.elements(snapshot),
            lambda element: releases_of(snapshot, element.kind, element.uuid),
        )
        if problems:
            raise ManifestInvalid(problems)
        return self._write_manifests(
            snapshot, [manifest], message or f"Update manifest {manifest.name}", author
        )

    def delete_manifest(
        self, name: str, author: Author, message: str | None = None
    ) -> ChangeRequest:
        """Propose removing a manifest."""
        snapshot = self.snapshot()
        load_manifest(snapshot, name, self._manifests)
        return self._propose(
            branch=change_branch("manifest", name),
            base_sha=snapshot.commit_sha,
            changes={manifest_path(name): None},
            message=(message or f"Delete manifest {name}") + "\n",
            author=author,
        )

    def set_pin(
        self, name: str, reference: str, release: str, author: Author, message: str | None = None
    ) -> ChangeRequest:
        """Propose pinning one element in one manifest (the manifest is created if missing)."""
        return self.change_pins([(name, reference, release)], author, message)

    def unset_pin(
        self, name: str, reference: str, author: Author, message: str | None = None
    ) -> ChangeRequest:
        """Propose removing one element's pin from a manifest."""
        return self.change_pins([(name, reference, None)], author, message)

    def change_pins(
        self,
        changes: Sequence[tuple[str, str, str | None]],
        author: Author,
        message: str | None = None,
    ) -> ChangeRequest:
        """Propose many pin changes `(manifest, element, release or None to unpin)` in one branch.

        Every pin must name an element and a release on the default branch (or `latest`).
        """
        if not changes:
            raise InvalidInput("no changes given; list at least one pin to change")
        snapshot = self.snapshot()
        edited: dict[str, Manifest] = {}
        described: list[str] = []
        for manifest_name, reference, release in changes:
            check_name(manifest_name, "manifest")
            element = self.element(reference, snapshot)
            manifest = edited.get(manifest_name)
            if manifest is None:
                try:
                    manifest = load_manifest(snapshot, manifest_name, self._manifests)
                except ManifestNotFound:
                    if release is None:
                        raise
                    manifest = Manifest.empty(manifest_name)
            current = manifest.find(element.uuid)
            if release is None:
                if current is None:
                    raise NothingToChange(
                        f"manifest {manifest_name} does not pin {element.name}; nothing to unset"
                    )
                manifest = manifest.without_pin(element.uuid)
                described.append(f"{manifest_name}: unpin {element.name}")
            else:
                if release != LATEST:
                    get_release(snapshot, element, Version.parse(release))
                if current is not None and current[1].release == release:
                    raise NothingToChange(
                        f"manifest {manifest_name} already pins {element.name} at {release}"
                    )
                manifest = manifest.with_pin(element.kind, element.uuid, release)
                described.append(f"{manifest_name}: {element.name} -> {release}")
            edited[manifest_name] = manifest
        title = message or (
            f"Pin {described[0]}" if len(described) == 1 else f"Change {len(described)} pins"
        )
        body = "\n".join(f"- {line}" for line in described)
        return self._write_manifests(snapshot, list(edited.values()), title, author, body)

    def _write_manifests(
        self,
        snapshot: CommitSnapshot,
        manifests: Sequence[Manifest],
        title: str,
        author: Author,
        body: str = "",
    ) -> ChangeRequest:
        changes: dict[str, bytes | None] = {
            manifest_path(m.name): write_manifest(m).encode() for m in manifests
        }
        subject = manifests[0].name if len(manifests) == 1 else "several"
        return self._propose(
            branch=change_branch("manifest", subject),
            base_sha=snapshot.commit_sha,
            changes=changes,
            message=f"{title}\n\n{body}".rstrip() + "\n",
            author=author,
            description=body or title,
        )

    # -- hotfixes ----------------------------------------------------------------------------

    def create_hotfix(self, reference: str, version: str, author: Author) -> ChangeRequest:
        """Make the hotfix branch of a release's `X.Y` line, holding that line's newest files.

        A hotfix branch has no pull request of its own: its patch release does.
        """
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        requested = get_release(snapshot, element, Version.parse(version))
        released = releases_of(snapshot, element.kind, element.uuid)
        line = requested.version.line
        base = released[hotfix_base(element.name, line, set(released))]
        branch = hotfix_branch(element.kind, element.uuid, line)
        if self.repo.branch_sha(branch) is not None:
            raise HotfixBranchExists(self._hotfix_exists_message(element, line, branch))
        files = self._artifact_files(base.path, base.blob_oid)
        changes = self._replace_folder(element, files)
        try:
            return self._propose(
                branch=branch,
                base_sha=snapshot.commit_sha,
                changes=changes,
                message=f"Start hotfix {line} of {element.name} from {base.version}\n",
                author=author,
                open_pull_request=False,
            )
        except NothingToChange:
            # The working version is already that release: the branch starts at the tip itself.
            retry_on_race(
                lambda: self.repo.create_branch(branch, snapshot.commit_sha),
                what=f"creating {branch}",
            )
            return ChangeRequest(
                snapshot.commit_sha, self.provider.branch_url(branch), branch, None
            )
        except BranchExists as error:
            raise HotfixBranchExists(self._hotfix_exists_message(element, line, branch)) from error

    @staticmethod
    def _hotfix_exists_message(element: Element, line: Line, branch: str) -> str:
        return (
            f"{element.name} already has a hotfix for {line} on branch {branch}; "
            "release or close it first"
        )

    def _hotfix(
        self, reference: str, line_text: str
    ) -> tuple[Element, HotfixBranch, CommitSnapshot]:
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        line = Line.parse(line_text)
        branch = hotfix_branch(element.kind, element.uuid, line)
        if self.repo.branch_sha(branch) is None:
            raise HotfixNotFound(
                f"{element.name} has no open hotfix for {line}; "
                f"start one with 'mirel hotfix create {element.name} {line}.0'"
            )
        return element, HotfixBranch(branch, element.kind, element.uuid, line), snapshot

    def next_hotfix_version(self, reference: str, line_text: str) -> str:
        """Return the version the patch release of an open hotfix would get now."""
        element, hotfix, snapshot = self._hotfix(reference, line_text)
        released = set(releases_of(snapshot, element.kind, element.uuid))
        return str(next_patch(hotfix.line, released, self._claimed(element)))

    def release_hotfix(
        self, reference: str, line_text: str, author: Author, description: str = ""
    ) -> ChangeRequest:
        """Propose the patch release of a hotfix: `X.Y.(P+1)` built from the hotfix branch.

        Its pull request adds only the artifact to the default branch; the hotfix branch goes
        away when it merges.
        """
        element, hotfix, _ = self._hotfix(reference, line_text)
        hotfix_snapshot = self.snapshot(HEADS + hotfix.branch)
        if hotfix_snapshot.entry(element.source_dir) is None:
            raise ElementNotFound(f"{element.source_dir} is missing on {hotfix.branch}")
        return self._claim_release(
            element,
            lambda released, claimed: next_patch(hotfix.line, released, claimed),
            source=hotfix_snapshot,
            title=f"Release {element.name} (hotfix)",
            description=description,
            author=author,
            retry=True,
            cleanup_branches={hotfix.branch: hotfix_snapshot.commit_sha},
        )

    def close_hotfix(self, reference: str, line_text: str) -> dict[str, object]:
        """Delete a hotfix branch and return what was removed."""
        element, hotfix, _ = self._hotfix(reference, line_text)
        sha = self.repo.branch_sha(hotfix.branch)
        self.repo.delete_ref(HEADS + hotfix.branch, sha)
        return {
            "branch_name": hotfix.branch,
            "commit_sha": sha,
            "element_uuid": element.uuid,
            "line": str(hotfix.line),
            "closed": True,
        }
