"""Every SQLAlchemy event hook and every cross-domain registration of Tipline, installed from
here (``create_app`` calls ``install``), so the next reader finds them in one place.

On every ``Session`` of the process (idempotent, whichever app installs them first):

- ``db.refuse_writes_when_read_only`` (before_flush): a session a request declared read-only
  refuses to write.
- ``audit.guards.refuse_in_flush`` (before_flush) and ``audit.guards.refuse_bulk``
  (do_orm_execute): rows of ``@append_only`` classes (the audit log) are never updated or
  deleted, rows of ``@undeletable`` classes (tips) never deleted, bulk statements included.
  The two decorators also put before_update/before_delete mapper events on the classes they
  mark, as part of the model's declaration.
- ``notices.change_stamps.touch_changed_notices`` (before_flush), ``count_committed_change``
  (after_commit), ``forget_rolled_back_change`` (after_rollback): a notice's change stamp
  moves with any change to it, its charges or its contact lines, and the public pages'
  caches learn of it (PostgreSQL NOTIFY, a per-process commit counter).
- ``triage.intake.announce_follow_changes`` (before_flush): a follow started or ended is
  announced the same way, since a tip POST remembers whether its notice is followed.

On the app's sessionmakers (those that write: ``tipline.sessionmaker``,
``tipline.write_sessionmaker``):

- ``tips.intake.install`` (before_flush, and the sessions' info): every new tip gets its
  priority and due time, and a tipster's later message marks the tip unread with its own due
  time. ``tips.services.submit_tip`` writes a tip with plain INSERTs, not a flush, and calls
  the same ``tips.intake.prioritise`` and ``tips.intake.received`` itself.
- ``triage.intake.install`` (through ``tips.intake.on_received``: after a tip's flush or its
  INSERT; after_commit, after_soft_rollback): the followers of a new tip's notice get an
  e-mail with a link, written into the outbox in the tip's own transaction; delivery is
  asked for after commit.

On each engine, inside ``db.make_engine`` (part of building the engine): SQLite's pragmas,
BEGIN mode and the writers' queue on a lock file; PostgreSQL writers take the writers' lock
before their first row lock.

Registrations: the audit chain key on every sessionmaker (``audit.services.install_key``),
and the domains' invariants for ``tipline audit verify`` (one ``tip.received`` per tip;
stored tips match what their events committed to; reward rows agree with their decision
events; a note counting staff authenticator secrets still stored in clear).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from tipline import db
from tipline.audit import guards, verify
from tipline.audit.services import install_key
from tipline.auth import totp
from tipline.notices import change_stamps
from tipline.rewards.ledger import rewards_agree_with_audit
from tipline.tips import intake as tip_intake
from tipline.tips.verification import one_received_event_per_tip
from tipline.triage import intake as follower_intake
from tipline.triage.verification import stored_tips_match_their_events

SESSION_HOOKS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("before_flush", db.refuse_writes_when_read_only),
    ("before_flush", guards.refuse_in_flush),
    ("do_orm_execute", guards.refuse_bulk),
    ("before_flush", change_stamps.touch_changed_notices),
    ("after_commit", change_stamps.count_committed_change),
    ("after_rollback", change_stamps.forget_rolled_back_change),
    ("before_flush", follower_intake.announce_follow_changes),
)


def install_session_hooks() -> None:
    """The process-wide hooks on every Session (see the module's docstring)."""
    for name, hook in SESSION_HOOKS:
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


def install(app: Flask, follower_mail: follower_intake.FollowerMail) -> None:
    """Install every hook for ``app``; ``follower_mail`` says how new tips' followers are
    written to (the jobs module builds it, with the outbox delivery task)."""
    install_session_hooks()
    install_key(app)
    verify.register_invariant(one_received_event_per_tip)
    verify.register_invariant(stored_tips_match_their_events)
    verify.register_invariant(rewards_agree_with_audit)
    verify.register_invariant(totp.report_clear_secrets)
    due_minutes = {**tip_intake.DEFAULT_DUE_MINUTES, **app.config["TRIAGE_DUE_MINUTES"]}
    # Requests write through the write sessionmaker; scripts and tests through the plain one.
    # Both must give every new tip its due time and tell the followers.
    for name in ("tipline.sessionmaker", "tipline.write_sessionmaker"):
        maker = app.extensions[name]
        tip_intake.install(maker, due_minutes)
        follower_intake.install(maker, follower_mail)
