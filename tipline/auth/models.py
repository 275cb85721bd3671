"""Staff accounts. The public never has an account."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from tipline.db import Base, utcnow


class Role(enum.StrEnum):
    DETECTIVE = "detective"
    SUPERVISOR = "supervisor"
    PIO = "pio"
    ADMIN = "admin"
    CALL_TAKER = "call-taker"

    @property
    def label(self) -> str:
        return {"pio": "Public Information Officer", "call-taker": "Call-taker"}.get(
            self.value, self.value.capitalize()
        )


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<StaffUser {self.username} {self.role}>"
