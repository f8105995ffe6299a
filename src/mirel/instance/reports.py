"""What this instance tells the repository it serves, after each deploy (best effort)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from mirel.core.resolve import WORKING
from mirel.instance.live import read_live
from mirel.instance.state import StateStore
from mirel.instance.values import SUCCESS, Deployment, rfc3339
from mirel.providers.base import InstanceReport

log = logging.getLogger(__name__)


class Reporter:
    """Builds this instance's report and hands it to the provider."""

    def __init__(
        self,
        name: str,
        url: str,
        sessions: sessionmaker[Session],
        send: Callable[[InstanceReport], None],
    ) -> None:
        self._name = name
        self._url = url
        self._sessions = sessions
        self._send = send

    def report(self, deployment: Deployment | None = None) -> InstanceReport:
        """Return what this instance serves now, with the status of `deployment` (else SUCCESS)."""
        with self._sessions() as session:  # one snapshot: the state and the rows agree
            state = StateStore.row(session)
            commit_sha, manifest = state.deployed_commit, state.deployed_manifest
            rows = read_live(session.connection()).values()
        return InstanceReport(
            name=self._name,
            url=self._url,
            manifest=manifest,
            commit_sha=commit_sha,
            status=deployment.status if deployment is not None else SUCCESS,
            reported_at=rfc3339(datetime.now(UTC)) or "",
            live={row.uuid: row.release or WORKING for row in rows},
        )

    def send(self, deployment: Deployment) -> Deployment:
        """Tell the repository what this instance serves after a deploy, and return `deployment`.

        Best effort: the report only feeds other instances' pages, so a failure is logged.
        """
        try:
            self._send(self.report(deployment))
        except Exception as error:
            log.warning("could not report this instance's state to the repository: %s", error)
        return deployment
