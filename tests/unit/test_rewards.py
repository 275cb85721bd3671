"""Rewards, as services: outcomes, the two-person decision, payout codes, expiry, the ledger and
the audit cross-check. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tipline import audit
from tipline.audit.guards import ProtectedRowError
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.rewards import ledger, payout
from tipline.rewards import services as rewards
from tipline.rewards.models import OutcomeKind, Reward, RewardStatus
from tipline.tips import receipts
from tipline.tips import services as tips

from ..conftest import unit_named

RULES = rewards.RewardRules(min_amount=100, max_amount=2500, currency="USD", code_valid_days=30)
DESK_RULES = payout.PayoutRules(max_failures=3)


def _desk_config(app):
    return payout.DeskConfig(payout.payout_key(app.secret_key), app.secret_key, DESK_RULES)


@pytest.fixture
def people(make_staff):
    return {
        "det": make_staff(Role.DETECTIVE, "det"),
        "sup": make_staff(Role.SUPERVISOR, "sup"),
        "c1": make_staff(Role.COORDINATOR, "coord-1"),
        "c2": make_staff(Role.COORDINATOR, "coord-2"),
        "desk": make_staff(Role.PAYOUT_DESK, "desk-1"),
        "desk2": make_staff(Role.PAYOUT_DESK, "desk-2"),
        "pio": make_staff(Role.PIO, "pio-1"),
    }


@pytest.fixture
def tip(app, session, published_notice):
    found, _code = tips.submit_tip(
        session,
        tips.TipReport("He sleeps at MARKER-NARRATIVE house", seen_where="Levee"),
        receipts.receipt_key(app.secret_key),
        published_notice,
    )
    session.commit()
    return found


def _approved(session, people, tip, amount=500):
    rewards.record_outcome(session, people["det"], tip, OutcomeKind.ARREST, "K-12345-26")
    reward = rewards.propose_reward(session, people["c1"], tip.public_ref, amount, "Arrest", RULES)
    rewards.approve_reward(session, people["c2"], reward.id, "", RULES)
    session.commit()
    return reward


def test_outcome_makes_the_tip_eligible_and_is_audited(session, people, tip):
    assert not rewards.is_eligible(session, tip)
    with pytest.raises(rewards.RewardRefused):
        rewards.propose_reward(session, people["c1"], tip.public_ref, 500, "Arrest", RULES)
    rewards.record_outcome(session, people["det"], tip, OutcomeKind.ARREST, " K-12345-26 ")
    session.commit()
    assert rewards.is_eligible(session, tip)
    [event] = [
        e for e in audit.events_for(session, "tip", tip.public_ref) if e.action.startswith("reward")
    ]
    assert event.action == "reward.outcome_recorded"
    assert event.details == {"kind": "arrest", "case_reference": "K-12345-26"}


def test_only_tip_readers_record_outcomes_and_a_unit_detective_only_on_their_tips(
    session, people, tip, make_staff, published_notice
):
    with pytest.raises(rewards.NotAllowed):
        rewards.record_outcome(session, people["c1"], tip, OutcomeKind.ARREST, "K-1")
    published_notice.unit = unit_named(session, "homicide")
    session.commit()
    other_unit = make_staff(Role.DETECTIVE, "det-burglary", unit="burglary")
    assert rewards.staff_tip(session, other_unit, tip.public_ref) is None
    assert rewards.staff_tip(session, people["det"], tip.public_ref) is not None
    with pytest.raises(PermissionError):
        rewards.staff_tip(session, people["c1"], tip.public_ref)


def test_coordinator_requests_eligibility_and_detectives_see_the_request(session, people, tip):
    rewards.request_eligibility(session, people["c1"], tip.public_ref, "Caller says arrested")
    session.commit()
    assert [r.tip_id for r in rewards.open_requests(session, people["det"])] == [tip.id]
    with pytest.raises(rewards.RewardRefused):
        rewards.request_eligibility(session, people["c1"], "NOSUCHREF", "x")
    with pytest.raises(rewards.NotAllowed):
        rewards.request_eligibility(session, people["det"], tip.public_ref, "x")
    rewards.record_outcome(session, people["det"], tip, OutcomeKind.LOCATION, "K-2")
    session.commit()
    assert rewards.open_requests(session, people["det"]) == []
    actions = [e.action for e in audit.events_for(session, "tip", tip.public_ref)]
    assert "reward.eligibility_requested" in actions


def test_proposal_limits_reason_and_one_live_reward(session, people, tip):
    rewards.record_outcome(session, people["det"], tip, OutcomeKind.CHARGE, "K-3")
    for amount in (99, 2501):
        with pytest.raises(rewards.RewardRefused, match="between 100 and 2,500 USD"):
            rewards.propose_reward(session, people["c1"], tip.public_ref, amount, "x", RULES)
    with pytest.raises(rewards.RewardRefused, match="reason"):
        rewards.propose_reward(session, people["c1"], tip.public_ref, 500, "  ", RULES)
    with pytest.raises(rewards.NotAllowed):
        rewards.propose_reward(session, people["det"], tip.public_ref, 500, "x", RULES)
    rewards.propose_reward(session, people["c1"], tip.public_ref, 2500, "Arrest", RULES)
    with pytest.raises(rewards.RewardRefused, match="already has a reward"):
        rewards.propose_reward(session, people["c2"], tip.public_ref, 500, "Again", RULES)


def test_self_approval_is_refused_and_a_second_coordinator_decides(session, people, tip):
    rewards.record_outcome(session, people["det"], tip, OutcomeKind.ARREST, "K-4")
    reward = rewards.propose_reward(session, people["c1"], tip.public_ref, 500, "Arrest", RULES)
    session.commit()
    with pytest.raises(rewards.SelfApproval):
        rewards.approve_reward(session, people["c1"], reward.id, "", RULES)
    with pytest.raises(rewards.SelfApproval):
        rewards.decline_reward(session, people["c1"], reward.id, "no")
    with pytest.raises(rewards.NotAllowed):
        rewards.approve_reward(session, people["sup"], reward.id, "", RULES)
    session.rollback()
    now = utcnow()
    rewards.approve_reward(session, people["c2"], reward.id, "Board agreed", RULES, now)
    session.commit()
    assert reward.status is RewardStatus.APPROVED
    assert reward.expires_at == now + timedelta(days=30)
    with pytest.raises(rewards.RewardRefused, match="not waiting"):
        rewards.decline_reward(session, people["c2"], reward.id, "changed my mind")


def test_declined_reward_may_be_proposed_again(session, people, tip):
    rewards.record_outcome(session, people["det"], tip, OutcomeKind.ARREST, "K-5")
    first = rewards.propose_reward(session, people["c1"], tip.public_ref, 500, "Arrest", RULES)
    with pytest.raises(rewards.RewardRefused, match="reason"):
        rewards.decline_reward(session, people["c2"], first.id, "")
    rewards.decline_reward(session, people["c2"], first.id, "Not the tip that led to it")
    second = rewards.propose_reward(session, people["c2"], tip.public_ref, 300, "Partly", RULES)
    assert second.id != first.id


def test_payout_code_is_new_shown_once_and_stored_only_as_a_keyed_hash(app, session, people, tip):
    key = payout.payout_key(app.secret_key)
    assert payout.issue_payout_code(session, tip, key) is None  # nothing approved yet
    reward = _approved(session, people, tip)
    code, expires_at = payout.issue_payout_code(session, tip, key)
    session.commit()
    assert receipts.normalise_code(code) is not None  # 20 Crockford characters: 100 bits
    assert receipts.hash_code(receipts.receipt_key(app.secret_key), code) != tip.receipt_hash
    session.refresh(reward)
    assert reward.code_hash == receipts.hash_code(key, code)
    assert expires_at == reward.expires_at
    raw = code.replace("-", "")
    with app.app_context():
        dump = repr(
            [tuple(r) for r in session.execute(text("SELECT * FROM reward"))]
            + [tuple(r) for r in session.execute(text("SELECT details FROM audit_event"))]
        )
    assert code not in dump and raw not in dump
    # A new code replaces the old one, which stops working.
    new_code, _ = payout.issue_payout_code(session, tip, key)
    session.commit()
    check = payout.check_code(session, people["desk"], _desk_config(app), code)
    assert not check.valid
    check = payout.check_code(session, people["desk"], _desk_config(app), new_code)
    assert check == payout.PayoutCheck(True, 500, "USD", reward.expires_at)


def test_payout_uses_the_code_up_and_the_reward_never_changes_after(app, session, people, tip):
    key = payout.payout_key(app.secret_key)
    reward = _approved(session, people, tip, amount=750)
    code, _ = payout.issue_payout_code(session, tip, key)
    session.commit()
    paid = payout.record_payout(session, people["desk"], _desk_config(app), code)
    session.commit()
    assert paid.valid and paid.amount == 750
    again = payout.record_payout(session, people["desk"], _desk_config(app), code)
    session.commit()
    assert not again.valid
    session.refresh(reward)
    assert reward.status is RewardStatus.PAID and reward.paid_by_id == people["desk"].id
    reward.amount = 1
    with pytest.raises(ProtectedRowError):
        session.flush()
    session.rollback()
    with pytest.raises(rewards.NotAllowed):
        payout.check_code(session, people["c1"], _desk_config(app), code)


def test_wrong_codes_are_audited_and_lock_the_desk_account(app, session, people, tip):
    key = payout.payout_key(app.secret_key)
    _approved(session, people, tip)
    code, _ = payout.issue_payout_code(session, tip, key)
    session.commit()
    for _ in range(4):  # the fourth wrong code (max_failures=3) locks
        assert not payout.check_code(session, people["desk"], _desk_config(app), "not a code").valid
        session.commit()
    with pytest.raises(payout.DeskLocked):
        payout.check_code(session, people["desk"], _desk_config(app), code)
    session.commit()
    # Another desk account is not locked by this one's failures.
    assert payout.check_code(session, people["desk2"], _desk_config(app), code).valid
    actions = [e.action for e in audit.events_for(session, "staff_user", people["desk"].id)]
    assert actions.count("reward.payout_code_wrong") == 4
    assert "reward.payout_desk_locked" in actions and "reward.payout_refused_locked" in actions


def test_unclaimed_rewards_expire_and_their_codes_stop_working(app, session, people, tip):
    key = payout.payout_key(app.secret_key)
    reward = _approved(session, people, tip)
    code, _ = payout.issue_payout_code(session, tip, key)
    session.commit()
    assert payout.expire_unclaimed(session, utcnow()) == []
    later = reward.expires_at + timedelta(seconds=1)
    assert payout.expire_unclaimed(session, later) == [reward.id]
    session.commit()
    session.refresh(reward)
    assert reward.status is RewardStatus.EXPIRED
    assert not payout.check_code(session, people["desk"], _desk_config(app), code).valid
    assert any(
        e.action == "reward.expired" and e.details["amount"] == 500
        for e in audit.events_for(session, "reward", reward.id)
    )
    book = ledger.ledger(session, people["c1"], "USD")
    assert book.total.count[RewardStatus.EXPIRED] == 1
    assert book.total.amount[RewardStatus.EXPIRED] == 500


def test_the_periodic_job_expires_unclaimed_rewards(app, session, people, tip):
    from tipline.jobs import jobs_for

    reward = _approved(session, people, tip)
    session.execute(
        text("UPDATE reward SET expires_at = :past WHERE id = :id"),
        {"past": utcnow() - timedelta(minutes=1), "id": reward.id},
    )
    session.commit()
    assert jobs_for(app).reward_expiry.call_local() == [reward.id]
    assert jobs_for(app).reward_expiry.call_local() == []
    session.refresh(reward)
    assert reward.status is RewardStatus.EXPIRED


def test_two_concurrent_payouts_of_one_code_pay_once(app, session, people, tip):
    key = payout.payout_key(app.secret_key)
    _approved(session, people, tip)
    code, _ = payout.issue_payout_code(session, tip, key)
    session.commit()
    maker = app.extensions["tipline.write_sessionmaker"]  # requests' sessions (IMMEDIATE)
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def pay(desk_id: int) -> None:
        try:
            with maker() as s:
                desk = s.get(type(people["desk"]), desk_id)
                s.commit()
                barrier.wait()
                paid = payout.record_payout(s, desk, _desk_config(app), code)
                s.commit()
                results.append(paid.valid)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=pay, args=(people[d].id,)) for d in ("desk", "desk2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results) == [False, True]
    actions = [
        e.action
        for e in audit.events_for(
            session, "reward", session.scalar(select(Reward.id).where(Reward.tip_id == tip.id))
        )
    ]
    assert actions.count("reward.paid") == 1


def test_ledger_by_month_and_notice_csv_and_corrections(app, session, people, tip):
    key = payout.payout_key(app.secret_key)
    reward = _approved(session, people, tip, amount=1000)
    code, _ = payout.issue_payout_code(session, tip, key)
    payout.record_payout(session, people["desk"], _desk_config(app), code)
    session.commit()
    with pytest.raises(rewards.NotAllowed):
        ledger.ledger(session, people["det"], "USD")
    book = ledger.ledger(session, people["sup"], "USD")
    month = reward.paid_at.strftime("%Y-%m") if reward.paid_at else utcnow().strftime("%Y-%m")
    assert [line.label for line in book.by_month] == [month]
    assert [line.label for line in book.by_notice] == [tip.notice.subject_name]
    assert book.total.amount[RewardStatus.PAID] == 1000
    csv_text = ledger.ledger_csv(session, people["c1"])
    header, row = csv_text.strip().splitlines()
    assert header.startswith("reward_id,tip_reference,notice,status,amount")
    assert f"{reward.id},{tip.public_ref}," in row and ",paid,1000,USD," in row
    assert "MARKER-NARRATIVE" not in csv_text
    with pytest.raises(rewards.RewardRefused, match="non-zero"):
        ledger.record_correction(session, people["c1"], reward.id, 0, "nothing")
    ledger.record_correction(session, people["c1"], reward.id, -50, "Bank fee refunded")
    session.commit()
    book = ledger.ledger(session, people["c1"], "USD")
    assert book.corrections_total == -50
    session.refresh(reward)
    assert reward.amount == 1000  # the paid row itself is unchanged


def test_tipline_audit_verify_catches_an_edited_paid_amount(app, session, people, tip, runner):
    key = payout.payout_key(app.secret_key)
    reward = _approved(session, people, tip, amount=1000)
    code, _ = payout.issue_payout_code(session, tip, key)
    payout.record_payout(session, people["desk"], _desk_config(app), code)
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    # Someone with database access raises the paid amount behind the application's back.
    session.execute(text("UPDATE reward SET amount = 2000 WHERE id = :id"), {"id": reward.id})
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"reward {reward.id} says 2000 USD" in result.output
    assert "reward.paid" in result.output


def test_audit_cross_check_catches_a_changed_status_and_a_deleted_reward(app, session, people, tip):
    reward = _approved(session, people, tip, amount=1000)
    assert ledger.check_against_audit(session) is None
    session.execute(text("UPDATE reward SET status = 'paid' WHERE id = :id"), {"id": reward.id})
    assert "ends in reward.approved" in ledger.check_against_audit(session)
    session.rollback()
    session.execute(text("DELETE FROM reward WHERE id = :id"), {"id": reward.id})
    assert "row is missing" in ledger.check_against_audit(session)
    session.rollback()
