"""Staff accounts, their second factor and their server-side sessions. The public never has
an account."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.db import Base, enum_column, utcnow


class Role(enum.StrEnum):
    DETECTIVE = "detective"
    SUPERVISOR = "supervisor"
    PIO = "pio"
    ADMIN = "admin"
    CALL_TAKER = "call-taker"
    COORDINATOR = "coordinator"  # Crime Stoppers: rewards, never the tipster's contact details
    PAYOUT_DESK = "payout-desk"  # checks a payout code and records the payment, nothing else

    @property
    def label(self) -> str:
        return {
            "pio": "Public Information Officer",
            "call-taker": "Call-taker",
            "coordinator": "Crime Stoppers coordinator",
            "payout-desk": "Payout desk",
        }.get(self.value, self.value.capitalize())


#: Roles that read tip contents. PIOs, admins and call-takers never do.
TIP_READERS = frozenset({Role.DETECTIVE, Role.SUPERVISOR})


class Unit(Base):
    """An investigating unit (Homicide, Fugitive...). Administrators keep the list; a notice
    may carry one, and a detective with one reads only tips on that unit's notices and tips
    on no notice (docs/triage.md)."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Unit {self.name}>"


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # A detective with a unit reads only tips on their unit's notices (and tips on no notice).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    unit: Mapped[Unit | None] = relationship()
    # Set when an administrator handed over the password or gave access to tips: the next
    # request of theirs goes to the password page until they choose their own.
    password_change_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    # TOTP (RFC 6238): the secret, set when enrolment starts, sealed under the data key
    # (tipline.sealing; read it with auth.totp.secret_of); enrolled once confirmed.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A secret stored in clear before secrets were sealed (column ``totp_secret``): still
    # read, sealed at its owner's next sign-in or by `tipline user seal-totp`. Never written.
    totp_secret_clear: Mapped[str | None] = mapped_column("totp_secret", String(64))
    totp_enrolled_at: Mapped[datetime | None]
    # The last accepted time-step: a code for it or an earlier step is refused (no replay).
    totp_last_step: Mapped[int | None]

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_enrolled_at is not None and self.has_totp_secret

    @property
    def has_totp_secret(self) -> bool:
        return self.totp_sealed is not None or self.totp_secret_clear is not None

    def __repr__(self) -> str:
        return f"<StaffUser {self.username} {self.role}>"


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator; only its keyed hash is kept."""

    __tablename__ = "staff_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class StaffSession(Base):
    """A signed-in (or enrolling) browser. The cookie carries a random token; only its
    SHA-256 is stored, so a copy of the database does not let anyone sign in."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    # True between a correct password and a confirmed authenticator on first sign-in.
    enrolling: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[StaffUser] = relationship()


class LoginThrottle(Base):
    """Failed sign-ins per username, known or not, keyed by a keyed hash of the name.

    Unknown names are counted and locked exactly like real ones, so a lockout tells an
    attacker nothing about which usernames exist; the typed name itself is never stored.
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    name_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]


class StaffDraft(Base):
    """What a staff member was sending when their session timed out, kept for them alone
    until they sign in again (short-lived). Sealed like tip contact details, since it is
    often tip text: an internal note, a question to the tipster, a status reason."""

    __tablename__ = "staff_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
