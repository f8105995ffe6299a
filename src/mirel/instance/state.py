"""The instance_state row: the manifest this instance publishes, and what its deploys did."""

from __future__ import annotations

import contextlib
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mirel.core.names import check_name
from mirel.db.models import InstanceState
from mirel.errors import ManifestInvalid
from mirel.hub import Hub

_STATE_ID = 1


class Attempt(NamedTuple):
    """A commit and the manifest a deploy published from it."""

    commit_sha: str | None
    manifest: str | None


class StateStore:
    """Reads and writes the single instance_state row."""

    def __init__(
        self, sessions: sessionmaker[Session], hub: Hub, configured_manifest: str | None
    ) -> None:
        self._sessions = sessions
        self._hub = hub
        self._configured_manifest = configured_manifest

    def ensure_row(self) -> None:
        """Insert the single instance_state row unless it exists (racing processes tolerated)."""
        with self._sessions() as session:
            if session.get(InstanceState, _STATE_ID) is not None:
                return
            session.add(InstanceState(id=_STATE_ID, manifest=None, manifest_chosen=False))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

    @staticmethod
    def row(session: Session) -> InstanceState:
        """Return the row, read in the caller's session (to change it in its transaction)."""
        state = session.get(InstanceState, _STATE_ID)
        assert state is not None, "instance_state is created when the instance opens"
        return state

    def selected_manifest(self) -> str | None:
        """Return the manifest this instance publishes: chosen through the API, else configured."""
        with self._sessions() as session:
            state = self.row(session)
            return state.manifest if state.manifest_chosen else self._configured_manifest

    def select_manifest(self, name: str | None) -> str | None:
        """Choose the manifest to publish (None: no manifest) and return it.

        Raises ManifestNotFound unless the manifest is on the default branch. A manifest that is
        there but invalid can be chosen: deploys then fail and say what is wrong with it. The
        choice takes effect at the next deploy.
        """
        if name is not None:
            check_name(name, "manifest")
            with contextlib.suppress(ManifestInvalid):
                self._hub.catalog.manifest(name)
        with self._sessions.begin() as session:
            state = self.row(session)
            state.manifest = name
            state.manifest_chosen = True
        return name

    def deployed(self) -> Attempt:
        """Return the commit and manifest this instance serves (None before its first deploy)."""
        with self._sessions() as session:
            state = self.row(session)
            return Attempt(state.deployed_commit, state.deployed_manifest)

    def record_switch(self, session: Session, deployed: Attempt, deployment_id: int) -> None:
        """Record, in the switch's transaction, that a deployment now serves `deployed`."""
        state = self.row(session)
        state.deployed_commit, state.deployed_manifest = deployed
        state.attempted_commit, state.attempted_manifest = deployed
        state.last_deployment_id = deployment_id

    def record_failure(self, session: Session, deployment_id: int, verdict: Attempt | None) -> None:
        """Record, in the caller's transaction, that a deployment failed.

        `verdict` is the commit and manifest whose content made it fail: deploying them again
        would fail the same way, so they are not deployed again unless forced.
        """
        state = self.row(session)
        state.last_deployment_id = deployment_id
        if verdict is not None:
            state.attempted_commit, state.attempted_manifest = verdict
