"""Acceptance 3 of issue 9: whatever is proposed and merged, in whatever order, the default branch
stays valid, and every refused merge changes no reference.

A Hypothesis state machine proposes pins, unpins, release deletions, new releases, new and
deleted manifests on a small repository, keeps the pull requests open, and merges or closes them
in random order. After every step `mirel validate` finds nothing on the default branch.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
)

from mirel.core.versions import Bump
from mirel.errors import MergeConflict, MergeRefused, MirelError
from mirel.hub import ChangeRequest, Hub
from mirel.providers.base import PullState
from support import AUTHOR, add_element, merge, refs, release

# Few names, so that proposals often touch the same things and conflict in meaning.
ELEMENTS = ("alpha", "beta")
MANIFESTS = ("dev", "prod")
RELEASES = ("latest", "0.1.0", "0.2.0")


class Proposals(RuleBasedStateMachine):
    """Random proposals and merges on one repository."""

    pulls = Bundle("pulls")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="mirel-gate-"))
        self.hub = Hub.init(self.folder / "hub.git", AUTHOR)
        for name in ELEMENTS:
            add_element(self.hub, "app", name)
            release(self.hub, name, "0.1.0")
            release(self.hub, name, "0.2.0")
        merge(self.hub, self.hub.manifests.set_pin("dev", "alpha", "0.1.0", AUTHOR))

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _opened(self, propose: Callable[[], ChangeRequest]) -> MultipleResults[int]:
        """Return the pull request a proposal opened (none when it was refused)."""
        try:
            change = propose()
        except MirelError:
            return multiple()  # refused when proposed: nothing to merge
        assert change.pull_request is not None
        return multiple(change.pull_request.number)

    @rule(
        target=pulls,
        manifest=st.sampled_from(MANIFESTS),
        element=st.sampled_from(ELEMENTS),
        version=st.sampled_from(RELEASES),
    )
    def pin(self, manifest: str, element: str, version: str) -> MultipleResults[int]:
        return self._opened(lambda: self.hub.manifests.set_pin(manifest, element, version, AUTHOR))

    @rule(target=pulls, manifest=st.sampled_from(MANIFESTS), element=st.sampled_from(ELEMENTS))
    def unpin(self, manifest: str, element: str) -> MultipleResults[int]:
        return self._opened(lambda: self.hub.manifests.unset_pin(manifest, element, AUTHOR))

    @rule(target=pulls, element=st.sampled_from(ELEMENTS), version=st.sampled_from(RELEASES[1:]))
    def delete_release(self, element: str, version: str) -> MultipleResults[int]:
        return self._opened(lambda: self.hub.releases.delete(element, version, AUTHOR))

    @rule(
        target=pulls,
        element=st.sampled_from(ELEMENTS),
        bump=st.sampled_from(list(Bump)),
        allow_same=st.booleans(),
    )
    def create_release(self, element: str, bump: Bump, allow_same: bool) -> MultipleResults[int]:
        return self._opened(
            lambda: self.hub.releases.create(element, AUTHOR, bump=bump, allow_same=allow_same)
        )

    @rule(target=pulls, element=st.sampled_from(ELEMENTS), text=st.sampled_from("abc"))
    def edit_source(self, element: str, text: str) -> MultipleResults[int]:
        files = {"main.rsx": f"<App text='{text}'/>\n".encode()}
        return self._opened(lambda: self.hub.elements.push(element, files, AUTHOR))

    @rule(target=pulls, manifest=st.sampled_from(MANIFESTS))
    def create_manifest(self, manifest: str) -> MultipleResults[int]:
        return self._opened(lambda: self.hub.manifests.create(manifest, AUTHOR))

    @rule(target=pulls, manifest=st.sampled_from(MANIFESTS))
    def delete_manifest(self, manifest: str) -> MultipleResults[int]:
        return self._opened(lambda: self.hub.manifests.delete(manifest, AUTHOR))

    @rule(number=pulls)
    def merge_one(self, number: int) -> None:
        before = refs(self.hub.repo.path)
        try:
            self.hub.pulls.merge(number, AUTHOR)
        except (MergeRefused, MergeConflict):
            assert refs(self.hub.repo.path) == before, "a refused merge moved a reference"
            assert self.hub.pulls.get(number).state in (PullState.OPEN, PullState.CONFLICTING)
        except MirelError:
            pass  # merged or closed already

    @rule(number=pulls)
    def close_one(self, number: int) -> None:
        with contextlib.suppress(MirelError):  # merged or closed already
            self.hub.pulls.close(number, AUTHOR)

    @invariant()
    def the_default_branch_is_valid(self) -> None:
        assert self.hub.catalog.validate() == []


Proposals.TestCase.settings = settings(max_examples=60, stateful_step_count=25)
TestProposals = Proposals.TestCase
