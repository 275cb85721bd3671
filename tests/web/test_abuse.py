"""Spam and abuse defence: rate limits (memory and Redis), the honeypot, double submits."""

import re
import threading
import uuid

from sqlalchemy import func, select

from tipline.tips.models import Tip
from tipline.web import limits

from ..conftest import REDIS_URL, app_config, csrf_token
from .tipster import form_token, open_receipt, send_tip


def _tips(session) -> int:
    return session.scalar(select(func.count()).select_from(Tip))


def test_tip_posts_are_throttled_per_address_and_reading_the_form_is_not(app, client, session):
    app.config["TIP_RATE_LIMIT"] = "2 per minute"
    me = {"REMOTE_ADDR": "192.0.2.10"}
    for _ in range(2):
        taken, _code = send_tip(client, environ=me)
        # A taken tip is not told to retry later, and costs no counter reads for headers.
        assert taken.status_code == 200 and "Retry-After" not in taken.headers
        assert not any(name.lower().startswith("x-ratelimit") for name, _value in taken.headers)
    refused, code = send_tip(client, environ=me)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and code is None
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # The form comes back with what was typed and a wait message: nothing is lost.
    assert "Please wait a few minutes, then send again" in page and "Nothing is lost" in page
    assert "Seen by the levee" in page
    assert _tips(session) == 2
    assert client.get("/tip", environ_base=me).status_code == 200
    # Another address is not held back by this one.
    assert send_tip(client, environ={"REMOTE_ADDR": "192.0.2.11"})[0].status_code == 200


def test_behind_the_proxy_each_visitor_has_their_own_limit(app, database_url, tmp_path):
    """With PROXY_FIX_X_FOR, the limiter tells visitors apart by the proxy's X-Forwarded-For;
    without it, everyone behind nginx would share one bucket (and one would block all)."""
    from tipline import create_app

    def proxied(n: int) -> dict:
        return {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": f"198.51.100.{n}"}

    for trusted, expected in [(1, [200, 200, 429, 200]), (0, [200, 200, 429, 429])]:
        behind = create_app(
            app_config(
                database_url,
                tmp_path / f"proxy-{trusted}",
                PROXY_FIX_X_FOR=trusted,
                TIP_RATE_LIMIT="2 per minute",
            )
        )
        client = behind.test_client()
        statuses = [send_tip(client, environ=proxied(n))[0].status_code for n in (1, 1, 1, 2)]
        behind.extensions["tipline.engine"].dispose()
        assert statuses == expected, (trusted, statuses)


def test_staff_sign_in_is_throttled_per_address_and_overall(app):
    """Many accounts tried from one address are slowed down, beyond each account's lockout."""

    def try_login(address: str) -> int:
        client = app.test_client()
        token = csrf_token(client, "/staff/login")
        data = {"csrf_token": token, "username": f"u{uuid.uuid4().hex[:6]}", "password": "x" * 12}
        env = {"REMOTE_ADDR": address}
        return client.post("/staff/login", data=data, environ_base=env).status_code

    app.config.update(LOGIN_RATE_LIMIT="3 per minute", LOGIN_GLOBAL_RATE_LIMIT="100 per minute")
    assert [try_login("192.0.2.50") for _ in range(4)] == [401, 401, 401, 429]
    assert try_login("192.0.2.51") == 401  # another address is not held back by that one

    limits.limiter_for(app).reset()
    app.config.update(LOGIN_RATE_LIMIT="100 per minute", LOGIN_GLOBAL_RATE_LIMIT="2 per minute")
    assert [try_login(f"192.0.2.{60 + n}") for n in range(3)] == [401, 401, 429]


def test_one_ipv6_64_cannot_fill_the_queue(app, client, session):
    """Every address in one /64 is one client: the flood stops at the per-address limit."""
    app.config["TIP_RATE_LIMIT"] = "5 per minute"
    statuses = [
        send_tip(client, environ={"REMOTE_ADDR": f"2001:db8:1:2::{n:x}"})[0].status_code
        for n in range(1, 12)
    ]
    assert statuses == [200] * 5 + [429] * 6
    assert _tips(session) == 5
    # Another /64 is someone else.
    assert send_tip(client, environ={"REMOTE_ADDR": "2001:db8:1:3::1"})[0].status_code == 200


def test_ipv6_is_keyed_by_its_64_and_mapped_ipv4_by_the_ipv4():
    assert limits.network_of("2001:db8:1:2::ffff") == "2001:db8:1:2::/64"
    assert limits.network_of("2001:db8:1:2:abcd::1") == "2001:db8:1:2::/64"
    assert limits.network_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert limits.network_of("192.0.2.7") == "192.0.2.7"
    assert limits.network_of("2001:db8::1", 56) == "2001:db8::/56"


def test_past_the_flood_rate_tips_are_taken_and_sorted_not_refused(
    app, client, session, make_staff
):
    """A flood from many addresses does not silence anyone: past the global rate, a tip from
    another address still gets in (marked "possible flood", low priority, in its own view)."""
    from tipline.auth.models import Role
    from tipline.tips.models import TipPriority

    from ..conftest import sign_in

    app.config["TIP_FLOOD_RATE"] = "3 per minute"
    statuses = [
        send_tip(client, environ={"REMOTE_ADDR": f"198.51.100.{n}"})[0].status_code
        for n in range(1, 9)
    ]
    urgent, code = send_tip(
        client, environ={"REMOTE_ADDR": "203.0.113.77"}, narrative="She is here now", there_now="y"
    )
    assert statuses == [200] * 8 and urgent.status_code == 200 and code
    tips = session.scalars(select(Tip).order_by(Tip.id)).all()
    assert len(tips) == 9
    assert [t.possible_flood for t in tips] == [False] * 3 + [True] * 6
    assert all(t.priority is TipPriority.LOW for t in tips[3:])
    staff = app.test_client()
    sign_in(staff, make_staff(Role.SUPERVISOR, "sup").username)
    page = staff.get("/staff/queue?view=flood").get_data(as_text=True)
    assert 'Possible flood <span class="count">(6)' in page
    assert tips[-1].public_ref[:6] in page


def test_a_form_shown_again_for_a_mistake_does_not_count(app, client, session):
    app.config["TIP_RATE_LIMIT"] = "2 per minute"
    me = {"REMOTE_ADDR": "192.0.2.40"}
    for _ in range(5):
        assert send_tip(client, environ=me, narrative="")[0].status_code == 400
    assert [send_tip(client, environ=me)[0].status_code for _ in range(3)] == [200, 200, 429]


def test_onion_visitors_share_a_separate_larger_budget(app, client, session):
    app.config["TIP_RATE_LIMIT"] = "1 per minute"
    app.config["ONION_TIP_RATE_LIMIT"] = "4 per minute"
    tor = {"REMOTE_ADDR": "127.0.0.1"}
    onion = "http://abcdefghijklmnop.onion"
    statuses = [send_tip(client, environ=tor, base_url=onion)[0].status_code for _ in range(5)]
    assert statuses == [200] * 4 + [429]
    # The clearnet budget of the same address (the Tor daemon's) is separate.
    assert send_tip(client, environ={"REMOTE_ADDR": "127.0.0.1"})[0].status_code == 200


def test_tips_and_answers_have_separate_counters(app, client, session):
    app.config["TIP_RATE_LIMIT"] = "1 per minute"
    me = {"REMOTE_ADDR": "192.0.2.44"}
    _, code = send_tip(client, environ=me)
    assert send_tip(client, environ=me)[0].status_code == 429
    assert open_receipt(client, code, me).status_code == 303
    page = client.get("/receipt", environ_base=me).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/receipt/answer", data={"csrf_token": token, "body": "Blue car"}, environ_base=me
    )
    assert answer.status_code in (200, 303)


def test_receipt_lookups_are_throttled(app, client):
    _, code = send_tip(client)
    app.config["RECEIPT_RATE_LIMIT"] = "3 per minute"
    me = {"REMOTE_ADDR": "192.0.2.20"}
    for _ in range(3):
        assert open_receipt(client, "7K3M-QX9P-2D4F-HJ8R-WN5T", me).status_code == 400
    assert open_receipt(client, code, me).status_code == 429  # even the right code, now
    assert open_receipt(client, code, {"REMOTE_ADDR": "192.0.2.21"}).status_code == 303


def test_the_limiter_keys_on_a_daily_keyed_hash_never_the_address():
    one = limits.address_hash("203.0.113.5", "s" * 40, "2026-01-01")
    assert one == limits.address_hash("203.0.113.5", "s" * 40, "2026-01-01")
    assert "203.0.113" not in one
    assert one != limits.address_hash("203.0.113.5", "s" * 40, "2026-01-02")  # rotates daily
    assert one != limits.address_hash("203.0.113.6", "s" * 40, "2026-01-01")
    assert one != limits.address_hash("203.0.113.5", "t" * 40, "2026-01-01")


def test_limits_are_counted_in_redis_when_configured(database_url, tmp_path, redis_db):
    from tipline import create_app

    app = create_app(
        app_config(
            database_url,
            tmp_path / uuid.uuid4().hex,
            REDIS_URL=REDIS_URL,
            TIP_RATE_LIMIT="1 per minute",
        )
    )
    try:
        assert app.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
        client = app.test_client()
        me = {"REMOTE_ADDR": "192.0.2.30"}
        assert send_tip(client, environ=me)[0].status_code == 200
        assert send_tip(client, environ=me)[0].status_code == 429
        keys = [k.decode() for k in redis_db.keys("*")]
        assert keys and any("tip-post" in k for k in keys)
        assert not any("192.0.2" in k for k in keys)
    finally:
        app.extensions["tipline.engine"].dispose()


def test_the_honeypot_saves_nothing_and_keeps_what_a_person_typed(client, session):
    response, code = send_tip(client, website="http://spam.example", seen_where="Rampart St")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and code is None
    assert "Your tip was not sent yet" in page and "Rampart St" in page
    assert re.search(r'<input[^>]*name="website"[^>]*value=""', page)  # cleared: send again
    assert _tips(session) == 0


def test_a_double_submit_makes_one_tip_and_shows_the_same_receipt(client, session):
    page = client.get("/tip").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(client, "/tip"),
        "form_token": form_token(page),
        "narrative": "Same tip twice",
    }
    first = client.post("/tip", data=data).get_data(as_text=True)
    second = client.post("/tip", data=data).get_data(as_text=True)
    from ..conftest import receipt_code_on

    assert receipt_code_on(first) and receipt_code_on(first) == receipt_code_on(second)
    assert "This tip was already received" in second
    assert _tips(session) == 1


def test_a_double_submit_after_the_replay_window_shows_no_code_and_makes_no_tip(
    app, client, session
):
    app.config["TIP_REPLAY_MINUTES"] = -1
    page = client.get("/tip").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(client, "/tip"),
        "form_token": form_token(page),
        "narrative": "Same tip twice",
    }
    client.post("/tip", data=data)
    second = client.post("/tip", data=data).get_data(as_text=True)
    from ..conftest import receipt_code_on

    assert "This tip was already received" in second and receipt_code_on(second) is None
    assert _tips(session) == 1


def test_a_double_click_racing_two_requests_still_makes_one_tip(app, client, session):
    """Both POSTs of one form in flight at once: one tip, and both pages show its code."""
    page = client.get("/tip").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(client, "/tip"),
        "form_token": form_token(page),
        "narrative": "Raced",
    }
    other = app.test_client()
    name = app.config["SESSION_COOKIE_NAME"]
    other.set_cookie(name, client.get_cookie(name).value)
    barrier = threading.Barrier(2)
    pages = {}

    def post(name, c):
        barrier.wait()
        pages[name] = c.post("/tip", data=dict(data)).get_data(as_text=True)

    threads = [threading.Thread(target=post, args=(n, c)) for n, c in [("a", client), ("b", other)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    from ..conftest import receipt_code_on

    codes = {receipt_code_on(p) for p in pages.values()}
    assert len(codes) == 1 and None not in codes, [p[-2000:] for p in pages.values()]
    assert _tips(session) == 1


def test_a_tip_is_still_taken_when_redis_is_down(database_url, tmp_path):
    from tipline import create_app

    app = create_app(
        app_config(
            database_url,
            tmp_path / "instance",
            REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens there
        )
    )
    try:
        response, code = send_tip(app.test_client())
        assert response.status_code == 200 and code
    finally:
        app.extensions["tipline.engine"].dispose()


def test_memory_counters_start_no_thread_and_still_expire(monkeypatch):
    """Without Redis the counters live in memory: counting starts no timer thread per
    request (the limits library's own memory storage did, on every tip), and an expired
    window is dropped by a later count."""
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    storage = limits.SweptMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    one_second = parse("2 per second")
    assert [limiter.hit(one_second, "me") for _ in range(3)] == [True, True, False]
    assert started == []
    (mine,) = storage.storage
    storage.expirations[mine] = 0  # as if its window had closed
    limiter.hit(one_second, "someone else")  # within the second: no sweep yet
    assert mine in storage.storage
    later = storage._next_sweep + 0.1
    monkeypatch.setattr(limits.time, "monotonic", lambda: later)
    limiter.hit(one_second, "someone else")
    assert mine not in storage.storage and started == []


def test_the_app_counts_in_the_swept_memory_storage_without_redis(app):
    assert isinstance(limits.limiter_for(app).storage, limits.SweptMemoryStorage)
