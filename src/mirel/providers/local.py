"""The `local` provider: a bare repository that keeps its own pull requests.

Pull request `n` lives in the repository itself, so every process that opens the repository sees
the same pull requests with no other server:

- `refs/mirel/pulls/<n>/meta` points to a commit whose tree holds `pull.json`; each change of the
  pull request (merge, close) is a new commit on top, so the ref is also its history;
- `refs/mirel/pulls/<n>/head` points to the head commit, so the diff stays readable after the
  head branch is deleted;
- `refs/mirel/instances/<key>` points to a commit holding `instance.json`, what one instance
  reported it serves after its last deploy (`key` is derived from the instance's name).

Numbers are allocated by creating the `meta` ref, which fails if another process took the number
first; every later update is a compare-and-swap on that ref.

Merging is a real three-way merge into the default branch, published with a compare-and-swap on
the branch (retried when another merge got there first). It then deletes the head branch and calls
the deploy hooks registered on the repository (best effort: instances also poll).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from mirel.errors import (
    InvalidInput,
    MergeConflict,
    MirelError,
    PullRequestChanged,
    PullRequestNotFound,
    PullRequestNotOpen,
    RefRaced,
)
from mirel.git.repository import HEADS, Author, GitRepository, retry_on_race
from mirel.providers.base import FileDiff, InstanceReport, PullRequest, PullState

log = logging.getLogger(__name__)

PULLS = "refs/mirel/pulls/"
BRANCH_PULLS = "refs/mirel/branch-pulls/"
INSTANCE_REPORTS = "refs/mirel/instances/"
HOOKS_FILE = "mirel-deploy-hooks.json"
_PROVIDER_AUTHOR = Author("mirel", "mirel@localhost")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


SIGNATURE_HEADER = "X-Mirel-Signature"


def _is_web_url(text: str) -> bool:
    return re.fullmatch(r"https?://[^\s<>\"']+", text) is not None


def sign(body: bytes, secret: str) -> str:
    """Return the signature header value of a webhook body: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeployHooks:
    """URLs to notify after a merge, each with an optional signing secret.

    They are stored in the bare repository's folder, so every process sharing it calls them.
    """

    def __init__(self, git_dir: Path) -> None:
        self._file = git_dir / HOOKS_FILE

    def _entries(self) -> list[dict[str, str]]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise InvalidInput(f"{self._file} is not valid JSON; remove or fix it") from error
        hooks = data.get("hooks", []) if isinstance(data, dict) else []
        return [
            hook for hook in hooks if isinstance(hook, dict) and isinstance(hook.get("url"), str)
        ]

    def urls(self) -> list[str]:
        """Return the registered hook URLs."""
        return [hook["url"] for hook in self._entries()]

    def add(self, url: str, secret: str | None = None) -> list[str]:
        """Register a hook URL (replacing its secret if it was there) and return the URLs."""
        if not re.fullmatch(r"https?://[^\s]+", url):
            raise InvalidInput(f"{url!r} is not an http(s) URL")
        entry = {"url": url, **({"secret": secret} if secret else {})}
        hooks = [hook for hook in self._entries() if hook["url"] != url] + [entry]
        self._write(hooks)
        return [hook["url"] for hook in hooks]

    def remove(self, url: str) -> list[str]:
        """Unregister a hook URL and return the URLs."""
        hooks = [hook for hook in self._entries() if hook["url"] != url]
        self._write(hooks)
        return [hook["url"] for hook in hooks]

    def _write(self, hooks: list[dict[str, str]]) -> None:
        # Write a new file and rename it over the old one, so readers never see half a file.
        handle, temporary = tempfile.mkstemp(dir=self._file.parent, prefix=".hooks-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"hooks": hooks}, stream, indent=2)
        os.replace(temporary, self._file)

    def notify(self, event: dict[str, object]) -> None:
        """POST `event` to every hook (signed when it has a secret); failures are only logged."""
        body = json.dumps(event).encode()
        try:
            hooks = self._entries()
        except MirelError as error:
            # The merge is done; a broken hooks file must not make it look failed.
            log.warning("deploy hooks not called: %s", error)
            return
        for hook in hooks:
            headers = {"Content-Type": "application/json"}
            if hook.get("secret"):
                headers[SIGNATURE_HEADER] = sign(body, hook["secret"])
            try:
                httpx.post(hook["url"], content=body, headers=headers, timeout=3.0)
            except httpx.HTTPError as error:
                log.warning("deploy hook %s failed: %s", hook["url"], error)


class LocalProvider:
    """Pull requests stored inside the bare repository itself."""

    name = "local"

    def __init__(self, repository: GitRepository, web_url: str | None = None) -> None:
        self.repository = repository
        self.hooks = DeployHooks(repository.git_dir)
        # When a server shows this repository, links point to its pages instead of file URLs.
        self._web_url = web_url.rstrip("/") if web_url else None
        # Reports are read by blob id: a blob never changes, so its parse is kept.
        self._reports: dict[str, InstanceReport] = {}

    # -- urls --------------------------------------------------------------------------------

    def branch_url(self, branch: str) -> str:
        """Return where a person can see a branch."""
        if self._web_url:
            return f"{self._web_url}/branches/{quote(branch, safe='/')}"
        return f"file://{self.repository.path}#branch={branch}"

    def pull_url(self, number: int) -> str:
        """Return where a person can see a pull request."""
        if self._web_url:
            return f"{self._web_url}/pulls/{number}"
        return f"file://{self.repository.path}#pull={number}"

    # -- storage -----------------------------------------------------------------------------

    def _meta_ref(self, number: int) -> str:
        return f"{PULLS}{number}/meta"

    def _head_ref(self, number: int) -> str:
        return f"{PULLS}{number}/head"

    def _exists(self, number: int) -> bool:
        return self.repository.ref_sha(self._meta_ref(number)) is not None

    def _highest_number(self) -> int:
        """Return the highest pull request number (0 when there is none).

        Numbers are handed out one after the other and never removed, so the highest is found by
        doubling then bisecting over ref lookups: O(log n), whatever the number of pull requests.
        """
        high = 1
        while self._exists(high):
            high *= 2
        low = high // 2  # exists (or 0)
        while high - low > 1:
            middle = (low + high) // 2
            if self._exists(middle):
                low = middle
            else:
                high = middle
        return low

    def _numbers(self) -> range:
        """Return every pull request number, newest first."""
        return range(self._highest_number(), 0, -1)

    def _read(self, number: int) -> tuple[dict[str, Any], str]:
        meta_sha = self.repository.ref_sha(self._meta_ref(number))
        if meta_sha is None:
            raise PullRequestNotFound(
                f"there is no pull request #{number}; 'mirel pr list' shows them"
            )
        tree = self.repository.tree_of(meta_sha)
        entry = self.repository.entry_at(tree, "pull.json")
        if entry is None:
            raise PullRequestNotFound(f"pull request #{number} has no record")
        return json.loads(self.repository.read_blob(entry.oid)), meta_sha

    def _write_record(self, record: dict[str, Any], parent: str | None) -> str:
        blob = json.dumps(record, indent=2, sort_keys=True).encode() + b"\n"
        tree = self.repository.write_tree_changes(None, {"pull.json": blob})
        return self.repository.write_commit(
            tree_oid=tree,
            parents=[parent] if parent else [],
            message=f"pull request #{record['number']}: {record['state']}",
            author=_PROVIDER_AUTHOR,
        )

    def _update(
        self, number: int, changes: dict[str, Any], from_states: tuple[PullState, ...]
    ) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            record, meta_sha = self._read(number)
            # Checked again under the compare-and-swap: another process may have merged or closed
            # the pull request since the caller first looked.
            if record["state"] not in from_states:
                raise PullRequestNotOpen(f"pull request #{number} is already {record['state']}")
            record.update(changes, updated_at=_now())
            self.repository.update_ref(
                self._meta_ref(number), self._write_record(record, meta_sha), meta_sha
            )
            return record

        return retry_on_race(attempt, what=f"updating pull request #{number}")

    def _to_pull(self, record: dict[str, Any], *, with_conflicts: bool) -> PullRequest:
        state = PullState(record["state"])
        head_sha = record["head_sha"]
        conflicts: tuple[str, ...] = ()
        if state is PullState.OPEN:
            head_sha = self.repository.branch_sha(record["head_branch"]) or head_sha
            if with_conflicts:
                conflicts = tuple(self._conflicts(record["base_branch"], head_sha))
                if conflicts:
                    state = PullState.CONFLICTING
        return PullRequest(
            number=record["number"],
            title=record["title"],
            description=record["description"],
            author=record["author"],
            head_branch=record["head_branch"],
            base_branch=record["base_branch"],
            state=state,
            created_at=record["created_at"],
            updated_at=record["updated_at"],
            head_sha=head_sha,
            base_sha=record["base_sha"],
            url=self.pull_url(record["number"]),
            merge_commit_sha=record.get("merge_commit_sha"),
            merged_by=record.get("merged_by"),
            closed_by=record.get("closed_by"),
            cleanup_branches=tuple(record.get("cleanup_branches", ())),
            conflicts=conflicts,
        )

    def _conflicts(self, base_branch: str, head_sha: str) -> list[str]:
        base_sha = self.repository.branch_sha(base_branch)
        if base_sha is None or self.repository.is_ancestor(head_sha, base_sha):
            return []
        _, conflicts = self.repository.merge_trees(base_sha, head_sha)
        return conflicts

    # -- the Provider calls ------------------------------------------------------------------

    def create_pull_request(
        self,
        *,
        head_branch: str,
        title: str,
        description: str,
        author: Author,
        cleanup_branches: Mapping[str, str] | None = None,
    ) -> PullRequest:
        """Open a pull request of `head_branch` into the default branch and return it.

        `cleanup_branches` maps branches to remove when it merges to the commit each must still
        contain: a hotfix branch closed and started again meanwhile is a new line of work and stays.
        """
        head_sha = self.repository.require_branch(head_branch)
        base_branch = self.repository.default_branch
        base_sha = self.repository.require_branch(base_branch)
        created = _now()
        for _ in range(1000):
            number = self._highest_number() + 1
            record = {
                "number": number,
                "title": title,
                "description": description,
                "author": str(author),
                "head_branch": head_branch,
                "base_branch": base_branch,
                "state": str(PullState.OPEN),
                "created_at": created,
                "updated_at": created,
                "head_sha": head_sha,
                "base_sha": base_sha,
                "merge_commit_sha": None,
                "merged_by": None,
                "closed_by": None,
                "cleanup_branches": sorted(cleanup_branches or {}),
                "cleanup_from": dict(cleanup_branches or {}),
            }
            try:
                # Creating the meta ref claims the number; a racing writer gets the next one.
                self.repository.create_ref(self._meta_ref(number), self._write_record(record, None))
            except RefRaced:
                time.sleep(0.002)
                continue
            self.repository.create_ref(self._head_ref(number), head_sha)
            self._index_branch(head_branch, number)
            return self._to_pull(record, with_conflicts=False)
        raise PullRequestNotOpen("could not allocate a pull request number; try again")

    def get(self, number: int) -> PullRequest:
        """Return one pull request with its current state (conflicts checked when open)."""
        record, _ = self._read(number)
        return self._to_pull(record, with_conflicts=True)

    def list_pulls(
        self,
        state: PullState | None = None,
        limit: int | None = None,
        *,
        before: int | None = None,
        conflicts: bool = True,
    ) -> list[PullRequest]:
        """Return at most `limit` pull requests, newest first, optionally of one state.

        `before` starts below that number (the next page); without `conflicts`, open pull
        requests are not test-merged, which costs a merge each.
        """
        pulls: list[PullRequest] = []
        numbers = self._numbers()
        if before is not None:
            numbers = range(min(numbers.start, before - 1), 0, -1)
        for number in numbers:
            if limit is not None and len(pulls) >= limit:
                break
            record, _ = self._read(number)
            pull = self._to_pull(
                record, with_conflicts=conflicts and record["state"] == PullState.OPEN
            )
            if (
                state is None
                or pull.state is state
                or (state is PullState.OPEN and pull.state is PullState.CONFLICTING)
            ):
                pulls.append(pull)
        return pulls

    def _branch_ref(self, branch: str) -> str:
        return f"{BRANCH_PULLS}{branch}"

    def _index_branch(self, branch: str, number: int) -> None:
        # branch -> open pull request, so finding it reads one ref instead of every record. It
        # mirrors the open head branches, so it can never clash where the branches do not.
        meta = self.repository.ref_sha(self._meta_ref(number))
        try:
            if meta is not None:
                self.repository.create_ref(self._branch_ref(branch), meta)
        except (RefRaced, MirelError) as error:
            log.warning("pull request #%s is not indexed by branch %s: %s", number, branch, error)

    def open_pull_for_branch(self, branch: str) -> PullRequest | None:
        """Return the open pull request whose head is `branch`, if any (one ref lookup)."""
        first_meta = self.repository.ref_sha(self._branch_ref(branch))
        if first_meta is None:
            return None
        tree = self.repository.tree_of(first_meta)
        entry = self.repository.entry_at(tree, "pull.json")
        if entry is None:
            return None
        number = json.loads(self.repository.read_blob(entry.oid))["number"]
        record, _ = self._read(number)
        if record["head_branch"] == branch and record["state"] == PullState.OPEN:
            return self._to_pull(record, with_conflicts=False)
        return None

    def diff(self, number: int) -> list[FileDiff]:
        """Return the files a pull request changes against where it branched off, with diffs."""
        pull = self.get(number)
        repo = self.repository
        if pull.merge_commit_sha and pull.state is PullState.MERGED:
            parents = repo.commit(pull.merge_commit_sha).parents
            base_tip = parents[0] if parents else pull.base_sha
        else:
            base_tip = repo.branch_sha(pull.base_branch) or pull.base_sha
        base = repo.merge_base(base_tip, pull.head_sha) or pull.base_sha
        return [
            FileDiff(path=change.path, status=change.status, patch=text)
            for change, text in repo.patches(repo.tree_of(base), repo.tree_of(pull.head_sha))
        ]

    def merge(self, number: int, author: Author, expected_head: str | None = None) -> PullRequest:
        """Merge a pull request into the default branch; raise MergeConflict naming paths.

        With `expected_head` (the head its reviewer saw), a branch that moved since is refused.
        """
        repo = self.repository
        record, _ = self._read(number)
        if record["state"] != PullState.OPEN:
            raise PullRequestNotOpen(f"pull request #{number} is already {record['state']}")
        head_sha = repo.branch_sha(record["head_branch"]) or record["head_sha"]
        if expected_head is not None and head_sha != expected_head:
            raise PullRequestChanged(
                f"pull request #{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        base_branch = record["base_branch"]

        def attempt() -> str:
            base_sha = repo.require_branch(base_branch)
            if repo.is_ancestor(head_sha, base_sha):
                return base_sha  # merged already (by a racing process, or a crash after it)
            tree, conflicts = repo.merge_trees(base_sha, head_sha)
            if tree is None:
                raise MergeConflict(number, conflicts)
            merge_sha = repo.write_commit(
                tree_oid=tree,
                parents=[base_sha, head_sha],
                message=f"Merge pull request #{number} from {record['head_branch']}\n\n"
                f"{record['title']}\n",
                author=author,
            )
            repo.update_ref(HEADS + base_branch, merge_sha, base_sha)
            return merge_sha

        merge_sha = retry_on_race(attempt, what=f"merging pull request #{number}")
        try:
            # The change is on the default branch now, so a close that raced us is overridden.
            record = self._update(
                number,
                {
                    "state": str(PullState.MERGED),
                    "merge_commit_sha": merge_sha,
                    "merged_by": str(author),
                    "head_sha": head_sha,
                },
                from_states=(PullState.OPEN, PullState.CLOSED),
            )
        except PullRequestNotOpen:
            # Another process merged it first: its record (and its deploy) stands.
            record, _ = self._read(number)
            return self._to_pull(record, with_conflicts=False)
        self._finish(number, record, head_sha, cleanup=True)
        self.hooks.notify(
            {
                "event": "merge",
                "repository": str(repo.path),
                "branch": base_branch,
                "commit_sha": merge_sha,
                "pull_request": number,
            }
        )
        return self._to_pull(record, with_conflicts=False)

    def close(self, number: int, author: Author) -> PullRequest:
        """Close a pull request without merging; its head branch is deleted."""
        record, _ = self._read(number)
        if record["state"] != PullState.OPEN:
            raise PullRequestNotOpen(f"pull request #{number} is already {record['state']}")
        head_sha = self.repository.branch_sha(record["head_branch"]) or record["head_sha"]
        record = self._update(
            number,
            {"state": str(PullState.CLOSED), "closed_by": str(author), "head_sha": head_sha},
            from_states=(PullState.OPEN,),
        )
        # A closed patch-release pull request leaves its hotfix branch open for another try.
        self._finish(number, record, head_sha, cleanup=False)
        return self._to_pull(record, with_conflicts=False)

    def _finish(self, number: int, record: dict[str, Any], head_sha: str, *, cleanup: bool) -> None:
        repo = self.repository
        with contextlib.suppress(RefRaced):
            repo.update_ref(
                self._head_ref(number), head_sha, repo.ref_sha(self._head_ref(number)) or ""
            )
        # The head branch goes only if nobody committed to it meanwhile.
        repo.delete_ref(HEADS + record["head_branch"], head_sha)
        repo.delete_ref(self._branch_ref(record["head_branch"]))
        if cleanup:
            required: dict[str, str] = record.get("cleanup_from", {})
            for branch in record.get("cleanup_branches", ()):
                tip = repo.branch_sha(branch)
                if tip is not None and (
                    branch not in required or repo.is_ancestor(required[branch], tip)
                ):
                    repo.delete_ref(HEADS + branch, tip)

    # -- instance reports --------------------------------------------------------------------

    @staticmethod
    def _report_ref(name: str) -> str:
        # Instance names are display names (any text); the ref needs a safe, stable key.
        return INSTANCE_REPORTS + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:24]

    def report_instance(self, report: InstanceReport) -> None:
        """Record what an instance serves now, replacing its previous report."""
        repo = self.repository
        blob = json.dumps(report.to_json(), indent=1, sort_keys=True).encode() + b"\n"
        tree = repo.write_tree_changes(None, {"instance.json": blob})
        commit = repo.write_commit(
            tree_oid=tree,
            parents=[],
            message=f"instance {report.name}: {report.status} at {report.commit_sha}",
            author=_PROVIDER_AUTHOR,
        )
        ref = self._report_ref(report.name)

        def attempt() -> None:
            current = repo.ref_sha(ref)
            if current is None:
                repo.create_ref(ref, commit)
            else:
                repo.update_ref(ref, commit, current)

        retry_on_race(attempt, what=f"reporting instance {report.name}")

    def instance_reports(self) -> list[InstanceReport]:
        """Return the latest report of every instance, by name (unreadable ones are skipped)."""
        found: list[InstanceReport] = []
        kept: dict[str, InstanceReport] = {}
        for ref, sha in self.repository.refs_under(INSTANCE_REPORTS).items():
            entry = self.repository.entry_at(self.repository.tree_of(sha), "instance.json")
            if entry is None:
                continue
            report = self._reports.get(entry.oid)
            if report is None:
                try:
                    data = json.loads(self.repository.read_blob(entry.oid))
                    url = data.get("url")
                    report = InstanceReport(
                        name=str(data["name"]),
                        # Shown as a link: only a web address, whatever a ref was made to hold.
                        url=url if isinstance(url, str) and _is_web_url(url) else None,
                        manifest=data.get("manifest"),
                        commit_sha=data.get("commit_sha"),
                        status=str(data.get("status", "")),
                        reported_at=str(data.get("reported_at", "")),
                        live={str(k): str(v) for k, v in dict(data.get("live", {})).items()},
                    )
                except (ValueError, KeyError, TypeError) as error:
                    log.warning("instance report %s cannot be read: %s", ref, error)
                    continue
            kept[entry.oid] = report
            found.append(report)
        self._reports = kept  # only the current reports: old ones would pile up with each deploy
        return sorted(found, key=lambda report: report.name)
