"""The hub: operations on the shared repository, each write a branch plus a pull request."""

from mirel.hub.service import ChangeRequest, Hub, ReleaseView, read_folder

__all__ = ["ChangeRequest", "Hub", "ReleaseView", "read_folder"]
