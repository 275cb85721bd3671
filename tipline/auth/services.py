"""Staff accounts: passwords, sign-in with a second factor and throttling, and the changes an
administrator makes. Passwords are hashed with argon2id (OWASP parameters)."""

from __future__ import annotations

import enum
import gzip
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Self

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth import sessions, totp
from tipline.auth.models import TIP_READERS, LoginThrottle, Role, StaffUser, Unit
from tipline.db import rows_changed, utcnow

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("tipline-no-such-user")
# Django's list of 20,000 common passwords (BSD licence, see data/common-passwords.LICENSE).
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt.gz"
MAX_PASSWORD_LENGTH = 1024


class PasswordRejected(ValueError):
    """The new password does not meet the rules; the message says why."""


class UsernameTaken(ValueError):
    pass


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str, min_length: int, username: str = "") -> None:
    """Length rules (NIST SP 800-63B: long, no composition rules) and no common password."""
    if len(password) < min_length:
        raise PasswordRejected(f"The password must be at least {min_length} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected("The password must be at most 1024 characters long.")
    folded = password.strip().lower()
    name = username.strip().lower()
    if folded in common_passwords() or (len(name) >= 4 and name in folded):
        raise PasswordRejected(
            "That password is too easy to guess: it is on a list of common passwords or "
            "contains the username. Choose another, for example four random words."
        )


def new_temporary_password() -> str:
    """A password an administrator hands over once, for a first sign-in (96 bits)."""
    return "-".join(secrets.token_hex(3) for _ in range(4))


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    actor: StaffUser | str,
    min_length: int = 12,
    unit: Unit | None = None,
    handed_over: bool = False,
) -> StaffUser:
    """Create a staff account; refuses a taken username or a password that breaks the rules.
    The account has no authenticator yet: its first sign-in enrols one. A ``handed_over``
    password (an administrator's one-time password) must be changed at the first sign-in,
    and a new tip reader made that way is reported to the supervisors."""
    username = username.strip()
    if not username or len(username) > 64:
        raise ValueError("The username must be 1 to 64 characters long.")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise UsernameTaken(f"There is already a staff account named {username!r}.")
    check_password_rules(password, min_length, username)
    user = StaffUser(
        username=username,
        password_hash=hash_password(password),
        role=role,
        unit=unit,
        password_change_required=handed_over,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "staff.created", "staff_user", user.id, role=role.value)
    if handed_over and role in TIP_READERS:
        alert_supervisors(session, actor, user, "created a tip reader")
    return user


#: The audit action supervisors are shown and e-mailed: an administrator's act that could let
#: them read tips as someone (a new tip reader, more access, a reset password or authenticator).
ACCESS_ALERT = "staff.access_alert"


def alert_supervisors(session: Session, actor: StaffUser | str, user: StaffUser, what: str) -> int:
    """Record an access alert for the supervisors' oversight page (the caller queues the
    e-mail after commit with the returned event id)."""
    event = audit.record(
        session,
        actor,
        ACCESS_ALERT,
        "staff_user",
        user.id,
        what=what,
        username=user.username,
        role=user.role.value,
    )
    return event.id


def latest_alert_id(session: Session, user: StaffUser) -> int | None:
    """The newest access alert about ``user`` (flushed or committed), if any."""
    found = audit.events_for(session, "staff_user", user.id)
    ids = [e.id for e in found if e.action == ACCESS_ALERT]
    return ids[-1] if ids else None


def _store_password(
    session: Session,
    user: StaffUser,
    password: str,
    min_length: int,
    ended: str,
    must_change: bool | None = None,
) -> None:
    """Give ``user`` a new password, which must pass the rules; every session of theirs ends
    (``ended`` says why). ``must_change`` sets whether they must choose another at the next
    sign-in (None leaves it as it is)."""
    check_password_rules(password, min_length, user.username)
    user.password_hash = hash_password(password)
    if must_change is not None:
        user.password_change_required = must_change
    sessions.end_all_sessions(session, user, ended)


def reset_password(
    session: Session, user: StaffUser, actor: StaffUser, min_length: int = 12
) -> tuple[str, int]:
    """An administrator resets a staff member's password: a one-time password (returned, shown
    once), every session of theirs ends, they must choose their own at the next sign-in, and
    the supervisors are alerted. Returns the password and the alert's event id."""
    if user.id == actor.id:
        raise ValueError("Change your own password on the Password page.")
    password = new_temporary_password()
    _store_password(session, user, password, min_length, "password_reset", must_change=True)
    session.flush()
    audit.record(session, actor, "staff.password_reset", "staff_user", user.id)
    return password, alert_supervisors(session, actor, user, "reset the password")


def set_password(
    session: Session, user: StaffUser, password: str, actor: StaffUser | str, min_length: int = 12
) -> None:
    """Replace a staff member's password, ending every session they have open."""
    _store_password(session, user, password, min_length, "password_set")
    session.flush()
    audit.record(session, actor, "staff.password_set", "staff_user", user.id)


def change_password(
    session: Session, user: StaffUser, current: str, new: str, min_length: int = 12
) -> None:
    """The staff member changes their own password; every session of theirs ends, this one
    included, so a stolen cookie stops working too."""
    if not _verify(user.password_hash, current):
        raise PasswordRejected(WRONG_CURRENT)
    if hmac.compare_digest(current.encode(), new.encode()):
        raise PasswordRejected("The new password must be different from the current one.")
    _store_password(session, user, new, min_length, "password_changed", must_change=False)
    session.flush()
    audit.record(session, user, "staff.password_changed", "staff_user", user.id)


WRONG_CURRENT = "Your current password is not right."
TOO_MANY_CURRENT = "Too many wrong passwords were tried. Please wait a few minutes and try again."


def refuse_if_locked(session: Session, user: StaffUser, keys: SignInKeys, now: datetime) -> None:
    """Before a password change: a name locked by wrong passwords (at sign-in or here) cannot
    try its current password either, so a left-open session is no password oracle."""
    name_hash = hmac.new(keys.throttle, user.username.lower().encode(), hashlib.sha256)
    locked = select(LoginThrottle.locked_until).where(LoginThrottle.name_hash == name_hash.digest())
    if _is_locked(session.scalar(locked), now):
        raise PasswordRejected(TOO_MANY_CURRENT)


def record_wrong_current_password(
    session: Session, user: StaffUser, keys: SignInKeys, rules: ThrottleRules, now: datetime
) -> None:
    """A wrong current password on the change form counts as a failed sign-in of that name
    (audited, and locking it like one). The caller commits it on its own, after the change
    itself was rolled back."""
    name_hash = hmac.new(keys.throttle, user.username.lower().encode(), hashlib.sha256)
    row = throttle_row(session, name_hash.digest(), now)
    _record_failure(session, row, user, rules, now, "current_password")


def set_role(
    session: Session, user: StaffUser, role: Role, unit: Unit | None, actor: StaffUser
) -> None:
    """Change what a staff member does (and their unit). Administrators cannot change their
    own role, so nobody locks the last administrator out by mistake."""
    if user.id == actor.id and role is not user.role:
        raise ValueError("You cannot change your own role. Ask another administrator.")
    before = (user.role.value, user.unit.name if user.unit else None)
    previous = user.role
    user.role, user.unit = role, unit
    more_access = role in TIP_READERS and (
        previous not in TIP_READERS or (role is Role.SUPERVISOR and previous is not role)
    )
    if more_access:
        # A password someone else may know stops working: they choose their own first.
        user.password_change_required = True
    session.flush()
    audit.record(
        session,
        actor,
        "staff.role_changed",
        "staff_user",
        user.id,
        before={"role": before[0], "unit": before[1]},
        after={"role": user.role.value, "unit": unit.name if unit else None},
    )
    if more_access:
        alert_supervisors(session, actor, user, f"gave {role.label} access")


def set_active(session: Session, user: StaffUser, active: bool, actor: StaffUser) -> None:
    """Disable (ending every session at once) or re-enable an account. Nothing is deleted."""
    if user.id == actor.id and not active:
        raise ValueError("You cannot disable your own account.")
    user.active = active
    if not active:
        sessions.end_all_sessions(session, user, "disabled")
    session.flush()
    audit.record(
        session, actor, "staff.enabled" if active else "staff.disabled", "staff_user", user.id
    )


def reset_second_factor(session: Session, user: StaffUser, actor: StaffUser | str) -> int:
    """Remove the authenticator (lost phone); their sessions end, the next sign-in enrols a
    new one and then asks for a new password, and the supervisors are alerted. Returns the
    alert's event id."""
    totp.reset_totp(session, user, actor)
    sessions.end_all_sessions(session, user, "totp_reset")
    user.password_change_required = True
    session.flush()
    return alert_supervisors(session, actor, user, "reset the authenticator")


# --- signing in -------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    SIGNED_IN = "signed_in"
    ENROL = "enrol"  # right password, no authenticator yet: enrol one before anything else
    FAILED = "failed"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignIn:
    outcome: Outcome
    user: StaffUser | None = None


@dataclass(frozen=True)
class ThrottleRules:
    """The sixth failure within a minute locks that username for fifteen minutes."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=1)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, config: Any, prefix: str = "LOGIN") -> Self:
        """The rules from ``<prefix>_MAX_FAILURES``, ``_FAILURE_WINDOW_SECONDS`` and
        ``_LOCKOUT_SECONDS`` (sign-in: LOGIN; the payout desk: PAYOUT)."""
        return cls(
            max_failures=int(config[f"{prefix}_MAX_FAILURES"]),
            window=timedelta(seconds=int(config[f"{prefix}_FAILURE_WINDOW_SECONDS"])),
            lockout=timedelta(seconds=int(config[f"{prefix}_LOCKOUT_SECONDS"])),
        )


@dataclass(frozen=True)
class SignInKeys:
    throttle: bytes
    recovery: bytes
    #: The data key the TOTP secrets are sealed under (``tipline.sealing``).
    data: bytes | str | None

    @classmethod
    def from_secret(cls, secret_key: str | bytes, data_key: bytes | str | None) -> SignInKeys:
        raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
        throttle = hmac.new(raw, b"tipline login throttle v1", hashlib.sha256).digest()
        return cls(throttle=throttle, recovery=totp.recovery_key(raw), data=data_key)

    @classmethod
    def from_config(cls, config: Any) -> SignInKeys:
        return cls.from_secret(config["SECRET_KEY"], config["DATA_KEY"])


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def throttle_row(session: Session, name_hash: bytes, now: datetime) -> LoginThrottle:
    """The name's throttle row, held until the transaction ends (also the payout desk's
    wrong-code counter, under a key of its own).

    Held, because the failure count is read here and written back: without the row lock,
    parallel guesses on PostgreSQL all read the same count and each write back one more, so a
    burst of them counts as one failure. (SQLite requests already hold the write lock.)
    """
    query = (
        select(LoginThrottle)
        .where(LoginThrottle.name_hash == name_hash)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():  # another request may create it at the same moment
            row = LoginThrottle(name_hash=name_hash, window_started_at=now, failures=0)
            session.add(row)
    except IntegrityError:
        row = session.scalar(query)
        assert row is not None
    return row


def _record_failure(
    session: Session,
    row: LoginThrottle,
    user: StaffUser | None,
    rules: ThrottleRules,
    now: datetime,
    reason: str,
) -> Outcome:
    if now - row.window_started_at > rules.window:
        row.window_started_at, row.failures = now, 0
    row.failures += 1
    # Failures on names that do not exist are audited under the keyed hash, never the text
    # typed (people type passwords into the username box).
    target = ("staff_user", user.id) if user else ("login_name", row.name_hash.hex()[:16])
    audit.record(session, audit.SYSTEM, "staff.login_failed", *target, reason=reason)
    if row.failures > rules.max_failures:
        row.locked_until = now + rules.lockout
        row.failures = 0
        audit.record(
            session, audit.SYSTEM, "staff.locked_out", *target, until=row.locked_until.isoformat()
        )
        session.flush()
        return Outcome.LOCKED
    session.flush()
    return Outcome.FAILED


def prune_login_throttle(session: Session, now: datetime, rules: ThrottleRules, limit: int) -> int:
    """Delete up to ``limit`` throttle rows that count nothing any more: their window has
    passed and they hold no lockout. Such a row changes no answer (the next failure starts a
    new window), but a spray of made-up names leaves one row per name. Returns how many
    went. The outer condition repeats the inner one so that, on PostgreSQL, a row a sign-in
    has just refreshed under its lock is re-checked and kept."""
    stale = (
        LoginThrottle.window_started_at <= now - rules.window,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
    )
    batch = select(LoginThrottle.id).where(*stale).order_by(LoginThrottle.id).limit(limit)
    return rows_changed(session, delete(LoginThrottle).where(LoginThrottle.id.in_(batch), *stale))


def _is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def _refuse_locked(session: Session, user: StaffUser | None, name_hash: bytes) -> SignIn:
    target = ("staff_user", user.id) if user else ("login_name", name_hash.hex()[:16])
    audit.record(session, audit.SYSTEM, "staff.login_refused_locked", *target)
    return SignIn(Outcome.LOCKED)


def _sign_in_while_locked(
    session: Session,
    user: StaffUser | None,
    name_hash: bytes,
    password: str,
    code: str,
    data_key: bytes | str | None,
    now: datetime,
) -> SignIn:
    """A locked name still admits its owner: the right password and a current authenticator
    code together. A lockout then only slows guessing (which needs both) and cannot be used
    by an outsider to keep a chosen staff member out. Anything less is refused as locked,
    with no hint of which part was right."""
    password_ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    if (
        user is not None
        and password_ok
        and user.active
        and user.totp_enrolled
        and totp.accept_totp(session, user, code, data_key, now)
    ):
        user.last_login_at = now
        audit.record(session, user, "staff.login_while_locked", "staff_user", user.id)
        session.flush()
        return SignIn(Outcome.SIGNED_IN, user)
    return _refuse_locked(session, user, name_hash)


def unlock_sign_in(session: Session, user: StaffUser, actor: StaffUser, keys: SignInKeys) -> bool:
    """An administrator lifts a lockout on ``user``'s name (audited). True if one was set."""
    if actor.role is not Role.ADMIN or not actor.active:
        raise PermissionError("Only an administrator can lift a lockout.")
    name_hash = hmac.new(keys.throttle, user.username.lower().encode(), hashlib.sha256).digest()
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.name_hash == name_hash))
    was_locked = row is not None and row.locked_until is not None
    if row is not None:
        row.failures, row.locked_until = 0, None
    session.flush()
    audit.record(session, actor, "staff.unlocked", "staff_user", user.id, was_locked=was_locked)
    return was_locked


def sign_in(
    session: Session,
    username: str,
    password: str,
    code: str,
    keys: SignInKeys,
    rules: ThrottleRules | None = None,
    now: datetime | None = None,
) -> SignIn:
    """Check a sign-in: username, password and a TOTP or recovery code.

    Unknown users and wrong passwords take the same time and give the same answer, and are
    throttled alike. An account without an authenticator gets ``ENROL`` on a right password
    and must enrol one before it can open anything. SealBroken when the TOTP secret does not
    open under ``keys.data`` (a server fault: nothing is counted against the account).
    """
    rules = rules or ThrottleRules()
    now = now or utcnow()
    name = username.strip()
    name_hash = hmac.new(keys.throttle, name.lower().encode(), hashlib.sha256).digest()
    user = session.scalar(select(StaffUser).where(StaffUser.username == name))
    locked = select(LoginThrottle.locked_until).where(LoginThrottle.name_hash == name_hash)
    if _is_locked(session.scalar(locked), now):
        return _sign_in_while_locked(session, user, name_hash, password, code, keys.data, now)
    # The slow password check runs before any lock is taken: the throttle row's lock comes
    # with the writers' lock on PostgreSQL (tipline.db), which tips wait for.
    password_ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    row = throttle_row(session, name_hash, now)
    if _is_locked(row.locked_until, now):  # locked by a parallel guess meanwhile
        return _refuse_locked(session, user, name_hash)
    if user is None or not password_ok or not user.active:
        return SignIn(_record_failure(session, row, user, rules, now, "password"))

    if not user.totp_enrolled:
        outcome = Outcome.ENROL
    elif totp.accept_totp(session, user, code, keys.data, now) or (
        len(code.strip()) > 6 and totp.accept_recovery_code(session, user, code, keys.recovery)
    ):
        outcome = Outcome.SIGNED_IN
    else:
        return SignIn(_record_failure(session, row, user, rules, now, "second_factor"))

    row.failures, row.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if outcome is Outcome.SIGNED_IN:
        user.last_login_at = now
        audit.record(session, user, "staff.login", "staff_user", user.id)
    else:
        audit.record(session, user, "staff.login_enrolment_started", "staff_user", user.id)
    session.flush()
    return SignIn(outcome, user)


def confirm_enrolment(
    session: Session,
    user: StaffUser,
    code: str,
    keys: SignInKeys,
    rules: ThrottleRules | None = None,
    now: datetime | None = None,
) -> list[str] | None:
    """Finish enrolling ``user``'s authenticator with a first code. Returns the recovery codes
    to show once, or None for a wrong code, which counts as a failed sign-in (throttled)."""
    rules = rules or ThrottleRules()
    now = now or utcnow()
    codes = totp.confirm_enrolment(session, user, code, keys.recovery, keys.data, now)
    if codes is None:
        name_hash = hmac.new(keys.throttle, user.username.lower().encode(), hashlib.sha256)
        row = throttle_row(session, name_hash.digest(), now)
        _record_failure(session, row, user, rules, now, "enrolment_code")
        if row.locked_until is not None and row.locked_until > now:
            sessions.end_all_sessions(session, user, "locked_out")
        return None
    user.last_login_at = now
    return codes


def list_staff(session: Session) -> list[StaffUser]:
    """Every staff account, active first, then by name (for administrators)."""
    return list(
        session.scalars(select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.username))
    )


def get_staff(session: Session, user_id: int) -> StaffUser | None:
    return session.get(StaffUser, user_id)
