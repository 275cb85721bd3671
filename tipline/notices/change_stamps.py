"""Version stamps of what the public sees of notices, read from the database.

A public page's cache validator (ETag, Last-Modified) and every app server's in-memory copy of
it are keyed on these stamps, so a change committed through one server is seen by all of them
at their next request. They are cheap: one indexed row for a notice page, the published rows'
ids and times for the gallery.

``Notice.updated_at`` is the stamp, so it must move whenever anything shown on a notice page
changes: its own columns do that by themselves (``onupdate``); the ``before_flush`` hook below
touches the notice when one of its charges or contact lines is added, changed or removed, and
touches every notice when one of the agency's default contact lines (shown on notices that
have none of their own) changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from tipline.db import utcnow
from tipline.notices.models import (
    PUBLIC_STATUSES,
    Charge,
    ContactLine,
    Notice,
    NoticeStatus,
    is_slug,
)

#: Notices whose page the public may open.

# Built once: these run on every public page request, on a plain connection (no ORM session),
# which keeps the check for an unchanged page near the cost of the query itself.
_NOTICE_STAMP = select(Notice.id, Notice.status, Notice.updated_at).where(
    Notice.slug == bindparam("slug"), Notice.status.in_(PUBLIC_STATUSES)
)
_GALLERY_STAMPS = (
    select(Notice.id, Notice.updated_at)
    .where(Notice.status == NoticeStatus.PUBLISHED)
    .order_by(Notice.id)
)


_RESOLVED_STAMPS = (
    select(Notice.id, Notice.updated_at)
    .where(Notice.status == NoticeStatus.RESOLVED)
    .order_by(Notice.id)
)


@dataclass(frozen=True)
class ContentVersion:
    """What a public page was built from: a stamp that changes with it, and when it last did."""

    stamp: str
    last_modified: datetime | None


def notice_version(connection: Connection | Session, slug: str) -> ContentVersion | None:
    """The version of a public notice's page, or None when the public may not see it."""
    if not is_slug(slug):
        return None
    row = connection.execute(_NOTICE_STAMP, {"slug": slug}).first()
    if row is None:
        return None
    return ContentVersion(
        f"notice:{row.id}:{row.status.value}:{row.updated_at.isoformat()}", row.updated_at
    )


def gallery_version(connection: Connection | Session) -> ContentVersion:
    """The version of the gallery (and of anything else listing the published notices).

    A digest over every published notice's id and time, not just the newest time, so a notice
    leaving the list or changing with an older clock still changes the stamp.
    """
    return _list_version(connection, _GALLERY_STAMPS, "gallery")


def resolved_version(connection: Connection | Session) -> ContentVersion:
    """The version of the public list of resolved notices (as ``gallery_version``)."""
    return _list_version(connection, _RESOLVED_STAMPS, "resolved")


def _list_version(connection: Connection | Session, query: Any, name: str) -> ContentVersion:
    rows = connection.execute(query).all()
    digest = hashlib.sha256()
    for row in rows:
        digest.update(f"{row.id}:{row.updated_at.isoformat()};".encode())
    newest = max((row.updated_at for row in rows), default=None)
    return ContentVersion(f"{name}:{len(rows)}:{digest.hexdigest()}", newest)


#: PostgreSQL channel on which a transaction that changed what the public sees announces it
#: (delivered to listeners when, and only if, it commits). See tipline/web/caching/signals.py.
CHANGE_CHANNEL = "tipline_public_pages"
_CHANGED = "tipline.public_pages_changed"
_local_commits = [0]


def local_change_count() -> int:
    """How many transactions of this process changed public notice content and committed."""
    return _local_commits[0]


def _updated_at_set(notice: Notice) -> bool:
    return bool(inspect(notice).attrs.updated_at.history.added)


def touch_changed_notices(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    touched: set[Notice] = set()
    all_notices = False
    changed = False
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Notice):
            changed = True
            if obj in session.dirty and session.is_modified(obj):
                touched.add(obj)  # a collection change alone does not fire onupdate
        elif isinstance(obj, Charge | ContactLine):
            owner = obj.notice
            if owner is None and obj.notice_id is not None:
                owner = session.get(Notice, obj.notice_id)
            if owner is not None:
                touched.add(owner)
            elif isinstance(obj, ContactLine):
                all_notices = True
    if all_notices:
        touched.update(session.scalars(select(Notice)))
    now = utcnow()
    for notice in touched:
        # A service that set updated_at itself (say, to the ``now`` it was given) has moved
        # the stamp already; keep its value.
        if notice not in session.deleted and not _updated_at_set(notice):
            notice.updated_at = now
    if changed or touched:
        announce_change(session)


def announce_change(session: Session) -> None:
    """Tell every app server that what it remembers about public notices may be stale, once
    this transaction commits (PostgreSQL NOTIFY; this process's commit counter)."""
    if not session.info.get(_CHANGED):
        session.info[_CHANGED] = True
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_notify(CHANGE_CHANNEL, "")))


def count_committed_change(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _local_commits[0] += 1


def forget_rolled_back_change(session: Session) -> None:
    session.info.pop(_CHANGED, None)
