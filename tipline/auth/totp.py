"""The second factor: TOTP (RFC 6238, via pyotp) and one-time recovery codes.

Every staff account must have an authenticator. A code is accepted for the current 30-second
step or one step either side (clock drift), and only for a step later than the last one this
account used, so a code seen over a shoulder or in a proxy log cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import RecoveryCode, StaffUser
from tipline.db import rows_changed, utcnow

ISSUER = "Tipline"
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_CHARS = 12  # 12 x ~4.95 bits = 59 bits each


def recovery_key(secret_key: str | bytes) -> bytes:
    """The HMAC key recovery codes are hashed under, derived from the app's secret key."""
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(raw, b"tipline staff recovery codes v1", hashlib.sha256).digest()


def provisioning_uri(user: StaffUser, issuer: str = ISSUER) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    if user.totp_secret is None:
        raise ValueError("enrolment has not started")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI (allowed by the CSP's img-src)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def start_enrolment(session: Session, user: StaffUser) -> str:
    """Give ``user`` a new TOTP secret to confirm (kept until confirmed); returns it."""
    if user.totp_enrolled:
        raise ValueError("already enrolled")
    if user.totp_secret is None:
        user.totp_secret = pyotp.random_base32()  # 160 bits
        session.flush()
    return user.totp_secret


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Compare every candidate, so the time taken says nothing about which matched.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def accept_totp(session: Session, user: StaffUser, code: str, now: datetime | None = None) -> bool:
    """True if ``code`` is a fresh TOTP code for ``user``; the step is then marked used.

    The update is guarded on the stored step, so two requests racing with one code cannot
    both succeed.
    """
    if user.totp_secret is None:
        return False
    step = _matching_step(user.totp_secret, code, now or utcnow())
    if step is None:
        return False
    last = user.totp_last_step
    guard = StaffUser.totp_last_step.is_(None) if last is None else StaffUser.totp_last_step < step
    if last is not None and step <= last:
        return False
    changed = rows_changed(
        session,
        update(StaffUser)
        .where(StaffUser.id == user.id, guard)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        return False
    session.refresh(user, ["totp_last_step"])
    return True


def confirm_enrolment(
    session: Session, user: StaffUser, code: str, key: bytes, now: datetime | None = None
) -> list[str] | None:
    """Finish enrolment with a first code from the app. Returns the recovery codes (to be
    shown once), or None if the code is wrong."""
    if user.totp_enrolled or user.totp_secret is None:
        return None
    if not accept_totp(session, user, code, now):
        return None
    user.totp_enrolled_at = utcnow()
    codes = _new_recovery_codes(session, user, key)
    audit.record(session, user, "staff.totp_enrolled", "staff_user", user.id)
    return codes


def reset_totp(session: Session, user: StaffUser, actor: StaffUser | str) -> None:
    """Remove the authenticator and recovery codes; the next sign-in enrols a new one."""
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(code)
    session.flush()
    audit.record(session, actor, "staff.totp_reset", "staff_user", user.id)


def _hash_recovery(code: str, key: bytes) -> bytes:
    canonical = "".join(code.split()).replace("-", "").lower()
    return hmac.new(key, canonical.encode(), hashlib.sha256).digest()


def _new_recovery_codes(session: Session, user: StaffUser, key: bytes) -> list[str]:
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_CHARS))
        code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        session.add(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(code, key)))
        codes.append(code)
    session.flush()
    return codes


def accept_recovery_code(session: Session, user: StaffUser, code: str, key: bytes) -> bool:
    """True if ``code`` is one of ``user``'s unused recovery codes; it is then used up."""
    changed = rows_changed(
        session,
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_recovery(code, key),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        return False
    audit.record(session, user, "staff.recovery_code_used", "staff_user", user.id)
    return True


def recovery_codes_left(session: Session, user: StaffUser) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )
