"""The second factor: TOTP (RFC 6238, via pyotp) and one-time recovery codes.

Every staff account must have an authenticator. A code is accepted for the current 30-second
step or one step either side (clock drift), and only for a step later than the last one this
account used, so a code seen over a shoulder or in a proxy log cannot be replayed.

The secret is sealed under the data key (``tipline.sealing``, bound to the account's id), so
a copy of the database does not yield anyone's second factor. A secret stored in clear before
secrets were sealed is still read, and sealed at its owner's next accepted code or by
`tipline user seal-totp` (``seal_clear_secrets``). A wrong data key raises ``SealBroken``: a
code is then neither accepted nor counted as wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tipline import audit, sealing
from tipline.audit import verify
from tipline.auth.models import RecoveryCode, StaffUser
from tipline.db import rows_changed, utcnow

DataKey = bytes | str | None

ISSUER = "Tipline"
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_CHARS = 12  # 12 x ~4.95 bits = 59 bits each


def recovery_key(secret_key: str | bytes) -> bytes:
    """The HMAC key recovery codes are hashed under, derived from the app's secret key."""
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(raw, b"tipline staff recovery codes v1", hashlib.sha256).digest()


def _context(user: StaffUser) -> str:
    return f"staff-totp:{user.id}"


def secret_of(user: StaffUser, data_key: DataKey) -> str | None:
    """``user``'s TOTP secret (base32), or None before enrolment starts. SealBroken when the
    sealed secret does not open under ``data_key``."""
    if user.totp_sealed is not None:
        return sealing.unseal(data_key, user.totp_sealed, _context(user)).decode()
    return user.totp_secret_clear


def _store_sealed(user: StaffUser, secret: str, data_key: DataKey) -> None:
    user.totp_sealed = sealing.seal(data_key, secret.encode(), _context(user))
    user.totp_secret_clear = None


def provisioning_uri(user: StaffUser, secret: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI (allowed by the CSP's img-src)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def start_enrolment(session: Session, user: StaffUser, data_key: DataKey) -> str:
    """Give ``user`` a new TOTP secret to confirm (kept, sealed, until confirmed); returns
    it in clear, for the enrolment page only."""
    if user.totp_enrolled:
        raise ValueError("already enrolled")
    secret = secret_of(user, data_key)
    if secret is None or user.totp_sealed is None:
        if user.id is None:
            session.flush()  # the sealed value is bound to the account's id
        secret = secret or pyotp.random_base32()  # 160 bits
        _store_sealed(user, secret, data_key)
        session.flush()
    return secret


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


def accept_totp(
    session: Session, user: StaffUser, code: str, data_key: DataKey, now: datetime | None = None
) -> bool:
    """True if ``code`` is a fresh TOTP code for ``user``; the step is then marked used, and
    a secret still stored in clear is sealed.

    The update is guarded on the stored step, so two requests racing with one code cannot
    both succeed. SealBroken if the secret does not open under ``data_key``.
    """
    secret = secret_of(user, data_key)
    if secret is None:
        return False
    step = _matching_step(secret, code, now or utcnow())
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
    if user.totp_sealed is None:
        _store_sealed(user, secret, data_key)
        session.flush()
        audit.record(session, user, "staff.totp_sealed", "staff_user", user.id, at="sign-in")
    return True


def clear_secret_count(session: Session) -> int:
    """How many accounts still have their TOTP secret stored in clear."""
    found = select(func.count()).where(StaffUser.totp_secret_clear.is_not(None))
    return session.scalar(found) or 0


def report_clear_secrets(session: Session, report: verify.Report) -> None:
    """For `tipline audit verify`: name how many TOTP secrets are still stored in clear (a
    note, not a failure: they are from before secrets were sealed)."""
    left = clear_secret_count(session)
    if left:
        report.notes.append(
            f"{left} staff authenticator secret(s) are stored in clear, so a copy of the "
            "database yields them: run `tipline user seal-totp` (each is also sealed at its "
            "owner's next sign-in)."
        )


def seal_clear_secrets(session: Session, data_key: DataKey) -> list[StaffUser]:
    """Seal every TOTP secret still stored in clear (audited per account); returns the
    accounts sealed. SealBroken, before anything changes, when ``data_key`` is unusable."""
    sealing.seal(data_key, b"", "staff-totp:key-check")
    sealed = []
    for user in session.scalars(
        select(StaffUser).where(StaffUser.totp_secret_clear.is_not(None)).order_by(StaffUser.id)
    ):
        _store_sealed(user, user.totp_secret_clear or "", data_key)
        sealed.append(user)
    session.flush()
    for user in sealed:
        audit.record(session, audit.SYSTEM, "staff.totp_sealed", "staff_user", user.id, at="cli")
    return sealed


def unopenable_secrets(session: Session, data_key: DataKey) -> list[StaffUser]:
    """The accounts whose sealed TOTP secret does not open under ``data_key`` (a wrong key,
    or changed bytes): they cannot sign in until the right key is configured."""
    broken = []
    for user in session.scalars(
        select(StaffUser).where(StaffUser.totp_sealed.is_not(None)).order_by(StaffUser.id)
    ):
        try:
            secret_of(user, data_key)
        except sealing.SealBroken:
            broken.append(user)
    return broken


def confirm_enrolment(
    session: Session,
    user: StaffUser,
    code: str,
    key: bytes,
    data_key: DataKey,
    now: datetime | None = None,
) -> list[str] | None:
    """Finish enrolment with a first code from the app. Returns the recovery codes (to be
    shown once), or None if the code is wrong."""
    if user.totp_enrolled or not user.has_totp_secret:
        return None
    if not accept_totp(session, user, code, data_key, now):
        return None
    user.totp_enrolled_at = utcnow()
    codes = _new_recovery_codes(session, user, key)
    audit.record(session, user, "staff.totp_enrolled", "staff_user", user.id)
    return codes


def reset_totp(session: Session, user: StaffUser, actor: StaffUser | str) -> None:
    """Remove the authenticator and recovery codes; the next sign-in enrols a new one."""
    user.totp_sealed = None
    user.totp_secret_clear = None
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
