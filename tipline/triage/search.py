"""Full-text search over tips (``fulltext.SEARCH_COLUMNS``), combined with the queue filters.

SQLite: the FTS5 table ``tip_fts`` (kept in sync by triggers); PostgreSQL: the stored
``tsvector`` column ``fulltext.PG_COLUMN`` and its GIN index. Words are ANDed, stemmed
(Porter / English). Results are newest first with a keyset on the id.

Highlighting never produces markup: ``highlight()`` returns (text, is_match) pieces, and the
template writes ``<mark>`` around matched pieces while Jinja escapes every piece's text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, column, literal_column, select, table, text
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.tips.models import Tip
from tipline.triage import fulltext
from tipline.triage.access import require_reader, tip_visibility_clause
from tipline.triage.queue import QueueFilters

MAX_TERMS = 8
_WORD = re.compile(r"\w+", re.UNICODE)
_fts = table(fulltext.FTS_TABLE, column("rowid"))

Segment = tuple[str, bool]


@dataclass
class SearchHit:
    tip: Tip
    narrative: list[Segment]
    seen_where: list[Segment]

    @property
    def where_matched(self) -> bool:
        return any(hit for _text, hit in self.seen_where)


@dataclass
class SearchPage:
    query: str
    hits: list[SearchHit]
    next_after: int | None


def terms(query: str) -> list[str]:
    """The words of a query, lower-cased, without operators: what the user typed is never
    passed to MATCH or to_tsquery as syntax."""
    seen: list[str] = []
    for word in _WORD.findall(query.lower()):
        if word not in seen:
            seen.append(word)
    return seen[:MAX_TERMS]


def _matching(
    stmt: Select[Any], session: Session, words: list[str], any_word: bool = False
) -> tuple[Select[Any], ColumnElement[int]]:
    """``stmt`` narrowed to tips matching ``words``, and the id column to order it by, newest
    first. Both engines can then walk matches newest first and stop after a page, so a search
    costs what its page costs, not what all its matches cost."""
    if session.get_bind().dialect.name == "postgresql":
        joiner = " | " if any_word else " & "
        tsquery = joiner.join(f"'{w}'" for w in words)  # quoted lexemes: no operators survive
        document: ColumnElement[Any] = literal_column(f"{Tip.__tablename__}.{fulltext.PG_COLUMN}")
        matches = document.op("@@")(text("to_tsquery('english', :tsq)").bindparams(tsq=tsquery))
        return stmt.where(matches), Tip.__table__.c.id
    joiner = " OR " if any_word else " "
    match = joiner.join('"' + w.replace('"', "") + '"' for w in words)
    # A join ordered by the FTS5 table's rowid (not ``id IN (matches)``, which collects every
    # match first): FTS5 hands rows over newest first and the LIMIT stops it.
    joined = stmt.join(_fts, _fts.c.rowid == Tip.id).where(
        text("tip_fts MATCH :m").bindparams(m=match)
    )
    return joined, _fts.c.rowid


def search_tips(
    session: Session,
    viewer: StaffUser,
    query: str,
    filters: QueueFilters | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> SearchPage:
    """Tips whose text contains every word of ``query``, newest first, under ``filters``."""
    require_reader(viewer)
    words = terms(query)
    if not words:
        return SearchPage(query=query, hits=[], next_after=None)
    stmt, newest = _matching(select(Tip), session, words)
    stmt = (
        stmt.where(tip_visibility_clause(viewer), *(filters or QueueFilters()).conditions())
        .options(selectinload(Tip.notice), selectinload(Tip.claimed_by))
        .order_by(newest.desc())
        .limit(limit + 1)
    )
    if after_id is not None:
        stmt = stmt.where(newest < after_id)
    found = list(session.scalars(stmt))
    next_after = found[limit - 1].id if len(found) > limit else None
    hits = [
        SearchHit(t, highlight(t.narrative, words), highlight(t.seen_where, words, width=160))
        for t in found[:limit]
    ]
    return SearchPage(query=query, hits=hits, next_after=next_after)


def similar_tips(session: Session, viewer: StaffUser, tip: Tip, limit: int = 5) -> list[Tip]:
    """Suggested duplicates or related tips: same notice, sharing distinctive words."""
    require_reader(viewer)
    words = [
        w
        for w in terms(
            " ".join(sorted(set(_WORD.findall(tip.narrative.lower())), key=len, reverse=True))
        )
        if len(w) >= 4
    ]
    if not words:
        return []
    stmt, newest = _matching(select(Tip), session, words, any_word=True)
    stmt = (
        stmt.where(
            tip_visibility_clause(viewer),
            Tip.id != tip.id,
            Tip.notice_id == tip.notice_id
            if tip.notice_id is not None
            else Tip.notice_id.is_(None),
        )
        .order_by(newest.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def highlight(value: str, words: list[str], width: int = 300) -> list[Segment]:
    """An excerpt of ``value`` around the first match, split into (text, matched) pieces."""
    if not value:
        return []
    pattern = re.compile(
        r"\b(?:" + "|".join(re.escape(_stem(w)) for w in words) + r")\w*", re.IGNORECASE
    )
    first = pattern.search(value)
    start = 0
    if first is not None and len(value) > width:
        start = max(0, first.start() - width // 3)
    end = min(len(value), start + width)
    excerpt = value[start:end]
    pieces: list[Segment] = []
    if start > 0:
        pieces.append(("…", False))
    position = 0
    for match in pattern.finditer(excerpt):
        if match.start() > position:
            pieces.append((excerpt[position : match.start()], False))
        pieces.append((match.group(0), True))
        position = match.end()
    if position < len(excerpt):
        pieces.append((excerpt[position:], False))
    if end < len(value):
        pieces.append(("…", False))
    return pieces


def query_hash(secret_key: str, query: str) -> str:
    """A keyed hash of a search query for the audit log: two searches for the same words can
    be matched by whoever holds the key, but the log does not hold the words."""
    key = hmac.new(secret_key.encode(), b"tipline search query", hashlib.sha256).digest()
    normal = " ".join(query.lower().split())
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()[:32]


def record_listing(
    session: Session,
    viewer: StaffUser,
    refs: list[str],
    view: str,
    query_digest: str | None = None,
) -> None:
    """Audit a queue page or search results that showed tip text (snippets): which tips, in
    which view, and for a search the keyed hash of the query. Nothing when no tip was shown."""
    require_reader(viewer)
    if not refs:
        return
    details: dict[str, object] = {"tips": refs, "view": view}
    if query_digest is not None:
        details["query_hash"] = query_digest
    action = "tips.searched" if query_digest is not None else "tips.listed"
    audit.record(session, viewer, action, "queue", view, **details)
