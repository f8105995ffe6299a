"""Webhook deliveries an instance has received, so that a replayed one is refused.

A host names each delivery (mirel.providers.webhook_schemes says how). The ids are kept in the
instance database for `REPLAY_WINDOW`, shared by every process of the instance; a delivery id
seen again within it is a replay: its signature is valid, but it was already acted on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.models import WebhookDelivery

REPLAY_WINDOW = timedelta(hours=24)
MAX_DELIVERY_ID = 200


def first_delivery(sessions: sessionmaker[Session], delivery_id: str) -> bool:
    """Record a delivery id; return False when it was already received within the window."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.received_at < now - REPLAY_WINDOW)
        )
    try:
        with sessions.begin() as session:
            session.execute(
                insert(WebhookDelivery).values(delivery_id=delivery_id, received_at=now)
            )
    except IntegrityError:
        return False
    return True
