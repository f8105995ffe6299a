"""What this instance tells the repository it serves, after each deploy (best effort)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from mirel.core.resolve import WORKING
from mirel.instance.live import Served, read_live
from mirel.instance.state import Attempt, StateStore
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

    def report(
        self, deployment: Deployment | None = None, served: Served | None = None
    ) -> InstanceReport:
        """Return what this instance serves now, with the status of `deployment` (else SUCCESS).

        `served` is what a switch has just made live, read from the database when not given.
        """
        if served is None:
            with self._sessions() as session:  # one snapshot: the state and the rows agree
                state = StateStore.row(session)
                attempt = Attempt(state.deployed_commit, state.deployed_manifest)
                served = Served(attempt, read_live(session.connection()))
        return InstanceReport(
            name=self._name,
            url=self._url,
            manifest=served.attempt.manifest,
            commit_sha=served.attempt.commit_sha,
            status=deployment.status if deployment is not None else SUCCESS,
            reported_at=rfc3339(datetime.now(UTC)) or "",
            live={row.uuid: row.release or WORKING for row in served.rows.values()},
        )

    def send(self, deployment: Deployment, served: Served | None = None) -> Deployment:
        """Tell the repository what this instance serves after a deploy, and return `deployment`;
        `served` is what the deploy's switch made live, if it switched.

        Best effort: the report only feeds other instances' pages, so a failure is logged.
        """
        try:
            self._send(self.report(deployment, served))
        except Exception as error:
            log.warning("could not report this instance's state to the repository: %s", error)
        return deployment
