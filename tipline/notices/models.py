"""Wanted-person notices: the record, its charges, photos and versions, and the lines to call."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.db import Base, utcnow


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


def _enum(e: type[enum.Enum]) -> Enum:
    return Enum(e, native_enum=False, length=20, values_callable=_values)


#: What a slug can be (``slugify`` makes nothing else). Anything else from an address bar,
#: a NUL byte say, is answered as unknown before it reaches the database.
SLUG_PATTERN = r"^[a-z0-9-]{1,120}$"


def is_slug(text: str) -> bool:
    return re.fullmatch(SLUG_PATTERN, text) is not None


class NoticeStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    RESOLVED = "resolved"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        return {"in_review": "In review"}.get(self.value, self.value.capitalize())


#: Statuses in which the public may read a notice.
PUBLIC_STATUSES = (NoticeStatus.PUBLISHED, NoticeStatus.RESOLVED)


class Resolution(enum.StrEnum):
    ARRESTED = "arrested"
    SURRENDERED = "surrendered"
    LOCATED = "located"
    CLEARED = "cleared"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "arrested": "Arrested",
            "surrendered": "Surrendered",
            "located": "Located",
            "cleared": "Warrant cleared",
            "withdrawn": "Notice withdrawn",
        }[self.value]


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
    # Physical description: free text as the warrant gives it ("5 ft 7 in", "about 150 lb").
    sex: Mapped[str] = mapped_column(String(40), default="")
    race: Mapped[str] = mapped_column(String(80), default="")
    age: Mapped[int | None]
    date_of_birth: Mapped[date | None]
    height: Mapped[str] = mapped_column(String(40), default="")
    weight: Mapped[str] = mapped_column(String(40), default="")
    hair: Mapped[str] = mapped_column(String(80), default="")
    eyes: Mapped[str] = mapped_column(String(80), default="")
    scars_marks: Mapped[str] = mapped_column(Text, default="")
    last_known_area: Mapped[str] = mapped_column(String(300), default="")
    caution: Mapped[str] = mapped_column(Text, default="")
    reward_text: Mapped[str] = mapped_column(Text, default="")
    # The most the reward programme may pay for this notice, in whole REWARD_CURRENCY units.
    max_reward: Mapped[int | None]
    # Staff only: never rendered on a public page, feed or API.
    case_number: Mapped[str] = mapped_column(String(60), default="")
    # The investigating unit, when units are configured; detectives of another unit do not
    # read tips on this notice.
    unit: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[NoticeStatus] = mapped_column(
        _enum(NoticeStatus), default=NoticeStatus.DRAFT, index=True
    )
    # Who wrote it and who sent it for review: neither may approve it.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_by: Mapped[str] = mapped_column(String(80), default="")
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    submitted_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Changes on every change the public can see (caching relies on it).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    resolution: Mapped[Resolution | None] = mapped_column(_enum(Resolution))
    resolved_on: Mapped[date | None]  # the day it happened, as the PIO gives it
    resolved_at: Mapped[datetime | None]  # when it was recorded; retention counts from here
    archived_at: Mapped[datetime | None]
    details_removed_at: Mapped[datetime | None]

    charges: Mapped[list[Charge]] = relationship(
        back_populates="notice", order_by="Charge.position", cascade="all, delete-orphan"
    )
    contact_lines: Mapped[list[ContactLine]] = relationship(
        back_populates="notice", order_by="ContactLine.position", cascade="all, delete-orphan"
    )
    photos: Mapped[list[NoticePhoto]] = relationship(
        back_populates="notice", order_by="NoticePhoto.position", cascade="all, delete-orphan"
    )
    versions: Mapped[list[NoticeVersion]] = relationship(
        back_populates="notice", order_by="NoticeVersion.number", cascade="all, delete-orphan"
    )

    @property
    def alias_list(self) -> list[str]:
        return [a.strip() for a in self.aliases.splitlines() if a.strip()]

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    @property
    def physical_description(self) -> list[tuple[str, str]]:
        """(label, value) pairs of what is known, in the order a poster lists them."""
        rows = [
            ("Sex", self.sex),
            ("Race", self.race),
            ("Age", str(self.age) if self.age is not None else ""),
            ("Date of birth", self.date_of_birth.isoformat() if self.date_of_birth else ""),
            ("Height", self.height),
            ("Weight", self.weight),
            ("Hair", self.hair),
            ("Eyes", self.eyes),
            ("Scars and marks", self.scars_marks),
        ]
        return [(label, value) for label, value in rows if value]

    @property
    def resolution_text(self) -> str:
        """The public banner, e.g. "Arrested on 2026-12-01"."""
        if self.resolution is None:
            return ""
        when = f" on {self.resolved_on.isoformat()}" if self.resolved_on else ""
        return f"{self.resolution.label}{when}"

    def __repr__(self) -> str:
        return f"<Notice {self.slug} {self.status}>"


class Charge(Base):
    __tablename__ = "charge"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    citation: Mapped[str] = mapped_column(String(120))  # e.g. "La. R.S. 14:134"
    description: Mapped[str] = mapped_column(String(300))
    severity: Mapped[Severity] = mapped_column(_enum(Severity))
    warrant_date: Mapped[date | None]

    notice: Mapped[Notice] = relationship(back_populates="charges")


class ContactLine(Base):
    """A number the public can call. Lines without a notice are the agency's defaults; a
    notice keeps its own copy of each line it shows, so later changes to the defaults do not
    rewrite notices already out."""

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


class NoticePhoto(Base):
    """A photo of the subject, stored as clean re-encoded variants (never the upload)."""

    __tablename__ = "notice_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    alt_text: Mapped[str] = mapped_column(String(300))
    caption: Mapped[str] = mapped_column(String(300), default="")
    mime: Mapped[str] = mapped_column(String(40))
    # The bytes are loaded only when a variant is served.
    display_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    display_width: Mapped[int]
    display_height: Mapped[int]
    thumb_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    thumb_width: Mapped[int]
    thumb_height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    notice: Mapped[Notice] = relationship(back_populates="photos")

    def size(self, variant: str) -> tuple[int, int]:
        if variant == "thumb":
            return self.thumb_width, self.thumb_height
        return self.display_width, self.display_height


class NoticeVersion(Base):
    """A snapshot of a public notice as it stood after publication or an edit."""

    __tablename__ = "notice_version"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    number: Mapped[int]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_by: Mapped[str] = mapped_column(String(80))

    notice: Mapped[Notice] = relationship(back_populates="versions")


def tel_uri(phone: str, default_country_code: str = "1") -> str:
    """An RFC 3966 ``tel:`` URI for a printed number; ten digits are taken as North American.

    >>> tel_uri("504-658-6030")
    'tel:+1-504-658-6030'
    >>> tel_uri("504-658-6030 ext. 5")
    'tel:+1-504-658-6030;ext=5'
    """
    # An extension ("ext. 5", "x5", "extension 5") is not part of the number to dial: joining
    # its digits on dialled a wrong number. RFC 3966 carries it as ";ext=".
    parts = re.split(r"(?i)\s*(?:ext\.?|extension|x)\s*(?=\d)", phone, maxsplit=1)
    number = parts[0]
    extension = re.sub(r"\D", "", parts[1]) if len(parts) > 1 else ""
    suffix = f";ext={extension}" if extension else ""
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+"):
        return f"tel:+{digits}{suffix}"
    if len(digits) == 10:
        return f"tel:+{default_country_code}-{digits[:3]}-{digits[3:6]}-{digits[6:]}{suffix}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"tel:+1-{digits[1:4]}-{digits[4:7]}-{digits[7:]}{suffix}"
    # Short codes such as 911 dial as written.
    return f"tel:{digits}{suffix}"
