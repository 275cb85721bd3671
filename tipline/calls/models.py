"""The call log. Every call a call-taker enters is a row, tip or no tip, so that a call
that was dropped, a prank or a wrong number is still on the record."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.auth.models import StaffUser
from tipline.db import Base, enum_column, utcnow
from tipline.tips.models import Tip


class Disposition(enum.StrEnum):
    TIP_TAKEN = "tip_taken"
    HUNG_UP = "hung_up"
    PRANK = "prank"
    WRONG_NUMBER = "wrong_number"
    REFERRED = "referred"
    NO_INFORMATION = "no_information"

    @property
    def label(self) -> str:
        return {
            "tip_taken": "Tip taken",
            "hung_up": "Caller hung up or the line dropped",
            "prank": "Prank or abusive call",
            "wrong_number": "Wrong number",
            "referred": "Referred elsewhere (911, another agency)",
            "no_information": "Caller had no information to give",
        }[self.value]


class CallRecord(Base):
    __tablename__ = "call_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    disposition: Mapped[Disposition] = mapped_column(enum_column(Disposition))
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    operator: Mapped[StaffUser] = relationship()
    tip: Mapped[Tip | None] = relationship()
