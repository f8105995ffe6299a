"""What interrupted writes leave behind, finished or released by the next command that meets it.

A write of mirel is a few reference updates in a row; a process killed between two of them leaves
a state no command makes on purpose:
- a branch of mirel's own (a release, a deletion, a new element, a pin...) without an open pull
  request: a claim nobody can see, which would hold its version for ever. It is released (the
  branch removed at the commit it holds);
- a merge or a close cut short: the provider finishes it (`Provider.open_pull_for_branch` and
  `Provider.repair`).
Hotfix branches are mirel's too, but live without a pull request by design: they are never touched.
The local provider makes a branch and its pull request in one reference transaction, so with it
such a claim only comes from an older mirel, or from a branch pushed by hand with that name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mirel.core.rules import BRANCH_PREFIX, HOTFIX_PREFIX
from mirel.git.repository import GitRepository
from mirel.providers.base import Provider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repair:
    """One thing `mirel repair` finished or released."""

    subject: str  # a branch or a pull request
    action: str


def is_claim(branch: str) -> bool:
    """Return whether `branch` is one of mirel's that must always have an open pull request."""
    return branch.startswith(BRANCH_PREFIX) and not branch.startswith(HOTFIX_PREFIX)


class Leftovers:
    """Finds and settles what interrupted writes left in one repository."""

    def __init__(self, repository: GitRepository, provider: Provider) -> None:
        self.repo = repository
        self.provider = provider

    def release(self, branch: str) -> bool:
        """Remove `branch` if it is a claim of mirel's without an open pull request (after the
        provider finished a merge or close cut short); return whether it was removed."""
        if not is_claim(branch):
            return False
        tip = self.repo.branch_sha(branch)
        if tip is None or self.provider.open_pull_for_branch(branch) is not None:
            return False
        # At the commit it held (a branch made again meanwhile is someone's new claim), and only
        # if its writer is not opening its pull request at this very moment.
        released = self.provider.release_claim(branch, tip)
        if released:
            log.warning(
                "released %s: a claim without a pull request, left by an interrupted command",
                branch,
            )
        return released

    def release_under(self, prefix: str) -> list[str]:
        """Release every leftover claim among the branches under `prefix`; return them."""
        return [branch for branch in self.repo.branches_under(prefix) if self.release(branch)]

    def repair(self) -> list[Repair]:
        """Settle everything: the provider's records first, then every leftover claim."""
        done = [Repair("pull requests", line) for line in self.provider.repair()]
        done += [
            Repair(branch, "released: a branch of mirel's without its pull request")
            for branch in self.release_under(BRANCH_PREFIX)
        ]
        return done
