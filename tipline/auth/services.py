"""Staff passwords and sign-in. Passwords are hashed with argon2id (OWASP parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import Role, StaffUser
from tipline.db import utcnow

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("tipline-no-such-user")


class PasswordRejected(ValueError):
    """The new password does not meet the rules; the message says why."""


class UsernameTaken(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise PasswordRejected(f"The password must be at least {min_length} characters long.")
    if len(password) > 1024:
        raise PasswordRejected("The password must be at most 1024 characters long.")


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    actor: StaffUser | str,
    min_length: int = 12,
) -> StaffUser:
    """Create a staff account; refuses a taken username or a password that breaks the rules."""
    username = username.strip()
    if not username or len(username) > 64:
        raise ValueError("The username must be 1 to 64 characters long.")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise UsernameTaken(f"There is already a staff account named {username!r}.")
    check_password_rules(password, min_length)
    user = StaffUser(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    audit.record(session, actor, "staff.created", "staff_user", user.id, role=role.value)
    return user


def set_password(
    session: Session, user: StaffUser, password: str, actor: StaffUser | str, min_length: int = 12
) -> None:
    """Replace a staff member's password."""
    check_password_rules(password, min_length)
    user.password_hash = hash_password(password)
    session.flush()
    audit.record(session, actor, "staff.password_set", "staff_user", user.id)


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """Return the active user whose password matches, or None. Records the attempt.

    Unknown users and wrong passwords take the same time and give the same answer.
    """
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
    candidate_hash = user.password_hash if user is not None else _DUMMY_HASH
    try:
        ok = _hasher.verify(candidate_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if user is None or not ok or not user.active:
        if user is not None:
            audit.record(session, audit.SYSTEM, "staff.login_failed", "staff_user", user.id)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit.record(session, user, "staff.login", "staff_user", user.id)
    return user
