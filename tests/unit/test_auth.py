"""Account services without a request: second factor, throttle, password rules, rehash."""

import threading
from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from tipline import audit
from tipline.audit.models import AuditEvent
from tipline.auth import services as auth
from tipline.auth import totp
from tipline.auth.models import LoginThrottle, Role
from tipline.db import utcnow

from ..conftest import DATA_KEY, PASSWORD, SECRET

KEYS = auth.SignInKeys.from_secret(SECRET, DATA_KEY)
GUESSES = 8


def _code(user, when):
    return pyotp.TOTP(totp.secret_of(user, DATA_KEY)).at(when)


def test_sign_in_needs_password_and_a_fresh_code(session, make_staff):
    user = make_staff(Role.DETECTIVE, "det")
    now = utcnow() + timedelta(minutes=5)  # past the step used at enrolment
    code = _code(user, now)
    assert auth.sign_in(session, "det", "wrong password!", code, KEYS, now=now).outcome == "failed"
    assert auth.sign_in(session, "det", PASSWORD, "", KEYS, now=now).outcome == "failed"
    result = auth.sign_in(session, "det", PASSWORD, code, KEYS, now=now)
    assert (result.outcome, result.user) == ("signed_in", user)
    # The same code, or the one before it, is refused afterwards; the next one is fine.
    assert auth.sign_in(session, "det", PASSWORD, code, KEYS, now=now).outcome == "failed"
    earlier = _code(user, now - timedelta(seconds=30))
    assert auth.sign_in(session, "det", PASSWORD, earlier, KEYS, now=now).outcome == "failed"
    later = now + timedelta(seconds=30)
    assert auth.sign_in(session, "det", PASSWORD, _code(user, later), KEYS, now=later).user == user
    actions = [e.action for e in audit.events_for(session, "staff_user", user.id)]
    assert actions.count("staff.login") == 2 and actions.count("staff.login_failed") == 4


def test_a_code_from_one_step_either_side_is_accepted_but_not_two(session, make_staff):
    user = make_staff(Role.DETECTIVE, "det")
    now = utcnow() + timedelta(minutes=10)
    two_back = _code(user, now - timedelta(seconds=60))
    assert not totp.accept_totp(session, user, two_back, DATA_KEY, now)
    before, after = now - timedelta(seconds=30), now + timedelta(seconds=30)
    assert totp.accept_totp(session, user, _code(user, before), DATA_KEY, now)
    assert totp.accept_totp(session, user, _code(user, after), DATA_KEY, now)


def test_unenrolled_accounts_are_sent_to_enrolment_only_with_the_right_password(session):
    auth.create_user(session, "new", PASSWORD, Role.PIO, "test")
    assert auth.sign_in(session, "new", "wrong password!", "", KEYS).outcome == "failed"
    assert auth.sign_in(session, "new", PASSWORD, "", KEYS).outcome == "enrol"


def test_disabled_accounts_cannot_sign_in(session, make_staff):
    user = make_staff(Role.DETECTIVE, "det")
    user.active = False
    now = utcnow() + timedelta(minutes=5)
    assert auth.sign_in(session, "det", PASSWORD, _code(user, now), KEYS, now=now).user is None


def test_the_lockout_lasts_its_period_then_lifts(session, make_staff):
    user = make_staff(Role.DETECTIVE, "det")
    rules = auth.ThrottleRules(max_failures=5, lockout=timedelta(minutes=15))
    now = utcnow() + timedelta(minutes=5)
    outcomes = [
        auth.sign_in(session, "det", "nope nope nope", "", KEYS, rules, now).outcome
        for _ in range(6)
    ]
    assert outcomes == ["failed"] * 5 + ["locked"]
    assert auth.sign_in(session, "det", PASSWORD, "000000", KEYS, rules, now).outcome == "locked"
    later = now + timedelta(minutes=15, seconds=1)
    assert auth.sign_in(session, "det", PASSWORD, _code(user, later), KEYS, rules, later).user


def test_passwords_are_rehashed_at_sign_in_when_the_parameters_change(session, make_staff):
    user = make_staff(Role.DETECTIVE, "det")
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash(PASSWORD)
    old = user.password_hash
    now = utcnow() + timedelta(minutes=5)
    assert auth.sign_in(session, "det", PASSWORD, _code(user, now), KEYS, now=now).user == user
    assert user.password_hash != old and "m=19456,t=2,p=1" in user.password_hash


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 12 characters"),
        ("1q2w3e4r5t6y", "too easy to guess"),
        ("Q1W2E3R4T5Y6", "too easy to guess"),  # case does not help
        ("my name is detective-7 ok", "too easy to guess"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_password_rules(password, message):
    with pytest.raises(auth.PasswordRejected, match=message):
        auth.check_password_rules(password, 12, "detective-7")


def test_the_common_password_list_ships_with_the_project():
    common = auth.common_passwords()
    assert len(common) > 19000
    assert {"password", "123456", "qwerty"} <= common
    auth.check_password_rules("four random words here", 12, "det")


def test_recovery_codes_are_used_once_and_kept_only_as_hashes(session, make_staff, app):
    from ..conftest import enrol_authenticator

    user = auth.create_user(session, "det", PASSWORD, Role.DETECTIVE, "test")
    codes = enrol_authenticator(session, user, app.secret_key)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert totp.recovery_codes_left(session, user) == 10
    assert totp.accept_recovery_code(session, user, codes[3], KEYS.recovery)
    assert not totp.accept_recovery_code(session, user, codes[3], KEYS.recovery)
    assert totp.recovery_codes_left(session, user) == 9


def test_parallel_wrong_passwords_each_count_as_a_failure(app, session, make_staff):
    """Eight guesses at once on one name are eight failures, not one: the count is read and
    written back under the throttle row's lock (PostgreSQL) or the write lock (SQLite)."""
    make_staff(Role.DETECTIVE, "det")
    rules = auth.ThrottleRules(max_failures=100)
    auth.sign_in(session, "det", "first wrong guess", "", KEYS, rules)  # the row exists
    session.commit()
    maker = app.extensions["tipline.write_sessionmaker"]
    start = threading.Barrier(GUESSES)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def guess(n: int) -> None:
        try:
            with maker() as s:
                start.wait()
                outcomes.append(auth.sign_in(s, "det", f"wrong guess {n}", "", KEYS, rules).outcome)
                s.commit()
        except BaseException as error:  # reported below; a thread must not die silently
            errors.append(error)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert outcomes == ["failed"] * GUESSES
    session.expire_all()
    row = session.scalar(select(LoginThrottle))
    assert row.failures == 1 + GUESSES
    failed = select(func.count()).where(AuditEvent.action == "staff.login_failed")
    assert session.scalar(failed) == 1 + GUESSES


def test_pruning_keeps_a_throttle_row_a_sign_in_is_refreshing(app, session, make_staff):
    """The hourly prune and a sign-in on a stale row at the same moment: the prune waits for
    the sign-in's lock, then sees the fresh window and keeps the row and its failure."""
    make_staff(Role.DETECTIVE, "det")
    rules = auth.ThrottleRules()
    long_ago = utcnow() - timedelta(hours=2)
    auth.sign_in(session, "det", "an old wrong guess", "", KEYS, rules, now=long_ago)
    session.commit()
    maker = app.extensions["tipline.write_sessionmaker"]
    pruned: list[int] = []
    with maker() as signing_in:
        assert auth.sign_in(signing_in, "det", "a new wrong guess", "", KEYS, rules).outcome == (
            "failed"
        )

        def prune() -> None:
            with maker() as s:
                pruned.append(auth.prune_login_throttle(s, utcnow(), rules, limit=10))
                s.commit()

        pruner = threading.Thread(target=prune)
        pruner.start()
        pruner.join(timeout=0.5)  # it waits on the sign-in's lock
        signing_in.commit()
    pruner.join(timeout=60)
    assert pruned == [0]
    session.expire_all()
    assert session.scalar(select(LoginThrottle.failures)) == 1


def test_a_lockout_cannot_keep_the_owner_out_a_valid_second_factor_still_admits(
    session, make_staff
):
    """An outsider who knows a username locks it; its owner still signs in with password
    and a current authenticator code, and that is audited."""
    user = make_staff(Role.DETECTIVE, "det")
    rules = auth.ThrottleRules(max_failures=5, lockout=timedelta(minutes=15))
    now = utcnow() + timedelta(minutes=5)
    for _ in range(6):
        auth.sign_in(session, "det", "an outsider's guess", "", KEYS, rules, now)
    assert (
        auth.sign_in(session, "det", "wrong again!!", _code(user, now), KEYS, rules, now).outcome
        == "locked"
    )
    admitted = auth.sign_in(session, "det", PASSWORD, _code(user, now), KEYS, rules, now)
    assert admitted.outcome == "signed_in" and admitted.user == user
    assert audit.events_for(session, "staff_user", user.id)[-1].action == "staff.login_while_locked"


def test_an_admin_lifts_a_lockout_and_it_is_audited(session, make_staff):
    user = make_staff(Role.DETECTIVE, "det")
    admin = make_staff(Role.ADMIN, "adm")
    rules = auth.ThrottleRules(max_failures=5, lockout=timedelta(minutes=15))
    now = utcnow() + timedelta(minutes=5)
    for _ in range(6):
        auth.sign_in(session, "det", "an outsider's guess", "", KEYS, rules, now)
    with pytest.raises(PermissionError):
        auth.unlock_sign_in(session, user, make_staff(Role.SUPERVISOR, "sup"), KEYS)
    assert auth.unlock_sign_in(session, user, admin, KEYS) is True
    event = audit.events_for(session, "staff_user", user.id)[-1]
    assert event.action == "staff.unlocked" and event.actor_label == "adm"
    assert auth.sign_in(session, "det", "wrong again!!", "", KEYS, rules, now).outcome == "failed"
