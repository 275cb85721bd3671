"""Recording audit events. Every service that changes something calls ``record`` in the
same transaction, so an action without its audit row cannot be committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import current_app, has_app_context
from sqlalchemy import Row, func, insert, select
from sqlalchemy.orm import Session

from tipline import db
from tipline.audit import chain, tree
from tipline.audit.models import AuditEvent, AuditVerification
from tipline.db import utcnow

PUBLIC = "public"
SYSTEM = "system"

# Built once, run on the session's connection: every audited transaction runs both, under the
# chain lock, and the ORM's unit of work cost more than the statements themselves.
_HEAD = select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
_INSERT = insert(AuditEvent)


class Actor(Protocol):
    """Who did something: a staff member, as the audit log needs them (the auth domain's
    ``StaffUser`` is one). The log sits below the domains and does not import them."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


class Reader(Actor, Protocol):
    """A staff member asking to read the log: their role's value and whether they are active."""

    @property
    def role(self) -> Any: ...

    @property
    def active(self) -> bool: ...


def record(
    session: Session,
    actor: Actor | str,
    action: str,
    object_type: str,
    object_id: object,
    **details: Any,
) -> AuditEvent:
    """Write an audit event for ``actor`` doing ``action`` to an object, after flushing what
    the caller added to the session.

    ``actor`` is a staff user or a label such as ``PUBLIC`` or ``SYSTEM``. The event is
    linked to the chain head; writers are serialised until their transaction ends. The event
    returned is not in the session (it is written with a plain INSERT); read the log with
    a query.
    """
    db.require_writable(session)
    if isinstance(actor, str):
        actor_id, label = None, actor
    else:
        actor_id, label = actor.id, actor.username
    key = audit_key(session)
    stored_details = chain.normalise_details(details)
    # What the caller added waits for the flush below (the head is only audit rows, and
    # every event before this one was written by its own ``record``).
    lock_chain_head(session)
    connection = session.connection()
    head = connection.execute(_HEAD).first()
    seq, prev_hash = (head.seq + 1, head.row_hash) if head else (1, chain.GENESIS)
    params: dict[str, Any] = {
        "seq": seq,
        "occurred_at": utcnow(),
        "actor_id": actor_id,
        "actor_label": label,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "details": stored_details,
        "prev_hash": prev_hash,
    }
    params["row_hash"] = chain.row_hash(key, **params)
    event = AuditEvent(**params)  # for the caller; the row is the plain INSERT below
    session.flush()
    # Still under the chain lock: leaves join the tree in sequence order.
    nodes = tree.rows_for(connection, params)
    if nodes and connection.dialect.name == "postgresql":
        # The event and its tree nodes in one statement: the tree costs no round trip.
        statement = tree.event_insert_with_nodes(len(nodes))
        event.id = connection.execute(statement, {**params, **tree.node_params(nodes)}).scalar_one()
    else:
        written = connection.execute(_INSERT, params)
        if nodes:
            tree.insert_nodes(connection, nodes)
        key_row = written.inserted_primary_key
        assert key_row is not None  # a single-row INSERT always reports its key
        event.id = key_row[0]
    return event


def lock_chain_head(session: Session) -> None:
    """Hold the chain head until this transaction ends, so the next ``seq`` is ours alone.

    PostgreSQL: a transaction-scoped advisory lock, usually already taken before the
    transaction's first write (``tipline.db.hold_chain_lock``). SQLite: request sessions begin
    IMMEDIATE (``tipline.db.WRITE_OPTIONS``), so the write lock is already held; in a
    deferred transaction an insert after a stale read fails with SQLITE_BUSY and nothing
    forks.
    """
    db.hold_chain_lock(session.connection())


def install_key(app: Any) -> None:
    """Give every session of ``app``'s sessionmakers the chain key, so ``record`` works
    without an app context (a worker, a script)."""
    key = chain.chain_key(app.config)
    for name in db.SESSIONMAKERS:
        maker = app.extensions[name]
        maker.configure(info={**(maker.kw.get("info") or {}), "audit_key": key})


def audit_key(session: Session) -> bytes:
    """The chain key carried by sessions from the app's sessionmakers (or the app's config)."""
    key = session.info.get("audit_key")
    if key is None and has_app_context():
        key = chain.chain_key(current_app.config)
    if key is None:
        raise RuntimeError("This session has no audit key: use the app's sessionmaker.")
    return key


def hash_of(key: bytes, event: AuditEvent | Row[Any]) -> str:
    """The keyed hash ``event`` must carry, computed from its fields (an event, or a row of
    its columns as ``tipline audit verify`` reads them)."""
    return chain.row_hash(key, **{name: getattr(event, name) for name in _HASHED})


#: The columns a row hash covers: every one an event's INSERT writes but the hash itself.
_HASHED = tuple(name for name in tree.EVENT_WRITTEN if name != "row_hash")


def events_for(session: Session, object_type: str, object_id: object) -> list[AuditEvent]:
    """The audit trail of one object, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
            .order_by(AuditEvent.seq)
        )
    )


#: Roles (by value) that read the audit log. Detectives see a tip's own trail, not the log.
AUDIT_READERS = frozenset({"supervisor"})


class NotAllowed(PermissionError):
    """The staff member may not do this; the message says why in a plain sentence. The one
    refusal every domain raises (audit is the layer they all build on)."""


@dataclass(frozen=True)
class Overview:
    last_verification: AuditVerification | None
    latest: list[AuditEvent]
    total: int
    #: Whether the last verification carries the checkpoint key's signature.
    signed: bool = False


def overview(session: Session, viewer: Reader, limit: int = 50) -> Overview:
    """The last `tipline audit verify` result and the newest events, for a supervisor."""
    role = getattr(viewer.role, "value", viewer.role)
    if role not in AUDIT_READERS or not viewer.active:
        raise NotAllowed(f"{role} may not read the audit log")
    last = session.scalar(
        select(AuditVerification)
        .order_by(AuditVerification.checked_at.desc(), AuditVerification.id.desc())
        .limit(1)
    )
    latest = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit))
    total = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    signed = False
    if last is not None and has_app_context():
        from tipline.audit.verify import signature_valid

        signed = signature_valid(last, current_app.config.get("AUDIT_SIGNING_KEY_FILE"))
    return Overview(last, list(latest), total, signed)


def recent(
    session: Session, viewer: Reader, action: str, since: datetime, limit: int = 50
) -> list[AuditEvent]:
    """The newest events of ``action`` since ``since``, newest first, for a supervisor."""
    role = getattr(viewer.role, "value", viewer.role)
    if role not in AUDIT_READERS or not viewer.active:
        raise NotAllowed(f"{role} may not read the audit log")
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.occurred_at >= since)
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
    )
