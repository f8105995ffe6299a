"""The pull request pages: a page of them by state, and one with its plan, problems and diff."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mirel.errors import Problem
from mirel.hub import Hub
from mirel.hub.compare import pull_release_diffs
from mirel.hub.values import ReleaseDiff
from mirel.providers.base import FileDiff, PullRequest, PullState
from mirel.web.views.plans import PlanView, plan_view

PULLS_PAGE = 50
STATES = ("open", "merged", "closed", "all")


@dataclass(frozen=True)
class PullList:
    """Pull requests of one state (or all), newest first, one page of them."""

    pulls: list[PullRequest]
    state: str  # one of STATES
    older: int | None  # the number the next page starts below, when there is one
    states: tuple[str, ...] = STATES


def pull_list(hub: Hub, state: str, before: int | None) -> PullList:
    """Return the pull requests of `state` (anything else: open) numbered below `before`."""
    chosen = state if state in STATES else "open"
    found = hub.pulls.list(
        None if chosen == "all" else PullState(chosen),
        PULLS_PAGE + 1,
        before=before,
        conflicts=False,
    )
    older = found[PULLS_PAGE - 1].number if len(found) > PULLS_PAGE else None
    return PullList(pulls=found[:PULLS_PAGE], state=chosen, older=older)


@dataclass(frozen=True)
class PullPage:
    """One pull request: what it would do on each instance, what would refuse its merge, the
    source of the releases it adds, and the files it changes."""

    pull: PullRequest
    diff: tuple[FileDiff, ...]
    problems: tuple[Problem, ...]  # what the merge gate would refuse (or did, just now)
    plan: PlanView | None  # None when it is not open, or conflicts
    releases: list[ReleaseDiff]  # each release it adds against the one before on its line

    @property
    def mergeable(self) -> bool:
        """Return whether Merge is offered: open, no conflict, no problem."""
        return self.pull.state is PullState.OPEN and not self.problems


def pull_page(hub: Hub, number: int, refused: Sequence[Problem] | None = None) -> PullPage:
    """Return one pull request with everything needed to decide on it; `refused` are the
    problems of a merge the gate just refused (shown in place of those found now). Raise
    PullRequestNotFound."""
    review = hub.plans.review(number)
    return PullPage(
        pull=review.pull,
        diff=review.diff,
        problems=tuple(refused) if refused is not None else review.problems,
        plan=plan_view(hub, review.plan) if review.plan is not None else None,
        releases=pull_release_diffs(hub.catalog, review.pull, review.diff),
    )
