"""Receiving tips. The rules for what a tip must carry live here, not in the form."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnDefault, bindparam, insert, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from tipline import audit, db, sealing
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.notices.models import NoticeStatus
from tipline.tips import attachments, fields, intake, integrity, receipts
from tipline.tips.attachments import PhotoLimits
from tipline.tips.models import Tip, TipStatus, TipSubmission


@dataclass(frozen=True)
class TipReport:
    """What a tipster tells us, already parsed from the form: one attribute per declared tip
    field (tips/fields.py), written out so that callers and mypy see them."""

    narrative: str
    seen_when: str = ""
    seen_where: str = ""
    there_now: bool = False
    landmark: str = ""
    activity: str = ""
    companions: str = ""
    vehicle_make: str = ""
    vehicle_colour: str = ""
    vehicle_plate: str = ""
    direction: str = ""
    how_known: str = ""
    # Only when the tipster wants to be called back; sealed before it is stored.
    contact: str = ""

    def has_words(self) -> bool:
        """Whether anything was written in any of the tip's text fields."""
        return any(clean_text(value) for value in vars(self).values() if isinstance(value, str))


class NoticeRef(Protocol):
    """What a tip needs of its notice: a ``Notice``, or a plain record read for the tip form
    (``triage.intake.TipTarget``)."""

    @property
    def id(self) -> int: ...

    @property
    def slug(self) -> str: ...

    @property
    def status(self) -> NoticeStatus: ...


class NoticeNotOpen(LookupError):
    """The notice does not exist or is not taking tips."""


class AlreadyReceived(Exception):
    """This form was already sent: the earlier tip, and its code while it can still be shown."""

    def __init__(self, tip: Tip, code: str | None) -> None:
        super().__init__(tip.public_ref)
        self.tip = tip
        self.code = code


def clean_text(value: str) -> str:
    """Trimmed text without NUL characters (PostgreSQL refuses them in text columns)."""
    return value.replace("\x00", "").strip()


def _stored(field: fields.TipField, value: str | bool) -> str | bool:
    """What is stored for a declared field (not a sealed one) from what the form carried."""
    if field.flag:
        return bool(value)
    text = clean_text(str(value))
    return text.upper() if field.verbatim else text


def _token_hash(receipt_key: bytes, token: str) -> bytes:
    return hmac.new(receipt_key, b"tip-form-token:" + token.encode(), hashlib.sha256).digest()


def _token_cipher(data_key: bytes | str | None, token: str) -> bytes:
    """A key only the form's holder can rebuild: the data key alone does not open the code.
    SealBroken without a usable data key, as for everything else sealed under it."""
    base = sealing.key_bytes(data_key)
    return hmac.new(base, b"tip-form-token:" + token.encode(), hashlib.sha256).digest()


def _replay(
    session: Session,
    receipt_key: bytes,
    data_key: bytes | str | None,
    token: str,
    window: timedelta,
) -> None:
    """Raise AlreadyReceived if this form token was used before."""
    done = session.scalar(
        select(TipSubmission).where(TipSubmission.token_hash == _token_hash(receipt_key, token))
    )
    if done is None:
        return
    tip = session.get(Tip, done.tip_id)
    assert tip is not None
    code = None
    if done.sealed_code is not None and utcnow() - done.created_at <= window:
        key = _token_cipher(data_key, token)
        code = sealing.unseal(key, done.sealed_code, f"tip-submission:{tip.public_ref}").decode()
    raise AlreadyReceived(tip, code)


def shown_again(
    session: Session,
    receipt_key: bytes,
    data_key: bytes | str | None,
    form_token: str,
    window: timedelta,
) -> tuple[Tip, str | None] | None:
    """The tip sent with ``form_token`` and, within ``window``, its receipt code again (only
    the browser that holds the token can open it); None if that form sent no tip."""
    try:
        _replay(session, receipt_key, data_key, form_token, window)
    except AlreadyReceived as done:
        return done.tip, done.code
    return None


def submit_tip(
    session: Session,
    report: TipReport,
    receipt_key: bytes,
    notice: NoticeRef | None = None,
    operator: StaffUser | None = None,
    *,
    photos: Sequence[bytes] = (),
    data_key: bytes | str | None = None,
    form_token: str | None = None,
    look_up_form_token: bool = True,
    photo_limits: PhotoLimits = PhotoLimits(),  # noqa: B008 - frozen, shared safely
    replay_window: timedelta = timedelta(minutes=30),
    possible_flood: bool = False,
    caller_dialog: bool = False,
    language: str = "",
) -> tuple[Tip, str]:
    """Record a tip and return it with its receipt code (the only plain copy of the code).

    With ``form_token``, a second submit of the same form raises AlreadyReceived instead of
    making a second tip. With ``look_up_form_token`` False the token is not looked up first:
    the unique index on it refuses a second submit at the flush (IntegrityError), and the
    caller rolls back and calls again with the lookup, which then raises AlreadyReceived.
    Photos are checked and rebuilt before anything is written (PhotoRejected); photos and
    contact details are sealed under ``data_key``. The caller must commit before showing
    the code: acknowledged means persisted.
    """
    if form_token is not None and look_up_form_token:
        _replay(session, receipt_key, data_key, form_token, replay_window)
    if not clean_text(report.narrative):
        raise ValueError("A tip needs some words about what was seen.")
    if notice is not None and notice.status is not NoticeStatus.PUBLISHED:
        raise NoticeNotOpen(notice.slug)
    images = attachments.clean_photos(photos, photo_limits)
    code = receipts.new_receipt_code()
    ref = receipts.new_public_ref()
    contact = clean_text(report.contact)
    given = {
        f.stored_in: _stored(f, getattr(report, f.name)) for f in fields.TIP_FIELDS if not f.sealed
    }
    tip = Tip(
        public_ref=ref,
        receipt_hash=receipts.hash_code(receipt_key, code),
        # The id alone: the notice need not be an ORM object of this session, and once the
        # tip is flushed ``tip.notice`` loads from the identity map or the database.
        notice_id=notice.id if notice is not None else None,
        language=language[:8],
        **given,
        contact_sealed=(
            sealing.seal(data_key, contact.encode(), f"tip-contact:{ref}") if contact else None
        ),
        status=TipStatus.NEW,
        operator=operator,
        operator_id=operator.id if operator is not None else None,
        possible_flood=possible_flood,
        caller_dialog=caller_dialog,
    )
    submission = None
    if form_token is not None:
        submission = {
            "token_hash": _token_hash(receipt_key, form_token),
            "sealed_code": sealing.seal(
                _token_cipher(data_key, form_token), code.encode(), f"tip-submission:{ref}"
            ),
            "created_at": utcnow(),
        }
    # The unique index on the form token refuses a second submit of the same form here.
    _write(session, tip, submission)
    stored: list = []
    if images:
        stored = attachments.store_photos(session, tip, images, data_key)
    extra: dict[str, object] = {"photos": len(images)} if images else {}
    if possible_flood:
        extra["possible_flood"] = True
    audit.record(
        session,
        operator if operator is not None else audit.PUBLIC,
        "tip.received",
        "tip",
        tip.public_ref,
        notice=notice.slug if notice else None,
        there_now=report.there_now,
        **extra,
        **integrity.received_details(tip, stored),
    )
    return tip, code


def _write(session: Session, tip: Tip, submission: dict[str, object] | None) -> None:
    """Write a new tip (and its form's submission row) with plain INSERTs and put the tip in
    ``session`` as if it had been loaded, then run what every new tip gets (``intake``: its
    priority and due time first, the ``on_received`` hooks after). The unit of work cost a
    tip POST more than its INSERT did. The chain lock is taken before the first write
    (``tipline.db``), as for any write."""
    db.require_writable(session)
    intake.prioritise(session, tip)
    state = inspect(tip)
    row = {
        key: state.dict[key] if key in state.dict else default()
        for key, default in _TIP_DEFAULTS.items()
    }
    connection = session.connection()
    if submission is not None and connection.dialect.name == "postgresql":
        # The tip and its submission in one statement: one round trip, not two.
        tip.id = connection.execute(_INSERT_TIP_WITH_SUBMISSION, {**row, **submission}).scalar_one()
    else:
        written = connection.execute(_INSERT_TIP, row).inserted_primary_key
        assert written is not None  # a single-row INSERT always reports its key
        tip.id = written[0]
        if submission is not None:
            connection.execute(_INSERT_SUBMISSION, {**submission, "tip_id": tip.id})
    for key, value in row.items():  # what the row holds; reading it back costs no query
        if key not in state.dict:
            set_committed_value(tip, key, value)
    make_transient_to_detached(tip)
    session.add(tip)
    intake.received(session, tip)


def _column_default(column: Any) -> Callable[[], object]:
    """A column's Python-side default as a function of nothing (None where it has none)."""
    default = column.default
    if not isinstance(default, ColumnDefault):
        return lambda: None
    if default.is_callable:
        return functools.partial(default.arg, None)
    value = default.arg
    return lambda: value


#: The columns a new tip's INSERT names (all but the id, and any the database alone fills),
#: with what each holds when the tip does not say.
_TIP_DEFAULTS = {
    attr.key: _column_default(attr.columns[0])
    for attr in inspect(Tip).column_attrs
    if attr.key != "id" and not (attr.columns[0].server_default and not attr.columns[0].default)
}
_INSERT_SUBMISSION = insert(TipSubmission)
_INSERT_TIP = insert(Tip).values({key: bindparam(key) for key in _TIP_DEFAULTS})
_NEW_TIP = _INSERT_TIP.returning(Tip.id).cte("new_tip")
_INSERT_TIP_WITH_SUBMISSION = select(_NEW_TIP.c.id).add_cte(
    insert(TipSubmission)
    .from_select(
        ["token_hash", "sealed_code", "created_at", "tip_id"],
        select(
            bindparam("token_hash", type_=TipSubmission.token_hash.type),
            bindparam("sealed_code", type_=TipSubmission.sealed_code.type),
            bindparam("created_at", type_=TipSubmission.created_at.type),
            _NEW_TIP.c.id,
        ),
    )
    .cte("new_submission")
)


def contact_details(tip: Tip, data_key: bytes | str | None) -> str | None:
    """The contact details the tipster volunteered, or None; SealBroken on a wrong key."""
    if tip.contact_sealed is None:
        return None
    return sealing.unseal(data_key, tip.contact_sealed, f"tip-contact:{tip.public_ref}").decode()


# A fixed stand-in hashed and looked up when a typed code is malformed, so that any wrong code
# costs the same work (one HMAC, one indexed query) and gets the same answer.
_DECOY_CODE = "0" * receipts.CODE_CHARS


def find_by_receipt(session: Session, receipt_key: bytes, typed_code: str) -> Tip | None:
    """The tip a receipt code belongs to, or None for anything else."""
    canonical = receipts.normalise_code(typed_code)
    digest = receipts.hash_code(receipt_key, canonical or _DECOY_CODE)
    tip = session.scalar(select(Tip).where(Tip.receipt_hash == digest))
    return tip if canonical is not None else None
