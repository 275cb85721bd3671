"""What the public may read about notices, in the one shape every output is built from.

``notice_document()`` is the single public description of a notice: the JSON API returns it as
it is, and the Atom feed, the CAP messages, the poster and the page's JSON-LD are built from it.
A field added to a notice becomes public by adding it here and to ``NOTICE_SCHEMA`` beside it,
and nowhere else. Staff-only data (the case number) and anything about tips never enter it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from tipline.notices.models import (
    PUBLIC_STATUSES,
    SLUG_PATTERN,
    TRANSLATED_FIELDS,
    TRANSLATION_LANGUAGES,
    Charge,
    ContactLine,
    Notice,
    NoticeStatus,
    Severity,
    is_slug,
)

#: Statuses the public may see. Anything else (draft, in review, archived…) is not public.

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_QUERY_LENGTH = 100
CURSOR_PATTERN = r"^[0-9]{1,17}-[0-9]{1,9}$"  # ids stay inside a 32-bit integer
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class NoticeLinks:
    """Absolute URLs of a notice's public outputs (made by the web layer)."""

    page: str
    tip: str | None  # None once the notice no longer takes tips
    poster: str | None  # None once a poster would mislead (resolved)
    cap: str
    api: str
    share_image: str  # the 1200x630 share picture, versioned by the notice's last change
    short: str | None  # a short address for the tip form, to print; None once resolved


@dataclass(frozen=True)
class NoticeFilter:
    status: NoticeStatus | None = None
    charge_class: Severity | None = None
    text: str = ""  # matched against name, aliases and charges, case-insensitively


@dataclass(frozen=True)
class Cursor:
    """Where a page of the keyset-paginated list ends: the last notice's sort key."""

    published_at: datetime
    notice_id: int

    def encode(self) -> str:
        micros = (self.published_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.notice_id}"

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Read a token made by ``encode``; raises ``ValueError`` for anything else."""
        if not re.fullmatch(CURSOR_PATTERN, token):
            raise ValueError("The cursor is not one this API gave out.")
        micros, notice_id = token.split("-")
        try:
            moment = _EPOCH + timedelta(microseconds=int(micros))
        except OverflowError as exc:
            raise ValueError("The cursor is not one this API gave out.") from exc
        return cls(moment, int(notice_id))


def _public() -> Any:
    return Notice.status.in_(PUBLIC_STATUSES)


def _with_children(stmt: Any) -> Any:
    return stmt.options(selectinload(Notice.charges), selectinload(Notice.contact_lines))


def public_notice(session: Session, slug: str) -> Notice | None:
    """A notice the public may see, or None (drafts and unknown slugs alike)."""
    if not is_slug(slug):
        return None  # and PostgreSQL never sees a NUL byte from the address bar
    return session.scalar(_with_children(select(Notice).where(Notice.slug == slug, _public())))


def public_notice_by_id(session: Session, notice_id: int) -> Notice | None:
    """A notice the public may see, by id (the short links on posters), or None."""
    if not 0 < notice_id < 2**31:
        return None
    return session.scalar(select(Notice).where(Notice.id == notice_id, _public()))


def public_notices(
    session: Session,
    filters: NoticeFilter | None = None,
    after: Cursor | None = None,
    limit: int | None = None,
) -> list[Notice]:
    """Public notices, newest publication first, filtered, after ``after`` when given."""
    filters = filters or NoticeFilter()
    stmt = select(Notice).where(_public(), Notice.published_at.is_not(None))
    if filters.status is not None:
        stmt = stmt.where(Notice.status == filters.status)
    if filters.charge_class is not None:
        stmt = stmt.where(
            Notice.charges.any(Charge.severity == filters.charge_class),
        )
    if filters.text:
        needle = filters.text.lower()
        stmt = stmt.where(
            or_(
                func.lower(Notice.subject_name).contains(needle, autoescape=True),
                func.lower(Notice.aliases).contains(needle, autoescape=True),
                Notice.charges.any(
                    or_(
                        func.lower(Charge.description).contains(needle, autoescape=True),
                        func.lower(Charge.citation).contains(needle, autoescape=True),
                    )
                ),
            )
        )
    if after is not None:
        stmt = stmt.where(
            or_(
                Notice.published_at < after.published_at,
                and_(Notice.published_at == after.published_at, Notice.id < after.notice_id),
            )
        )
    stmt = stmt.order_by(Notice.published_at.desc(), Notice.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(_with_children(stmt)))


def cursor_after(notice: Notice) -> Cursor:
    assert notice.published_at is not None  # public_notices() only returns published ones
    return Cursor(notice.published_at, notice.id)


def contact_lines_of(notice: Notice, defaults: list[ContactLine]) -> list[ContactLine]:
    return list(notice.contact_lines) if notice.contact_lines else defaults


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def notice_document(
    notice: Notice,
    contact_lines: list[ContactLine],
    links: NoticeLinks,
    reward_currency: str = "USD",
) -> dict[str, Any]:
    """Everything the public may know about a notice, as plain JSON-ready values.

    Field names follow the FBI Wanted API where it has one (``title``, ``aliases``,
    ``caution``, ``reward_text``, ``url``).
    """
    resolved = notice.status is NoticeStatus.RESOLVED
    return {
        "slug": notice.slug,
        "url": links.page,
        "title": f"{'Resolved' if resolved else 'Wanted'}: {notice.subject_name}",
        "subject_name": notice.subject_name,
        "aliases": notice.alias_list,
        "status": notice.status.value,
        "description": notice.description,
        "physical_description": [
            {"label": label, "value": value} for label, value in notice.physical_description
        ],
        "last_known_area": notice.last_known_area,
        # A resolved notice no longer warns anyone: nobody is asked to look for the person.
        "caution": "" if resolved else notice.caution,
        "reward_text": notice.reward_text,
        "max_reward": (
            {"amount": notice.max_reward, "currency": reward_currency}
            if notice.max_reward
            else None
        ),
        "resolution": notice.resolution_text if resolved else "",
        "correction": notice.correction_note if not resolved else "",
        "charges": [
            {
                "citation": c.citation,
                "description": c.description,
                "severity": c.severity.value,
            }
            for c in notice.charges
        ],
        "contact_lines": [
            {
                "label": line.label,
                "phone": line.phone,
                "tel": line.tel_uri,
                "note": line.note,
                "note_translations": _note_translations(line),
            }
            for line in contact_lines
        ],
        "translations": _translations(notice, resolved),
        "published_at": _iso(notice.published_at),
        "updated_at": _iso(notice.updated_at),
        "links": {
            "page": links.page,
            "tip": links.tip,
            "poster": links.poster,
            "cap": links.cap,
            "api": links.api,
            "share_image": links.share_image,
            "short": links.short,
        },
    }


def _translations(notice: Notice, resolved: bool) -> dict[str, dict[str, str]]:
    """The PIO's Spanish and Vietnamese text of the free-text fields, as the page shows it:
    only parts whose English is shown too (a resolved notice has no caution)."""
    shown = {
        "caution": "" if resolved else notice.caution,
        "description": notice.description,
        "reward_text": notice.reward_text,
    }
    given = {
        language: {
            name: text
            for name, text in (notice.translations or {}).get(language, {}).items()
            if text and shown.get(name)
        }
        for language in TRANSLATION_LANGUAGES
    }
    return {language: texts for language, texts in given.items() if texts}


def _note_translations(line: ContactLine) -> dict[str, str]:
    if not line.note:
        return {}
    texts = line.note_translations or {}
    return {language: texts[language] for language in TRANSLATION_LANGUAGES if texts.get(language)}


_URL = {"type": "string", "format": "uri"}
_NULLABLE_URL = {"type": ["string", "null"], "format": "uri"}
_TEXT = {"type": "string"}
#: An object keyed by the language codes of the translations (BCP 47).
_BY_LANGUAGE = {"type": "object", "propertyNames": {"enum": list(TRANSLATION_LANGUAGES)}}

#: JSON Schema (2020-12, as OpenAPI 3.1 uses) of ``notice_document()``; kept beside it.
NOTICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "slug",
        "url",
        "title",
        "subject_name",
        "aliases",
        "status",
        "description",
        "physical_description",
        "last_known_area",
        "caution",
        "reward_text",
        "max_reward",
        "resolution",
        "correction",
        "charges",
        "contact_lines",
        "translations",
        "published_at",
        "updated_at",
        "links",
    ],
    "properties": {
        "slug": {"type": "string", "pattern": SLUG_PATTERN, "description": "Stable id."},
        "url": {**_URL, "description": "The notice's public page."},
        "title": _TEXT,
        "subject_name": {**_TEXT, "description": "The name of the person who is wanted."},
        "aliases": {"type": "array", "items": _TEXT},
        "status": {
            "type": "string",
            "enum": [s.value for s in PUBLIC_STATUSES],
            "description": "`resolved` once the person is no longer sought.",
        },
        "description": _TEXT,
        "physical_description": {
            "type": "array",
            "description": "Sex, age, height and the like, as the warrant gives them.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["label", "value"],
                "properties": {"label": _TEXT, "value": _TEXT},
            },
        },
        "last_known_area": _TEXT,
        "caution": {**_TEXT, "description": "Caution and warning, e.g. do not approach."},
        "reward_text": _TEXT,
        "max_reward": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["amount", "currency"],
            "properties": {
                "amount": {"type": "integer", "description": "Whole units of currency."},
                "currency": {**_TEXT, "description": "ISO 4217 code, e.g. USD."},
            },
            "description": "The most the reward program may pay, if the notice says.",
        },
        "resolution": {
            **_TEXT,
            "description": "What happened, e.g. `Arrested on 2026-12-01`; empty unless resolved.",
        },
        "correction": {
            **_TEXT,
            "description": "Set when an earlier resolution was made in error and withdrawn.",
        },
        "charges": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["citation", "description", "severity"],
                "properties": {
                    "citation": {**_TEXT, "description": "Statute, e.g. La. R.S. 14:134."},
                    "description": _TEXT,
                    "severity": {"type": "string", "enum": [s.value for s in Severity]},
                },
            },
        },
        "contact_lines": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["label", "phone", "tel", "note", "note_translations"],
                "properties": {
                    "label": _TEXT,
                    "phone": {**_TEXT, "description": "As printed, e.g. 504-658-6030."},
                    "tel": {**_TEXT, "description": "An RFC 3966 tel: URI."},
                    "note": {**_TEXT, "description": "E.g. who to ask for, or the hours."},
                    "note_translations": {
                        **_BY_LANGUAGE,
                        "additionalProperties": _TEXT,
                        "description": "The note in Spanish (`es`) and Vietnamese (`vi`), "
                        "where the agency gave it; other readers are shown `note`.",
                    },
                },
            },
        },
        "translations": {
            **_BY_LANGUAGE,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: _TEXT for name in TRANSLATED_FIELDS},
            },
            "description": "The agency's Spanish (`es`) and Vietnamese (`vi`) text of "
            "`caution`, `description` and `reward_text`, where it gave one; any part not "
            "given is read in English.",
        },
        "published_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "links": {
            "type": "object",
            "additionalProperties": False,
            "required": ["page", "tip", "poster", "cap", "api", "share_image", "short"],
            "properties": {
                "page": _URL,
                "tip": {**_NULLABLE_URL, "description": "The tip form; null once resolved."},
                "poster": {**_NULLABLE_URL, "description": "Printable PDF; null once resolved."},
                "cap": {**_URL, "description": "The latest CAP 1.2 message."},
                "api": _URL,
                "share_image": {**_URL, "description": "A 1200×630 PNG for link previews."},
                "short": {**_NULLABLE_URL, "description": "Short tip-form address, to print."},
            },
        },
    },
}


def json_ld(document: dict[str, Any], agency_name: str) -> dict[str, Any]:
    """schema.org ``SpecialAnnouncement`` about a ``Person``, for the notice page."""
    charges = "; ".join(f"{c['description']} ({c['citation']})" for c in document["charges"])
    text = f"Wanted on a warrant for {charges}." if charges else document["title"]
    return {
        "@context": "https://schema.org",
        "@type": "SpecialAnnouncement",
        "name": document["title"],
        "text": text,
        "url": document["url"],
        "datePosted": document["published_at"],
        "dateModified": document["updated_at"],
        "announcementLocation": {"@type": "PoliceStation", "name": agency_name},
        "about": {
            "@type": "Person",
            "name": document["subject_name"],
            **({"alternateName": document["aliases"]} if document["aliases"] else {}),
        },
        "publisher": {
            "@type": "GovernmentOrganization",
            "name": agency_name,
            "contactPoint": [
                {"@type": "ContactPoint", "name": line["label"], "telephone": line["phone"]}
                for line in document["contact_lines"]
            ],
        },
    }


def summary_text(document: dict[str, Any]) -> str:
    """One plain paragraph: what the person is wanted for and whom to call."""
    parts = []
    charges = "; ".join(f"{c['description']} ({c['citation']})" for c in document["charges"])
    if document["resolution"]:
        parts.append(f"{document['resolution']}. No longer sought through this notice.")
        if charges:
            parts.append(f"Was wanted on a warrant for {charges}.")
        return " ".join(parts)
    if document["correction"]:
        parts.append(f"Correction: {document['correction']}")
    if charges:
        parts.append(f"Wanted on a warrant for {charges}.")
    if document["caution"]:
        parts.append(document["caution"])
    if document["contact_lines"]:
        calls = ", ".join(f"{c['label']} {c['phone']}" for c in document["contact_lines"])
        parts.append(f"Call {calls}.")
    return " ".join(parts)
