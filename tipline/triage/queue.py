"""The queue views: which tips each view shows, in which order, a page at a time.

Pages are keyset-paginated (``WHERE (rank, due, id) > cursor ORDER BY ... LIMIT n``), never
OFFSET, so page 1,000 costs what page 1 costs. Each view's order has a matching index on
``tip`` (see ``Tip.__table_args__``). A page is a fixed number of statements whatever its size:
one for the counts, one for the tips, one each for their notices, claimers and tags.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    and_,
    case,
    func,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session, selectinload

from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.notices.models import Notice
from tipline.tips.models import OPEN_STATUSES, Tip, TipPriority, TipStatus
from tipline.triage.access import (
    require_reader,
    tip_visibility_clause,
    visible_notices_clause,
)
from tipline.triage.services import tags_for

#: Counts stop at this many: "1,000+" is all a detective needs, and it keeps counting cheap.
COUNT_CAP = 1000


class View(enum.StrEnum):
    NEW = "new"
    MESSAGES = "messages"
    MINE = "mine"
    NOTICE = "notice"
    URGENT = "urgent"
    OVERDUE = "overdue"
    FLOOD = "flood"
    ALL = "all"

    @property
    def label(self) -> str:
        return {
            "new": "New (unclaimed)",
            "messages": "New messages",
            "mine": "Mine",
            "notice": "By notice",
            "urgent": "Urgent",
            "overdue": "Overdue",
            "flood": "Possible flood",
            "all": "All",
        }[self.value]


class Sort(enum.StrEnum):
    PRIORITY = "priority"
    DUE = "due"


@dataclass(frozen=True)
class QueueFilters:
    notice_id: int | None = None
    status: TipStatus | None = None
    received_from: date | None = None
    received_to: date | None = None
    urgent_only: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.notice_id is not None:
            found.append(Tip.notice_id == self.notice_id)
        if self.status is not None:
            found.append(Tip.status == self.status)
        if self.received_from is not None:
            found.append(Tip.received_at >= datetime.combine(self.received_from, time(), UTC))
        if self.received_to is not None:
            end = datetime.combine(self.received_to + timedelta(days=1), time(), UTC)
            found.append(Tip.received_at < end)
        if self.urgent_only:
            found.append(Tip.priority_rank == TipPriority.URGENT.rank)
        return found


@dataclass
class QueuePage:
    view: View
    sort: Sort
    tips: list[Tip]
    tags: dict[int, list[str]]
    counts: dict[View, int]
    next_cursor: str | None
    cap: int = COUNT_CAP
    notices: list[Notice] = field(default_factory=list)


def view_condition(view: View, viewer: StaffUser, now: datetime) -> ColumnElement[bool]:
    """The tips in ``view`` that ``viewer`` may read (units narrow what a detective sees)."""
    return and_(_view_condition(view, viewer, now), tip_visibility_clause(viewer))


def _view_condition(view: View, viewer: StaffUser, now: datetime) -> ColumnElement[bool]:
    is_open = Tip.status.in_(OPEN_STATUSES)
    if view is View.NEW:
        return and_(Tip.status == TipStatus.NEW, Tip.claimed_by_id.is_(None))
    if view is View.MESSAGES:
        # Closed tips too: a message on one waits for a supervisor (triage/unread.py).
        return Tip.unread_since.is_not(None)
    if view is View.MINE:
        return and_(Tip.claimed_by_id == viewer.id, is_open)
    if view is View.NOTICE:
        return and_(Tip.notice_id.is_not(None), is_open)
    if view is View.URGENT:
        return and_(Tip.priority_rank == TipPriority.URGENT.rank, is_open)
    if view is View.OVERDUE:
        return and_(Tip.due_at < now, is_open)
    if view is View.FLOOD:
        return and_(Tip.possible_flood.is_(True), is_open)
    return true()


#: 0 for a tip with an unread tipster message, 1 otherwise: "Mine" shows those first.
UNREAD_LAST = case((Tip.unread_since.is_(None), 1), else_=0)


def _order_columns(sort: Sort, view: View | None = None) -> tuple[Any, ...]:
    lead: tuple[Any, ...] = (UNREAD_LAST,) if view is View.MINE else ()
    if sort is Sort.DUE:
        return (*lead, Tip.due_at, Tip.id)
    return (*lead, Tip.priority_rank, Tip.due_at, Tip.id)


def encode_cursor(tip: Tip, sort: Sort, view: View | None = None) -> str:
    parts = [str(tip.id), tip.due_at.astimezone(UTC).isoformat()]
    if sort is Sort.PRIORITY:
        parts.append(str(tip.priority_rank))
    if view is View.MINE:
        parts.append("0" if tip.unread_since is not None else "1")
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, sort: Sort, view: View | None = None
) -> tuple[Any, ...] | None:
    """The ordering values of the last row shown, or None for anything unreadable."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split("|")
        tip_id, due = int(parts[0]), datetime.fromisoformat(parts[1])
        if due.tzinfo is None:
            return None
        found: tuple[Any, ...] = (due, tip_id)
        if sort is Sort.PRIORITY:
            found = (int(parts[2]), *found)
        if view is View.MINE:
            found = (int(parts[-1]), *found)
        return found
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _after(sort: Sort, values: tuple[Any, ...], view: View | None = None) -> ColumnElement[bool]:
    cols = _order_columns(sort, view)
    bound = [literal(v, type_=c.type) for c, v in zip(cols, values, strict=True)]
    return tuple_(*cols) > tuple_(*bound)


def capped_count(condition: ColumnElement[bool]) -> ScalarSelect[int]:
    """How many tips meet ``condition``, counting no further than COUNT_CAP + 1."""
    inner = select(Tip.id).where(condition).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(inner).scalar_subquery()


def queue_page(
    session: Session,
    viewer: StaffUser,
    view: View = View.NEW,
    filters: QueueFilters | None = None,
    sort: Sort = Sort.PRIORITY,
    after: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """One page of a queue view, with every view's (capped) count under the same filters."""
    require_reader(viewer)
    filters = filters or QueueFilters()
    now = utcnow()
    common = filters.conditions()
    counts_row = session.execute(
        select(*[capped_count(and_(view_condition(v, viewer, now), *common)) for v in View])
    ).one()
    counts = dict(zip(View, counts_row, strict=True))

    query = (
        select(Tip)
        .where(view_condition(view, viewer, now), *common)
        .options(selectinload(Tip.notice), selectinload(Tip.claimed_by))
        .order_by(*_order_columns(sort, view))
        .limit(limit + 1)
    )
    position = decode_cursor(after, sort, view)
    if position is not None:
        query = query.where(_after(sort, position, view))
    tips = list(session.scalars(query))
    next_cursor = encode_cursor(tips[limit - 1], sort, view) if len(tips) > limit else None
    tips = tips[:limit]
    return QueuePage(
        view=view,
        sort=sort,
        tips=tips,
        tags=tags_for(session, [t.id for t in tips]),
        counts=counts,
        next_cursor=next_cursor,
    )


def notices_for_filter(session: Session, viewer: StaffUser) -> list[Notice]:
    """Notices ``viewer``'s tips can be filtered by (resolved ones too: they still have tips)."""
    return list(
        session.scalars(
            select(Notice)
            .where(visible_notices_clause(viewer))
            .order_by(Notice.subject_name, Notice.id)
        )
    )


def notice_timeline(
    session: Session, viewer: StaffUser, notice: Notice, limit: int = 100
) -> list[Tip]:
    """Tips on a notice in the order they arrived (the most recent ``limit``)."""
    require_reader(viewer)
    recent = list(
        session.scalars(
            select(Tip)
            .where(Tip.notice_id == notice.id, tip_visibility_clause(viewer))
            .order_by(Tip.received_at.desc(), Tip.id.desc())
            .limit(limit)
        )
    )
    return list(reversed(recent))


@dataclass
class NoticeBoard:
    notice: Notice
    counts: dict[TipStatus, int]
    by_status: dict[TipStatus, list[Tip]]


def notice_board(
    session: Session, viewer: StaffUser, notice: Notice, per_status: int = 25
) -> NoticeBoard:
    """A notice's tips grouped by status, most urgent first in each group."""
    require_reader(viewer)
    counts = {s: 0 for s in TipStatus}
    for status, n in session.execute(
        select(Tip.status, func.count())
        .where(Tip.notice_id == notice.id, tip_visibility_clause(viewer))
        .group_by(Tip.status)
    ):
        counts[status] = n
    ranked = (
        select(
            Tip.id,
            func.row_number()
            .over(partition_by=Tip.status, order_by=(Tip.priority_rank, Tip.due_at, Tip.id))
            .label("n"),
        )
        .where(Tip.notice_id == notice.id, tip_visibility_clause(viewer))
        .subquery()
    )
    tips = session.scalars(
        select(Tip)
        .join(ranked, ranked.c.id == Tip.id)
        .where(ranked.c.n <= per_status)
        .options(selectinload(Tip.claimed_by))
        .order_by(Tip.priority_rank, Tip.due_at, Tip.id)
    )
    by_status: dict[TipStatus, list[Tip]] = {s: [] for s in TipStatus}
    for tip in tips:
        by_status[tip.status].append(tip)
    return NoticeBoard(notice=notice, counts=counts, by_status=by_status)
