"""Changes to element sources: putting a folder under source control, new content, one file."""

from __future__ import annotations

import json
import uuid as uuid_module
from collections.abc import Mapping

from mirel.core.catalog import METADATA, Element, load_element
from mirel.core.kinds import ElementKind
from mirel.core.names import check_name, is_valid_uuid
from mirel.core.rules import check_new_branch_name, element_branch, update_branch
from mirel.errors import ElementExists, ElementNotFound, InvalidInput, NotFound
from mirel.git.repository import HEADS, Author, GitRepository, check_repo_path
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.hub.propose import BranchWriter, Changes
from mirel.hub.values import ChangeRequest

_Metadata = dict[str, object]  # a metadata.json document: any JSON object


def _metadata_for(kind: ElementKind, name: str, raw: bytes | None) -> _Metadata:
    """Return an element's metadata.json: `raw` (if any) with its uuid checked or made and its
    name set; raise InvalidInput for a file that is not a JSON object or holds a bad uuid."""
    metadata: _Metadata = {}
    if raw is not None:
        try:
            loaded = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise InvalidInput(f"{METADATA} is not valid JSON: {error}") from error
        except RecursionError as error:
            raise InvalidInput(f"{METADATA} nests too deep to be read") from error
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


def replace_folder(
    repository: GitRepository, element: Element, files: Mapping[str, bytes]
) -> dict[str, bytes | None]:
    """Return the changes that make the element's folder hold exactly `files`."""
    folder = element.source_dir
    changes: dict[str, bytes | None] = {
        f"{folder}/{path}": None for path, _ in repository.walk_files(element.tree_oid)
    }
    changes.update({f"{folder}/{path}": content for path, content in files.items()})
    return changes


class ElementChanges:
    """Proposes changes to element sources."""

    def __init__(self, catalog: Catalog, branches: BranchWriter) -> None:
        self._catalog = catalog
        self._branches = branches

    def add(
        self, kind: ElementKind, name: str, files: Mapping[str, bytes], author: Author
    ) -> ChangeRequest:
        """Propose a new element from a folder's files; its uuid is new unless metadata has one."""
        check_name(name, "element")
        snapshot = self._catalog.snapshot()
        if snapshot.entry(kind.source_dir(name)) is not None:
            raise ElementExists(f"{kind.source_dir(name)} already exists on the default branch")
        metadata = _metadata_for(kind, name, files.get(METADATA))
        element_uuid = str(metadata[kind.uuid_field])
        if any(element.uuid == element_uuid for element in self._catalog.elements(snapshot)):
            raise ElementExists(
                f"uuid {element_uuid} from {METADATA} is already used by another element; "
                "remove it from the file to get a new one"
            )
        source = {**files, METADATA: json.dumps(metadata, indent=2).encode() + b"\n"}
        changes = {f"{kind.source_dir(name)}/{path}": content for path, content in source.items()}
        return self._branches.propose(
            branch=element_branch(kind, element_uuid),
            base_sha=snapshot.commit_sha,
            changes=changes,
            message=f"Add {kind.name} {name}\n",
            author=author,
        )

    def push(
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
        main = self._catalog.snapshot()
        element = self._catalog.element(reference, main)
        repo = self._catalog.repo
        if branch is not None and repo.branch_sha(branch) is not None:
            target = self._catalog.snapshot(HEADS + branch)
            on_branch = self._on(target, element, branch)
            return self._branches.commit(
                branch,
                self._folder_changes(target, on_branch, files),
                message or f"Update {element.name}\n",
                author,
            )
        if branch is not None:
            check_new_branch_name(branch, self._catalog.default_branch)
        return self._branches.propose(
            branch=branch or update_branch(element.kind, element.name),
            base_sha=main.commit_sha,
            changes=self._folder_changes(main, element, files),
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
        element = self._catalog.element(reference)
        exists = branch is not None and self._catalog.repo.branch_sha(branch) is not None
        source = self._catalog.snapshot(HEADS + branch if exists and branch else None)
        on_source = self._on(source, element, branch)
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
        return self.push(
            element.uuid,
            files,
            author,
            branch=branch,
            message=message or f"{verb} {relative} of {element.name}\n",
        )

    @staticmethod
    def _on(snapshot: CommitSnapshot, element: Element, branch: str | None) -> Element:
        """Return the element as a branch's snapshot holds it; raise ElementNotFound."""
        found = load_element(snapshot, element.kind, element.name)
        if found is None or found.uuid != element.uuid:
            raise ElementNotFound(f"{element.name} is not on branch {branch!r}")
        return found

    def _folder_changes(
        self, snapshot: CommitSnapshot, element: Element, files: Mapping[str, bytes]
    ) -> Changes:
        """Return the changes that make an element's folder hold `files` (its metadata.json
        kept when `files` lacks one, and checked to name the same element when present)."""
        new_files = dict(files)
        raw = new_files.get(METADATA)
        if raw is None:
            new_files[METADATA] = snapshot.read(f"{element.source_dir}/{METADATA}") or b""
        else:
            metadata = _metadata_for(element.kind, element.name, raw)
            if metadata[element.kind.uuid_field] != element.uuid:
                raise InvalidInput(
                    f"{METADATA} in the folder names uuid {metadata[element.kind.uuid_field]}, "
                    f"but {element.name} is {element.uuid}; push the folder of the same element"
                )
        return replace_folder(self._catalog.repo, element, new_files)
