"""Walking the chain: `tipline audit verify` and what the supervisor page shows of it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tipline.audit import chain
from tipline.audit.checkpoints import CheckpointError, load_signing_key, read_checkpoints
from tipline.audit.models import AuditEvent, AuditVerification
from tipline.audit.services import hash_of
from tipline.db import utcnow

#: What a verifier reads of each event: the fields its row hash and its Merkle leaf cover.
EVENT_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.actor_id,
    AuditEvent.actor_label,
    AuditEvent.action,
    AuditEvent.object_type,
    AuditEvent.object_id,
    AuditEvent.details,
    AuditEvent.prev_hash,
    AuditEvent.row_hash,
)

RECEIVED = "tip.received"


@dataclass
class Finding:
    """The first thing wrong: which row (when there is one) and what."""

    message: str
    id: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        if self.id is not None:
            return f"row id {self.id} (sequence {self.seq}): {self.message}"
        if self.seq is not None:
            return f"sequence {self.seq}: {self.message}"
        return self.message


@dataclass
class Report:
    events: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    tips: int = 0
    received: int = 0
    problem: Finding | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(
    session: Session, key: bytes, checkpoint_file: str | Path, signing_key_file: str | Path
) -> Report:
    """Check every row's link and hash in sequence order, then the signed checkpoints, then
    that each tip has its ``tip.received`` event. The first problem found is reported."""
    report = Report()
    public_key, checkpoints = _checkpoints(report, checkpoint_file, signing_key_file)
    vouched = {c.seq: c for c in checkpoints}
    seen_at_checkpoint: dict[int, tuple[int, str]] = {}

    _walk(session, key, report, vouched, seen_at_checkpoint)
    if report.problem is None and public_key is not None:
        _check_checkpoints(report, checkpoints, seen_at_checkpoint)
    for check in _INVARIANTS:
        check(session, report)
    return report


#: Checks the domains add (``register_invariant``): each reads the session and fills in the
#: report (a count, a Finding when something is wrong). The log itself knows no domain.
Invariant = Callable[[Session, "Report"], None]
_INVARIANTS: list[Invariant] = []


def register_invariant(check: Invariant) -> Invariant:
    """Have ``verify`` run ``check`` after the chain walk (once, however often registered)."""
    if check not in _INVARIANTS:
        _INVARIANTS.append(check)
    return check


def count_events(session: Session, action: str) -> int:
    """How many events of ``action`` the log holds (for the domains' invariants)."""
    return (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
        or 0
    )


def _checkpoints(
    report: Report, checkpoint_file: str | Path, signing_key_file: str | Path
) -> tuple[Ed25519PublicKey | None, list]:
    if not Path(checkpoint_file).exists():
        report.notes.append(
            f"No checkpoints yet ({checkpoint_file}): removal of the newest rows cannot be "
            "detected until `tipline audit checkpoint` has run."
        )
        return None, []
    try:
        public_key = load_signing_key(signing_key_file).public_key()
    except CheckpointError as error:
        report.problem = Finding(f"the checkpoints cannot be checked: {error}")
        return None, []
    checkpoints, problem = read_checkpoints(checkpoint_file, public_key)
    if problem:
        report.problem = Finding(problem)
    report.checkpoints = len(checkpoints)
    return public_key, checkpoints


def _walk(
    session: Session,
    key: bytes,
    report: Report,
    vouched: dict,
    seen_at_checkpoint: dict[int, tuple[int, str]],
) -> None:
    rows = session.execute(
        select(AuditEvent.id, *EVENT_COLUMNS).order_by(AuditEvent.seq)
    ).yield_per(1000)
    expected, prev, prev_id = 1, chain.GENESIS, 0
    for row in rows:
        report.events += 1
        finding = _check_row(key, row, expected, prev, prev_id)
        if finding is not None:
            if report.problem is None:
                report.problem = finding
            return
        if row.seq in vouched:
            seen_at_checkpoint[row.seq] = (row.id, row.row_hash)
        expected, prev, prev_id = row.seq + 1, row.row_hash, row.id
        report.head_seq = row.seq


def _check_row(key: bytes, row, expected: int, prev: str, prev_id: int) -> Finding | None:
    def bad(message: str) -> Finding:
        return Finding(message, id=row.id, seq=row.seq)

    if row.seq > expected:
        missing = str(expected) if row.seq == expected + 1 else f"{expected} to {row.seq - 1}"
        return bad(f"sequence {missing} is missing before it: rows were deleted.")
    if row.seq < expected:
        return bad(f"sequence number {row.seq} appears twice or out of order.")
    if row.prev_hash != prev:
        return bad(
            "it does not link to the row before it (previous hash differs): rows were "
            "inserted, deleted or moved here."
        )
    if row.id <= prev_id:
        # Rows are inserted under the chain lock, so ids grow with sequence numbers.
        return bad(f"its id is not after the previous row's id {prev_id}: rows were moved.")
    actual = hash_of(key, row)
    if actual != row.row_hash:
        return bad("its contents do not match its hash: the row was edited or forged.")
    return None


def _check_checkpoints(report: Report, checkpoints: list, seen: dict) -> None:
    for checkpoint in checkpoints:
        if checkpoint.seq == 0:
            continue
        if checkpoint.seq not in seen:
            report.problem = Finding(
                f"the log ends at sequence {report.head_seq}, but the checkpoint of "
                f"{checkpoint.at} (line {checkpoint.line}) vouches for sequence "
                f"{checkpoint.seq}: the newest rows were removed.",
                seq=report.head_seq + 1,
            )
            return
        row_id, row_hash = seen[checkpoint.seq]
        if row_hash != checkpoint.hash:
            report.problem = Finding(
                f"it differs from the checkpoint of {checkpoint.at} (line {checkpoint.line}): "
                "the log was rewritten after that checkpoint.",
                id=row_id,
                seq=checkpoint.seq,
            )
            return
    if checkpoints and report.head_seq > checkpoints[-1].seq:
        report.notes.append(
            f"{report.head_seq - checkpoints[-1].seq} events are newer than the last "
            f"checkpoint ({checkpoints[-1].at})."
        )


def signed_part(v: AuditVerification) -> bytes:
    return chain.canonical_json(
        {
            "v": 1,
            "at": chain.timestamp(v.checked_at),
            "ok": bool(v.ok),
            "events": v.events_checked,
            "checkpoints": v.checkpoints_checked,
            "tips": v.tips_counted,
            "received": v.received_events_counted,
            "bad_id": v.first_bad_id,
            "bad_seq": v.first_bad_seq,
            "problem": v.problem,
        }
    )


def signature_valid(v: AuditVerification, signing_key_file: str | Path | None) -> bool:
    """Whether ``v`` was written by `tipline audit verify` (signed by the checkpoint key)."""
    if not v.signature or not signing_key_file:
        return False
    try:
        public_key = load_signing_key(signing_key_file).public_key()
        public_key.verify(base64.b64decode(v.signature), signed_part(v))
    except (CheckpointError, InvalidSignature, ValueError):
        return False
    return True


def save(
    session: Session, report: Report, signing_key_file: str | Path | None = None
) -> AuditVerification:
    """Keep the result for the supervisor page, signed with the checkpoint key when there is
    one (flushes; the caller commits)."""
    result = AuditVerification(
        checked_at=utcnow().replace(microsecond=0),
        ok=report.ok,
        events_checked=report.events,
        checkpoints_checked=report.checkpoints,
        tips_counted=report.tips,
        received_events_counted=report.received,
        first_bad_id=report.problem.id if report.problem else None,
        first_bad_seq=report.problem.seq if report.problem else None,
        problem=str(report.problem) if report.problem else "",
    )
    if signing_key_file and Path(signing_key_file).exists():
        key = load_signing_key(signing_key_file)
        result.signature = base64.b64encode(key.sign(signed_part(result))).decode("ascii")
    session.add(result)
    session.flush()
    return result
