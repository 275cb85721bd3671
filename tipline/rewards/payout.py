"""Payout codes: shown once to the tipster, checked and used up once at the payout desk.

A payout code is a receipt-style code (100 random bits, five groups of four Crockford base32
characters) that is not the receipt code; only its keyed hash is stored, under a key of its
own. Nothing about whoever presents a code is recorded: the desk's own account is audited.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import LoginThrottle, StaffUser
from tipline.auth.services import ThrottleRules, throttle_row
from tipline.db import utcnow
from tipline.rewards.models import Reward, RewardStatus
from tipline.rewards.services import PAYOUT_DESK, RewardRefused, require_role
from tipline.tips import receipts
from tipline.tips.models import Tip


def payout_key(secret_key: str) -> bytes:
    """The payout-code hash key, derived from the application secret, separate by purpose."""
    return hmac.new(secret_key.encode(), b"tipline/payout-code/v1", hashlib.sha256).digest()


def _throttle_key(secret_key: str) -> bytes:
    purpose = b"tipline/payout-desk-throttle/v1"
    return hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()


# --- The tipster's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class TipsterReward:
    """What the receipt page may say about a tip's reward."""

    status: RewardStatus
    amount: int
    currency: str
    expires_at: datetime | None
    code_issued_at: datetime | None


def reward_for_tipster(session: Session, tip: Tip) -> TipsterReward | None:
    """The tip's approved, paid or expired reward, if any (proposals and declines are the
    programme's business, not news for the tipster)."""
    reward = session.scalar(
        select(Reward)
        .where(
            Reward.tip_id == tip.id,
            Reward.status.in_((RewardStatus.APPROVED, RewardStatus.PAID, RewardStatus.EXPIRED)),
        )
        .order_by(Reward.id.desc())
        .limit(1)
    )
    if reward is None:
        return None
    return TipsterReward(
        reward.status, reward.amount, reward.currency, reward.expires_at, reward.code_issued_at
    )


def issue_payout_code(
    session: Session, tip: Tip, key: bytes, now: datetime | None = None
) -> tuple[str, datetime] | None:
    """A fresh payout code for the tip's approved reward, and its expiry, or None when there
    is no approved, unexpired reward. A code issued before stops working: the tipster who
    lost theirs asks for a new one. The code is returned once and never stored."""
    now = now or utcnow()
    code = receipts.new_receipt_code()
    issued = session.execute(
        update(Reward)
        .where(
            Reward.tip_id == tip.id,
            Reward.status == RewardStatus.APPROVED,
            Reward.expires_at > now,
        )
        .values(code_hash=receipts.hash_code(key, code), code_issued_at=now)
        .returning(Reward.id, Reward.expires_at, Reward.code_issued_at)
        .execution_options(synchronize_session="fetch")
    ).first()
    if issued is None:
        return None
    audit.record(session, audit.PUBLIC, "reward.code_issued", "reward", issued.id)
    return code, issued.expires_at


# --- The payout desk ---------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutRules(ThrottleRules):
    """The sign-in throttle's rules for wrong payout codes, read from the PAYOUT_* settings."""

    window: timedelta = timedelta(minutes=10)

    @classmethod
    def from_config(cls, config: Any, prefix: str = "PAYOUT") -> Self:
        return super().from_config(config, prefix)


@dataclass(frozen=True)
class DeskConfig:
    """What the desk's checks run with: the key payout codes are hashed under, the
    application secret the desk's wrong-code counter is keyed with, and its limits."""

    code_key: bytes
    secret_key: str
    rules: PayoutRules

    @classmethod
    def from_config(cls, config: Any) -> DeskConfig:
        secret = str(config["SECRET_KEY"])
        return cls(payout_key(secret), secret, PayoutRules.from_config(config))


@dataclass(frozen=True)
class PayoutCheck:
    """All the desk ever learns: valid or not, and for a valid code the amount and expiry."""

    valid: bool
    amount: int | None = None
    currency: str | None = None
    expires_at: datetime | None = None


class DeskLocked(RewardRefused):
    pass


LOCKED_MESSAGE = (
    "Too many wrong payout codes were entered from this account. Wait 15 minutes, and ask "
    "a supervisor if you did not enter them."
)


def _desk_throttle(session: Session, secret_key: str, desk: StaffUser) -> LoginThrottle:
    """The desk account's wrong-code counter (the sign-in throttle's table, under a key of
    its own), held until the transaction ends."""
    name_hash = hmac.new(
        _throttle_key(secret_key), f"desk:{desk.id}".encode(), hashlib.sha256
    ).digest()
    return throttle_row(session, name_hash, utcnow())


def _refuse_if_locked(session: Session, desk: StaffUser, row: LoginThrottle, now: datetime) -> None:
    if row.locked_until is not None and row.locked_until > now:
        audit.record(session, desk, "reward.payout_refused_locked", "staff_user", desk.id)
        raise DeskLocked(LOCKED_MESSAGE)


def _wrong_code(
    session: Session, desk: StaffUser, row: LoginThrottle, rules: PayoutRules, now: datetime
) -> None:
    if now - row.window_started_at > rules.window:
        row.window_started_at, row.failures = now, 0
    row.failures += 1
    audit.record(session, desk, "reward.payout_code_wrong", "staff_user", desk.id)
    if row.failures > rules.max_failures:
        row.locked_until = now + rules.lockout
        row.failures = 0
        audit.record(
            session,
            desk,
            "reward.payout_desk_locked",
            "staff_user",
            desk.id,
            until=row.locked_until.isoformat(),
        )
    session.flush()


def _payable(key: bytes, code: str, now: datetime) -> tuple[ColumnElement[bool], ...] | None:
    """What a reward must be for ``code`` to pay it now: its code's, approved and not
    expired; None when ``code`` is not a code at all."""
    try:
        code_hash = receipts.hash_code(key, code)
    except ValueError:
        return None
    return (
        Reward.code_hash == code_hash,
        Reward.status == RewardStatus.APPROVED,
        Reward.expires_at > now,
    )


def _open_desk(
    session: Session, desk: StaffUser, config: DeskConfig, now: datetime
) -> LoginThrottle:
    """The desk account's wrong-code counter, after checking that ``desk`` is a payout desk
    and is not locked out (a refused check is audited)."""
    require_role(desk, PAYOUT_DESK)
    row = _desk_throttle(session, config.secret_key, desk)
    _refuse_if_locked(session, desk, row, now)
    return row


def check_code(
    session: Session, desk: StaffUser, config: DeskConfig, code: str, now: datetime | None = None
) -> PayoutCheck:
    """Whether ``code`` can be paid now, with its amount and expiry. A wrong code counts
    against the desk account (audited, locked after too many); a lock refuses checks."""
    now = now or utcnow()
    row = _open_desk(session, desk, config, now)
    payable = _payable(config.code_key, code, now)
    reward = None if payable is None else session.scalar(select(Reward).where(*payable))
    if reward is None:
        _wrong_code(session, desk, row, config.rules, now)
        return PayoutCheck(valid=False)
    audit.record(session, desk, "reward.payout_code_checked", "reward", reward.id)
    return PayoutCheck(True, reward.amount, reward.currency, reward.expires_at)


def record_payout(
    session: Session, desk: StaffUser, config: DeskConfig, code: str, now: datetime | None = None
) -> PayoutCheck:
    """Pay the reward of ``code`` and use the code up. Exactly once: the guarded UPDATE
    changes the row only while it is still approved, so of two desks paying the same code at
    once, one gets the row and the other nothing (PostgreSQL writers queue on the audit chain's
    lock, and a waiting UPDATE re-checks its condition after the first commits anyway; SQLite
    request transactions run one at a time)."""
    now = now or utcnow()
    row = _open_desk(session, desk, config, now)
    payable = _payable(config.code_key, code, now)
    paid = None
    if payable is not None:
        paid = session.execute(
            update(Reward)
            .where(*payable)
            .values(status=RewardStatus.PAID, paid_at=now, paid_by_id=desk.id)
            .returning(Reward.id, Reward.amount, Reward.currency, Reward.expires_at)
            .execution_options(synchronize_session="fetch")
        ).first()
    if paid is None:
        _wrong_code(session, desk, row, config.rules, now)
        return PayoutCheck(valid=False)
    audit.record(
        session,
        desk,
        "reward.paid",
        "reward",
        paid.id,
        amount=paid.amount,
        currency=paid.currency,
    )
    return PayoutCheck(True, paid.amount, paid.currency, paid.expires_at)


# --- Expiry -------------------------------------------------------------------------------


def expire_unclaimed(session: Session, now: datetime | None = None) -> list[int]:
    """Expire approved rewards whose code was not used in time; each is audited with its
    amount (the ledger reports them). Returns the rewards' ids."""
    now = now or utcnow()
    expired = session.execute(
        update(Reward)
        .where(Reward.status == RewardStatus.APPROVED, Reward.expires_at <= now)
        .values(status=RewardStatus.EXPIRED, expired_at=now)
        .returning(Reward.id, Reward.amount, Reward.currency)
        .execution_options(synchronize_session="fetch")
    ).all()
    for row in sorted(expired):
        audit.record(
            session,
            audit.SYSTEM,
            "reward.expired",
            "reward",
            row.id,
            amount=row.amount,
            currency=row.currency,
        )
    return [row.id for row in sorted(expired)]
