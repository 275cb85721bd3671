"""Recording audit events. Every service that changes something calls ``record`` in the
same transaction, so an action without its audit row cannot be committed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.audit.models import AuditEvent

if TYPE_CHECKING:
    from tipline.auth.models import StaffUser

PUBLIC = "public"
SYSTEM = "system"


def record(
    session: Session,
    actor: StaffUser | str,
    action: str,
    object_type: str,
    object_id: object,
    **details: Any,
) -> AuditEvent:
    """Add an audit event for ``actor`` doing ``action`` to an object, and flush it.

    ``actor`` is a staff user or a label such as ``PUBLIC`` or ``SYSTEM``.
    """
    if isinstance(actor, str):
        actor_id, label = None, actor
    else:
        actor_id, label = actor.id, actor.username
    event = AuditEvent(
        actor_id=actor_id,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details,
    )
    session.add(event)
    session.flush()
    return event


def events_for(session: Session, object_type: str, object_id: object) -> list[AuditEvent]:
    """The audit trail of one object, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
            .order_by(AuditEvent.id)
        )
    )
