"""Wanted-person notices: the record, its charges, photos and versions, and the lines to call."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.auth.models import Unit
from tipline.db import Base, enum_column, utcnow

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


#: The free text a PIO may also give in Spanish and Vietnamese (optional, reviewed with the
#: rest), and each contact line's note; anything not given is shown in English, marked as such.
TRANSLATION_LANGUAGES = ("es", "vi")
TRANSLATED_FIELDS = ("caution", "description", "reward_text")

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
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    unit: Mapped[Unit | None] = relationship()
    status: Mapped[NoticeStatus] = mapped_column(
        enum_column(NoticeStatus), default=NoticeStatus.DRAFT, index=True
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
    resolution: Mapped[Resolution | None] = mapped_column(enum_column(Resolution))
    resolved_on: Mapped[date | None]  # the day it happened, as the PIO gives it
    resolved_at: Mapped[datetime | None]  # when it was recorded; retention counts from here
    archived_at: Mapped[datetime | None]
    details_removed_at: Mapped[datetime | None]
    # Set when a resolution was approved in error and the notice went back to published: the
    # public page and the feeds say so, with the date of the correction.
    correction_note: Mapped[str] = mapped_column(Text, default="")
    corrected_at: Mapped[datetime | None]
    # The PIO's Spanish and Vietnamese text of the free-text parts, by language then field:
    # {"es": {"caution": "..."}, "vi": {...}}. Missing parts are shown in English.
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)

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
    changes: Mapped[list[NoticeChange]] = relationship(
        back_populates="notice", order_by="NoticeChange.id", cascade="all, delete-orphan"
    )

    @property
    def public_photos(self) -> list[NoticePhoto]:
        """The photos the public sees: those added to a public notice wait for approval."""
        return [p for p in self.photos if p.approved]

    def text_in(self, name: str, language: str) -> tuple[str, str | None]:
        """A free-text field in ``language`` when the PIO gave it, else in English: the text
        and, when it is not in ``language``, the language it is in (for a ``lang`` attribute)."""
        translated = (self.translations or {}).get(language, {}).get(name, "")
        return in_language(getattr(self, name), translated, language)

    @property
    def pending_changes(self) -> list[NoticeChange]:
        """Changes waiting for a second person (at most one of each kind)."""
        return [c for c in self.changes if c.state is ChangeState.PENDING]

    def pending(self, kind: ChangeKind) -> NoticeChange | None:
        return next((c for c in self.pending_changes if c.kind is kind), None)

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
    severity: Mapped[Severity] = mapped_column(enum_column(Severity))
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
    # The note in Spanish and Vietnamese, by language: {"es": "...", "vi": "..."}.
    note_translations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    notice: Mapped[Notice | None] = relationship(back_populates="contact_lines")

    @property
    def tel_uri(self) -> str:
        return tel_uri(self.phone)

    def note_in(self, language: str) -> tuple[str, str | None]:
        """The note in ``language`` when it was translated, else in English (as ``text_in``)."""
        return in_language(self.note, (self.note_translations or {}).get(language, ""), language)


def in_language(english: str, translated: str, language: str) -> tuple[str, str | None]:
    """``translated`` for a reader of ``language`` when there is one, else ``english``; with
    the language the text is in when it is not the reader's (for a ``lang`` attribute). A
    translation of an empty English text is not shown: the English reader sees nothing there
    either."""
    if language != "en" and translated and english:
        return translated, None
    return english, (None if language == "en" else "en")


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
    # False while a photo added to a public notice waits for a second person's approval.
    approved: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

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


class ChangeKind(enum.StrEnum):
    EDIT = "edit"  # a new version of a public notice's record or photos
    RESOLVE = "resolve"  # the person was arrested, surrendered, located...
    CORRECT = "correct"  # a resolution made in error: back to published

    @property
    def label(self) -> str:
        return {
            "edit": "Changes to the public notice",
            "resolve": "Resolution",
            "correct": "Correction of a resolution made in error",
        }[self.value]


class ChangeState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class NoticeChange(Base):
    """A change to a public notice that waits for a second person before the public sees it.

    ``proposal`` holds what would change: for an edit, the new record (a ``snapshot``) and the
    photos to add or remove; for a resolution, what happened and when; for a correction, the
    reason. ``proposers`` lists everyone who shaped it ("id:label"): none of them may approve.
    """

    __tablename__ = "notice_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    kind: Mapped[ChangeKind] = mapped_column(enum_column(ChangeKind))
    state: Mapped[ChangeState] = mapped_column(
        enum_column(ChangeState), default=ChangeState.PENDING, index=True
    )
    proposal: Mapped[dict[str, Any]] = mapped_column(JSON)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    proposers: Mapped[list[str]] = mapped_column(JSON, default=list)
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_by: Mapped[str] = mapped_column(String(80), default="")
    decided_at: Mapped[datetime | None]

    notice: Mapped[Notice] = relationship(back_populates="changes")

    @property
    def proposer_names(self) -> list[str]:
        return [ref.partition(":")[2] for ref in self.proposers]

    @property
    def resolution_text(self) -> str:
        """For a resolution: what the public banner will say, e.g. "Arrested on 2026-12-01"."""
        if self.kind is not ChangeKind.RESOLVE:
            return ""
        on = date.fromisoformat(self.proposal["date"])
        return Notice(
            resolution=Resolution(self.proposal["resolution"]), resolved_on=on
        ).resolution_text


_EXTENSION = re.compile(r"\s*(?:,|;)?\s*(?:ext\.?|extension|x|#)\s*(\d{1,6})\s*$", re.I)
_NANP = re.compile(r"^1?([2-9]\d{2})([2-9]\d{2})(\d{4})$")
#: Three-digit service numbers (911, 311, 211...) dial as written.
_SERVICE = re.compile(r"^[2-9]11$")


class PhoneInvalid(ValueError):
    """Not a number the public can dial; the message says what to type."""


def format_phone(text: str) -> str:
    """The one way a number is shown: ``504-658-6030``, ``504-658-6030 ext. 5``,
    ``+44 2079460000``, ``911``. Raises ``PhoneInvalid`` for anything else.

    >>> format_phone("(504) 658-6030 x12")
    '504-658-6030 ext. 12'
    """
    text = text.strip()
    ext = ""
    match = _EXTENSION.search(text)
    if match:
        ext, text = match.group(1), text[: match.start()]
    if re.search(r"[^\d\s().+-]", text):
        raise PhoneInvalid("Use digits only, for example 504-658-6030 (or 504-658-6030 ext. 5).")
    digits = re.sub(r"\D", "", text)
    suffix = f" ext. {ext}" if ext else ""
    if _SERVICE.match(digits) and not ext:
        return digits
    if text.startswith("+") and not text.startswith("+1"):
        if not 8 <= len(digits) <= 15:
            raise PhoneInvalid("An international number has 8 to 15 digits after the +.")
        return f"+{digits}{suffix}"
    nanp = _NANP.match(digits)
    if nanp is None:
        if len(digits) == 7:
            raise PhoneInvalid(
                "Add the area code, so the number works from any phone: for example 504-658-6030."
            )
        raise PhoneInvalid(
            "Give a North American number with its area code, for example 504-658-6030, "
            "or an international one starting with +."
        )
    return "-".join(nanp.groups()) + suffix


def tel_uri(phone: str, default_country_code: str = "1") -> str:
    """An RFC 3966 ``tel:`` URI for a printed number; ten digits are taken as North American,
    and an extension is dialled after the number (``;ext=``). A number that cannot be dialled
    from anywhere as written (seven digits without an area code) gives ``""``.

    >>> tel_uri("504-658-6030 ext. 5")
    'tel:+1-504-658-6030;ext=5'
    """
    phone = phone.strip()
    ext = ""
    match = _EXTENSION.search(phone)
    if match:
        ext, phone = f";ext={match.group(1)}", phone[: match.start()]
    digits = re.sub(r"\D", "", phone)
    if phone.startswith("+"):
        return f"tel:+{digits}{ext}"
    if len(digits) == 10:
        return f"tel:+{default_country_code}-{digits[:3]}-{digits[3:6]}-{digits[6:]}{ext}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"tel:+1-{digits[1:4]}-{digits[4:7]}-{digits[7:]}{ext}"
    if _SERVICE.match(digits) and not ext:
        return f"tel:{digits}"  # 911 and the like dial as written
    return ""
