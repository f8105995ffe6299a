"""The hub: operations on the shared repository, each write a branch plus a pull request."""

from mirel.hub.hub import Hub
from mirel.hub.values import ChangeRequest, ReleaseView

__all__ = ["ChangeRequest", "Hub", "ReleaseView"]
