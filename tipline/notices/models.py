"""Wanted-person notices, their charges and the lines the public can call."""

from __future__ import annotations

import enum
import re
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.db import Base, utcnow


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


class NoticeStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RESOLVED = "resolved"


class Severity(enum.StrEnum):
    FELONY = "felony"
    MISDEMEANOR = "misdemeanor"


class Notice(Base):
    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    subject_name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[str] = mapped_column(Text, default="")  # one per line
    description: Mapped[str] = mapped_column(Text, default="")
    caution: Mapped[str] = mapped_column(Text, default="")
    reward_text: Mapped[str] = mapped_column(Text, default="")
    # The investigating unit, when units are configured; detectives of another unit do not
    # read tips on this notice.
    unit: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[NoticeStatus] = mapped_column(
        Enum(NoticeStatus, native_enum=False, length=20, values_callable=_values),
        default=NoticeStatus.DRAFT,
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]

    charges: Mapped[list[Charge]] = relationship(
        back_populates="notice", order_by="Charge.position", cascade="all, delete-orphan"
    )
    contact_lines: Mapped[list[ContactLine]] = relationship(
        back_populates="notice", order_by="ContactLine.position", cascade="all, delete-orphan"
    )

    @property
    def alias_list(self) -> list[str]:
        return [a.strip() for a in self.aliases.splitlines() if a.strip()]

    def __repr__(self) -> str:
        return f"<Notice {self.slug} {self.status}>"


class Charge(Base):
    __tablename__ = "charge"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    citation: Mapped[str] = mapped_column(String(120))  # e.g. "La. R.S. 14:134"
    description: Mapped[str] = mapped_column(String(300))
    severity: Mapped[Severity] = mapped_column(
        Enum(Severity, native_enum=False, length=20, values_callable=_values)
    )

    notice: Mapped[Notice] = relationship(back_populates="charges")


class ContactLine(Base):
    """A number the public can call. Lines without a notice are the agency's defaults."""

    __tablename__ = "contact_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(40))  # as printed: "504-658-6030"
    note: Mapped[str] = mapped_column(String(300), default="")

    notice: Mapped[Notice | None] = relationship(back_populates="contact_lines")

    @property
    def tel_uri(self) -> str:
        return tel_uri(self.phone)


def tel_uri(phone: str, default_country_code: str = "1") -> str:
    """An RFC 3966 ``tel:`` URI for a printed number; ten digits are taken as North American.

    >>> tel_uri("504-658-6030")
    'tel:+1-504-658-6030'
    """
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+"):
        return f"tel:+{digits}"
    if len(digits) == 10:
        return f"tel:+{default_country_code}-{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"tel:+1-{digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    # Short codes such as 911 dial as written.
    return f"tel:{digits}"
