"""Reviewed closures: an urgent "no action" waits for another supervisor, nobody confirms their
own, a keyed sample of other "no action" closures lands on the review list, and a supervisor
reopens. Services called directly; every decision is in the audit trail."""

import pytest

from tipline import audit
from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import TipStatus
from tipline.triage import closures
from tipline.triage import services as triage
from tipline.triage.access import NotAllowed, TransitionRefused
from tipline.triage.closures import ReviewPolicy
from tipline.triage.models import ReviewKind, ReviewState

KEY = receipts.receipt_key("k" * 40)
S = TipStatus
ALWAYS = ReviewPolicy(1.0, b"k" * 32)


def submit(session, text="Saw her by the bus stop", **kw):
    tip, _ = tips.submit_tip(session, tips.TipReport(text, **kw), KEY)
    return tip


def actions(session, tip):
    return [e.action for e in audit.events_for(session, "tip", tip.public_ref)]


@pytest.fixture
def urgent(session, detective):
    tip = submit(session, "She is at the bar right now", there_now=True)
    triage.claim_tip(session, detective, tip)
    return tip


def test_urgent_no_action_stays_open_until_a_supervisor_confirms(
    session, urgent, detective, supervisor
):
    review = triage.change_status(session, detective, urgent, S.NO_ACTION, "Prank call")
    assert review.kind is ReviewKind.CONFIRMATION and review.state is ReviewState.PENDING
    assert urgent.status is S.IN_REVIEW and urgent.status.is_open  # still in the queue
    assert urgent.closed_at is None
    assert actions(session, urgent)[-1] == "tip.no_action_proposed"
    assert review in closures.pending_reviews(session, supervisor)

    closures.confirm_no_action(session, supervisor, review.id)
    assert urgent.status is S.NO_ACTION and urgent.status_reason == "Prank call"
    assert urgent.closed_by_id == detective.id and urgent.closed_at is not None
    assert review.state is ReviewState.CONFIRMED and review.decided_by_id == supervisor.id
    assert actions(session, urgent)[-1] == "tip.no_action_confirmed"
    assert closures.pending_reviews(session, supervisor) == []


def test_a_pending_tip_cannot_be_moved_or_proposed_twice(session, urgent, detective):
    triage.change_status(session, detective, urgent, S.NO_ACTION, "Prank call")
    with pytest.raises(TransitionRefused, match="waiting for a supervisor"):
        triage.change_status(session, detective, urgent, S.NO_ACTION, "Again")
    with pytest.raises(TransitionRefused, match="waiting for a supervisor"):
        triage.change_status(session, detective, urgent, S.ACTIONABLE)


def test_self_confirmation_is_refused_even_for_a_supervisor(session, urgent, make_staff):
    sup = make_staff(Role.SUPERVISOR, "sup-a")
    review = triage.change_status(session, sup, urgent, S.NO_ACTION, "Nothing there")
    with pytest.raises(NotAllowed, match="another supervisor"):
        closures.confirm_no_action(session, sup, review.id)
    assert urgent.status is S.IN_REVIEW and review.state is ReviewState.PENDING
    closures.confirm_no_action(session, make_staff(Role.SUPERVISOR, "sup-b"), review.id)
    assert urgent.status is S.NO_ACTION


def test_a_detective_cannot_confirm(session, urgent, detective, make_staff):
    review = triage.change_status(session, detective, urgent, S.NO_ACTION, "Prank")
    with pytest.raises(NotAllowed):
        closures.confirm_no_action(session, make_staff(Role.DETECTIVE, "other"), review.id)


def test_rejection_keeps_the_tip_open_and_needs_a_reason(session, urgent, detective, supervisor):
    review = triage.change_status(session, detective, urgent, S.NO_ACTION, "Prank")
    with pytest.raises(TransitionRefused, match="Say why"):
        closures.reject_no_action(session, supervisor, review.id, "  ")
    closures.reject_no_action(session, supervisor, review.id, "Send a unit first")
    assert review.state is ReviewState.REJECTED and urgent.status is S.IN_REVIEW
    assert actions(session, urgent)[-1] == "tip.no_action_rejected"
    with pytest.raises(TransitionRefused, match="already been decided"):
        closures.confirm_no_action(session, supervisor, review.id)
    # Once rejected, the detective can work the tip again.
    triage.change_status(session, detective, urgent, S.ACTIONABLE)
    assert urgent.status is S.ACTIONABLE


def test_no_action_still_needs_a_reason(session, detective):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    with pytest.raises(TransitionRefused, match="Say why"):
        triage.change_status(session, detective, tip, S.NO_ACTION, "")


def test_the_sample_is_a_keyed_hash_of_the_tip_and_reproducible():
    policy = ReviewPolicy(0.2, b"a" * 32)
    refs = [f"ref{i:04d}" for i in range(2000)]
    picked = [r for r in refs if policy.sampled(r)]
    assert 300 < len(picked) < 500  # about a fifth
    assert picked == [r for r in refs if ReviewPolicy(0.2, b"a" * 32).sampled(r)]
    assert picked != [r for r in refs if ReviewPolicy(0.2, b"b" * 32).sampled(r)]
    assert not any(ReviewPolicy(0.0, b"a" * 32).sampled(r) for r in refs)


def test_a_sampled_no_action_closure_lands_on_the_review_list(session, detective, supervisor):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    review = triage.change_status(
        session, detective, tip, S.NO_ACTION, "Not our case", review=ALWAYS
    )
    assert tip.status is S.NO_ACTION  # a non-urgent closure closes at once
    assert review.kind is ReviewKind.SAMPLE and review.closer_id == detective.id
    assert closures.pending_reviews(session, supervisor) == [review]
    assert actions(session, tip)[-2:] == ["tip.status_changed", "tip.closure_sampled"]
    closures.mark_reviewed(session, supervisor, review.id)
    assert review.state is ReviewState.REVIEWED
    assert actions(session, tip)[-1] == "tip.closure_reviewed"


def test_an_unsampled_closure_is_not_listed(session, detective, supervisor):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    never = ReviewPolicy(0.0, b"k" * 32)
    assert triage.change_status(session, detective, tip, S.NO_ACTION, "No", review=never) is None
    assert closures.pending_reviews(session, supervisor) == []


def test_reopen_sends_the_tip_back_to_the_queue_with_a_fresh_clock(session, detective, supervisor):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    review = triage.change_status(session, detective, tip, S.NO_ACTION, "No", review=ALWAYS)
    with pytest.raises(TransitionRefused, match="Say why"):
        closures.reopen_tip(session, supervisor, tip, "", review_id=review.id)
    with pytest.raises(NotAllowed):
        closures.reopen_tip(session, detective, tip, "Why not?", review_id=review.id)
    closures.reopen_tip(
        session, supervisor, tip, "The plate matches a stolen car", review_id=review.id
    )
    assert tip.status is S.NEW and tip.claimed_by_id is None and tip.closed_at is None
    assert tip.due_at > tip.received_at
    assert review.state is ReviewState.REOPENED
    assert actions(session, tip)[-1] == "tip.reopened"
    with pytest.raises(TransitionRefused, match="not closed"):
        closures.reopen_tip(session, supervisor, tip, "again")


# --- No side doors: every route that ends an urgent tip's life waits for a second person ----


def close_path(session, tip, actor, path):
    """Walk ``path`` (a list of (status, reason, duplicate_of)) as ``actor``; returns the last
    change's result."""
    result = None
    for status, reason, original in path:
        result = triage.change_status(session, actor, tip, status, reason, duplicate_of=original)
    return result


@pytest.mark.parametrize(
    "path",
    [
        "no_action",
        "duplicate_then_closed",
        "forwarded_then_closed",
        "actionable_then_closed",
    ],
)
def test_no_route_closes_an_urgent_tip_alone(session, urgent, detective, supervisor, path):
    other = submit(session, "An older report of the same")
    steps = {
        "no_action": [(S.NO_ACTION, "Prank", None)],
        "duplicate_then_closed": [(S.DUPLICATE, "Same as the older one", other)],
        "forwarded_then_closed": [(S.FORWARDED, "Sent to patrol", None), (S.CLOSED, "Done", None)],
        "actionable_then_closed": [(S.ACTIONABLE, "", None), (S.CLOSED, "Done", None)],
    }[path]
    review = close_path(session, urgent, detective, steps)
    assert review is not None and review.kind is ReviewKind.CONFIRMATION
    assert urgent.status.is_open and urgent.closed_at is None
    assert review in closures.pending_reviews(session, supervisor)
    closures.confirm_held(session, supervisor, review.id)
    assert not urgent.status.is_open and urgent.closed_by_id == detective.id
    if path == "duplicate_then_closed":
        assert urgent.status is S.DUPLICATE and urgent.duplicate_of_id == other.id


def test_lowering_an_urgent_tip_waits_and_the_tip_stays_ever_urgent(
    session, urgent, detective, supervisor
):
    from tipline.tips.models import TipPriority

    assert urgent.ever_urgent
    review = triage.set_priority(session, detective, urgent, TipPriority.LOW)
    assert review is not None and urgent.priority is TipPriority.URGENT
    assert actions(session, urgent)[-1] == "tip.priority_lowering_proposed"
    assert review in closures.pending_reviews(session, supervisor)
    closures.confirm_held(session, supervisor, review.id)
    assert urgent.priority is TipPriority.LOW and urgent.ever_urgent
    # Lowered by two people, it still cannot be closed by one.
    held = triage.change_status(session, detective, urgent, S.NO_ACTION, "Nothing there")
    assert held is not None and held.kind is ReviewKind.CONFIRMATION and urgent.status.is_open


def test_a_tip_raised_to_urgent_is_ever_urgent(session, detective):
    from tipline.tips.models import TipPriority

    tip = submit(session, "Seen yesterday")
    triage.claim_tip(session, detective, tip)
    assert not tip.ever_urgent
    triage.set_priority(session, detective, tip, TipPriority.URGENT)
    assert tip.ever_urgent


def test_closed_needs_a_reason(session, detective):
    tip = submit(session, "Seen last week")
    triage.claim_tip(session, detective, tip)
    triage.change_status(session, detective, tip, S.ACTIONABLE)
    with pytest.raises(TransitionRefused, match="Say why"):
        triage.change_status(session, detective, tip, S.CLOSED, "")


def test_any_closing_status_can_be_sampled_for_review(session, detective, supervisor):
    tip = submit(session, "Seen last week")
    triage.claim_tip(session, detective, tip)
    triage.change_status(session, detective, tip, S.FORWARDED, "To patrol")
    review = triage.change_status(session, detective, tip, S.CLOSED, "Done", review=ALWAYS)
    assert review is not None and review.kind is ReviewKind.SAMPLE
    assert review in closures.pending_reviews(session, supervisor)
