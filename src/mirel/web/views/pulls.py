"""The pull request pages: a page of them by state, and one with its diff."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.hub import Hub
from mirel.providers.base import FileDiff, PullRequest, PullState

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
    """One pull request and the files it changes."""

    pull: PullRequest
    diff: list[FileDiff]


def pull_page(hub: Hub, number: int) -> PullPage:
    """Return one pull request with its diff; raise PullRequestNotFound."""
    return PullPage(hub.pulls.get(number), hub.pulls.diff(number))
