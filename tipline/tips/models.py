"""Tips from the public (or typed in by a call-taker on a caller's behalf)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.audit.guards import undeletable
from tipline.auth.models import StaffUser
from tipline.db import Base, enum_column, utcnow
from tipline.notices.models import Notice


class TipStatus(enum.StrEnum):
    NEW = "new"
    IN_REVIEW = "in_review"
    ACTIONABLE = "actionable"
    FORWARDED = "forwarded"
    NEEDS_INFO = "needs_info"
    DUPLICATE = "duplicate"
    NO_ACTION = "no_action"
    CLOSED = "closed"

    @property
    def public_label(self) -> str:
        """What the tipster sees on the receipt page: never the internal outcome."""
        if self is TipStatus.NEW:
            return "Received"
        if self in (TipStatus.DUPLICATE, TipStatus.NO_ACTION, TipStatus.CLOSED):
            return "Closed"
        return "Being worked"

    @property
    def label(self) -> str:
        """What staff see."""
        return {
            "in_review": "In review",
            "needs_info": "Needs info",
            "no_action": "No action",
            "forwarded": "Forwarded",
        }.get(self.value, self.value.capitalize())

    @property
    def is_open(self) -> bool:
        return self not in (TipStatus.DUPLICATE, TipStatus.NO_ACTION, TipStatus.CLOSED)


class TipPriority(enum.StrEnum):
    """Triage priority. ``rank`` orders the queue (urgent first) and is stored beside it."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return list(TipPriority).index(self)

    @property
    def label(self) -> str:
        return self.value.capitalize()


#: Statuses a tip can still be worked in; the queue views show these.
OPEN_STATUSES = tuple(s for s in TipStatus if s.is_open)


#: Columns of the triage indexes that carry a trailing column (see ``Tip.__table_args__``).
TRIAGE_STATUS_COLUMNS = ("status", "priority_rank", "due_at", "id", "claimed_by_id")
TRIAGE_CLAIMED_COLUMNS = ("claimed_by_id", "priority_rank", "due_at", "id", "status")
TRIAGE_NOTICE_STATUS_COLUMNS = (
    "notice_id",
    "status",
    "priority_rank",
    "due_at",
    "id",
    "claimed_by_id",
)


#: How much of a tip's reference people are shown. Wherever one is typed, any prefix of at
#: least MIN_REF_PREFIX characters that only one tip starts with is accepted.
SHORT_REF_LENGTH = 8
MIN_REF_PREFIX = 6

#: Tips with a tipster's message nobody has opened yet (the partial indexes below).
_UNREAD = text("unread_since IS NOT NULL")


@undeletable  # no route, command or service deletes a tip; retention empties it
class Tip(Base):
    __tablename__ = "tip"
    __table_args__ = (
        Index("ix_tip_queue", "status", "there_now", "received_at"),
        # Triage: one index per queue view's keyset order. A trailing column after
        # the order (claimed_by_id, status) does not change the order; it lets the views'
        # other condition and their capped counts be answered from the index alone, without
        # reading a table row per tip (revision 0603: "mine" counted 1,001 open tips in 27 ms
        # on PostgreSQL at 1M tips by scanning the table; 0.2 ms from the index).
        Index("ix_tip_triage_order", "priority_rank", "due_at", "id"),
        Index("ix_tip_triage_status", *TRIAGE_STATUS_COLUMNS),
        Index("ix_tip_triage_claimed", *TRIAGE_CLAIMED_COLUMNS),
        Index("ix_tip_triage_notice", "notice_id", "priority_rank", "due_at", "id"),
        # A view by status under a notice filter (e.g. "new" for one notice), and its count.
        Index("ix_tip_triage_notice_status", *TRIAGE_NOTICE_STATUS_COLUMNS),
        Index("ix_tip_triage_due", "due_at", "id"),
        # Retention: closed tips not yet purged, oldest first.
        Index("ix_tip_retention", "purged_at", "closed_at"),
        # Unread tipster messages: the "New messages" view in queue order and its count, and
        # the escalation sweep's oldest-due-first scan. Partial, so they hold only the few
        # tips with something unread, whatever the number of tips.
        Index(
            "ix_tip_unread",
            "priority_rank",
            "due_at",
            "id",
            "claimed_by_id",
            sqlite_where=_UNREAD,
            postgresql_where=_UNREAD,
        ),
        Index(
            "ix_tip_unread_due",
            "unread_due_at",
            "id",
            sqlite_where=_UNREAD,
            postgresql_where=_UNREAD,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unguessable reference used in staff URLs; never derived from the id.
    public_ref: Mapped[str] = mapped_column(String(32), unique=True)
    # Keyed hash (HMAC-SHA256) of the receipt code; the code itself is never stored.
    receipt_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)
    seen_when: Mapped[str] = mapped_column(String(200), default="")
    seen_where: Mapped[str] = mapped_column(Text, default="")
    narrative: Mapped[str] = mapped_column(Text)
    there_now: Mapped[bool] = mapped_column(default=False)
    # The structured parts of the form. All optional; empty string when not given.
    landmark: Mapped[str] = mapped_column(String(200), default="")
    activity: Mapped[str] = mapped_column(Text, default="")
    companions: Mapped[str] = mapped_column(Text, default="")
    vehicle_make: Mapped[str] = mapped_column(String(100), default="")
    vehicle_colour: Mapped[str] = mapped_column(String(50), default="")
    vehicle_plate: Mapped[str] = mapped_column(String(20), default="")
    direction: Mapped[str] = mapped_column(String(200), default="")
    how_known: Mapped[str] = mapped_column(Text, default="")
    # Contact details the tipster chose to give, AES-GCM sealed (tipline.sealing); None if none.
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The language of the form the tipster wrote in ("en", "es", "vi"); "" when not known
    # (tips taken by phone, tips from before it was recorded).
    language: Mapped[str] = mapped_column(String(8), default="")
    # Marked as spam by staff: a label only, it deletes and hides nothing.
    spam_marked_at: Mapped[datetime | None]
    # Received while everyone together was past the flood rate: taken at low priority and
    # listed in the queue's "Possible flood" view for a supervisor to sort; never hidden.
    possible_flood: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # A phone tip's dialog (questions, answers) is closed on the receipt page, since whoever
    # typed it in heard the receipt code, unless the caller asked to use it online.
    caller_dialog: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    @property
    def dialog_open(self) -> bool:
        """Whether the receipt page shows questions and takes answers for this tip."""
        return self.operator_id is None or bool(self.caller_dialog)

    status: Mapped[TipStatus] = mapped_column(
        enum_column(TipStatus),
        default=TipStatus.NEW,
    )
    # A call-taker's tip whose caller hung up or whose line dropped before it was finished:
    # what was typed is kept as a tip, marked so the detective knows it may be partial.
    call_dropped: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set when a call-taker typed the tip in for a caller.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Triage: priority and due_at are set for every new tip by the
    # session events in tips/intake.py.
    priority: Mapped[TipPriority] = mapped_column(
        enum_column(TipPriority),
        default=TipPriority.NORMAL,
    )
    priority_rank: Mapped[int] = mapped_column(default=TipPriority.NORMAL.rank)
    # Set once the tip is urgent and never cleared: lowering the priority does not let one
    # person close a tip that was once "they are there right now".
    ever_urgent: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    claimed_at: Mapped[datetime | None]
    # Why the last status change was made (required for negative outcomes).
    status_reason: Mapped[str] = mapped_column(Text, default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id"))
    # When and by whom the tip was closed (cleared on reopening), and when retention
    # emptied it. A purged tip is a tombstone: id, reference, dates and outcome only.
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    purged_at: Mapped[datetime | None]
    # The oldest message from the tipster no one who may see the tip has opened yet, and when
    # it must be read by (the tip's priority clock from its arrival); both None when all are
    # read. Set by triage.intake at flush, cleared by triage.unread.mark_read.
    unread_since: Mapped[datetime | None]
    unread_due_at: Mapped[datetime | None]

    notice: Mapped[Notice | None] = relationship()
    operator: Mapped[StaffUser | None] = relationship(foreign_keys=[operator_id])
    claimed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[claimed_by_id])
    closed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[closed_by_id])
    duplicate_of: Mapped[Tip | None] = relationship(remote_side="Tip.id")

    def __repr__(self) -> str:
        return f"<Tip {self.public_ref} {self.status}>"

    @property
    def short_ref(self) -> str:
        """The reference as people read it: the same length everywhere (SHORT_REF_LENGTH)."""
        return self.public_ref[:SHORT_REF_LENGTH]


class MessageDirection(enum.StrEnum):
    TO_TIPSTER = "to_tipster"
    FROM_TIPSTER = "from_tipster"


class TipMessage(Base):
    """One turn of the receipt dialog: a detective's question or the tipster's answer."""

    __tablename__ = "tip_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    direction: Mapped[MessageDirection] = mapped_column(enum_column(MessageDirection))
    body: Mapped[str] = mapped_column(Text, default="")
    # The staff member who asked; None for the tipster's answers.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # For the tipster's messages: when a detective or supervisor who may see the tip first
    # opened it with this message on it, and who (None while unread).
    read_at: Mapped[datetime | None]
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    author: Mapped[StaffUser | None] = relationship(foreign_keys=[author_id])
    read_by: Mapped[StaffUser | None] = relationship(foreign_keys=[read_by_id])

    @property
    def unread(self) -> bool:
        return self.direction is MessageDirection.FROM_TIPSTER and self.read_at is None


class TipAttachment(Base):
    """A photo, rebuilt from pixels (tipline.media) and sealed (tipline.sealing)."""

    __tablename__ = "tip_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_ref: Mapped[str] = mapped_column(String(32), unique=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    # Set when the photo came with a later answer on /receipt.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("tip_message.id"))
    mime: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: Submissions whose sealed receipt code is still kept (the partial index below).
_CODE_HELD = text("sealed_code IS NOT NULL")


class TipSubmission(Base):
    """The one-time token of a tip form, so a repeated submit never makes a second tip.

    Holds a keyed hash of the token, and the receipt code sealed under a key derived from
    the token itself, so only a browser that still holds the form can see the code again.
    """

    __tablename__ = "tip_submission"
    __table_args__ = (
        # The hourly sweep finds the few codes still held without reading every tip's row
        # (revision 0605); a code is held for TIP_REPLAY_MINUTES only.
        Index(
            "ix_tip_submission_code_held",
            "id",
            sqlite_where=_CODE_HELD,
            postgresql_where=_CODE_HELD,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    sealed_code: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tip: Mapped[Tip] = relationship()


class ReceiptSession(Base):
    """A tipster's visit to /receipt after entering a code; the cookie holds only a token."""

    __tablename__ = "receipt_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    expires_at: Mapped[datetime]
