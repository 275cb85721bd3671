"""The attack suite: what an attacker would try, run on every CI run.

Stored XSS through every public field into every staff view; CSRF on every state-changing
route; reading across roles and units; session fixation; cookie replay after sign-out; TOTP
replay; sign-in throttling; headers on 200, 404 and 500; staff downloads.
"""

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, text
from wtforms import StringField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import Length

from tipline import audit
from tipline.auth import totp
from tipline.auth.models import LoginThrottle, Role, StaffUser
from tipline.db import utcnow
from tipline.outbox import OutboxMessage
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.fields import TIP_FIELDS
from tipline.tips.forms import TipForm
from tipline.triage import figures
from tipline.web import policy
from tipline.web.responses import attachment

from ..conftest import PASSWORD, HttpsClient, csrf_token, publish_new_notice, sign_in, unit_named

XSS_PAYLOADS = [
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(2)</script>",
    "{{7*7}}{% raw %}",
]
TEXT_FIELDS = [
    name
    for klass in reversed(TipForm.__mro__)  # fields may live on a base form
    for name, field in vars(klass).items()
    if isinstance(field, UnboundField)
    and field.field_class in {StringField, TextAreaField}
    and name != "website"  # the honeypot: a person leaves it empty, and a bot's tip is spam
]
COOKIE = "__Host-tipline"


def _max_length(name: str) -> int:
    field = next(vars(k)[name] for k in TipForm.__mro__ if name in vars(k))
    limits = [v.max for v in field.kwargs.get("validators", []) if isinstance(v, Length)]
    return min(limits, default=100_000)


def _hostile_value(name: str, payload: str) -> str:
    """The payload then the field's name, cut to the field's limit so the form accepts it
    (a cut payload such as ``<script>alert(`` must come out escaped just the same)."""
    return f"{payload} ({name})"[: _max_length(name)]


def _staff_views(tip_ref, notice_slug):
    """Every staff page that shows tip text."""
    return [
        "/staff/queue",
        "/staff/queue?view=all",
        "/staff/queue?q=alert",
        f"/staff/tips/{tip_ref}",
        f"/staff/queue/notices/{notice_slug}",
    ]


# --- stored XSS -------------------------------------------------------------------------


def test_the_xss_suite_covers_every_text_field_of_the_public_tip_form():
    # Every field the tip declares, but the one yes/no box, takes text a tipster typed.
    assert set(TEXT_FIELDS) == {f.name for f in TIP_FIELDS if not f.flag}


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_stored_xss_through_every_public_field_comes_out_escaped_in_every_staff_view(
    app, client, session, make_staff, published_notice, payload
):
    url = f"/notices/{published_notice.slug}/tip"
    fields = {name: _hostile_value(name, payload) for name in TEXT_FIELDS}
    response = client.post(url, data={"csrf_token": csrf_token(client, url), **fields})
    assert response.status_code == 200
    tip_ref = session.scalars(select(tips.Tip.public_ref)).one()
    staff = app.test_client()
    sign_in(staff, make_staff(Role.DETECTIVE).username)
    for view in _staff_views(tip_ref, published_notice.slug):
        page = staff.get(view).get_data(as_text=True)
        if "<" in payload:
            assert payload not in page, view
    # The JSON export carries the text as it was typed, so it must never be read as HTML.
    export = staff.get(f"/staff/tips/{tip_ref}/export.json")
    assert export.mimetype == "application/json"
    assert export.headers["Content-Disposition"].startswith("attachment")
    assert export.headers["X-Content-Type-Options"] == "nosniff"
    tip_page = staff.get(f"/staff/tips/{tip_ref}").get_data(as_text=True)
    for name in TEXT_FIELDS:
        escaped = fields[name].replace("&", "&amp;").replace("<", "&lt;")
        escaped = escaped.replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
        assert escaped in tip_page, name


def test_no_template_marks_text_safe():
    from pathlib import Path

    from tipline import ROOT

    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert "|safe" not in text.replace(" ", ""), template
        assert "Markup(" not in text and "autoescape false" not in text, template
    for module in Path(ROOT / "tipline").rglob("*.py"):
        assert "Markup(" not in module.read_text(), module


# --- CSRF on every state-changing route ---------------------------------------------------


@pytest.fixture
def world(app, session, make_staff, published_notice):
    """One account of each role, an unenrolled one, and a tip: what URL arguments need."""
    users = {role: make_staff(role) for role in Role}
    from tipline.auth import services as auth

    auth.create_user(session, "newcomer", PASSWORD, Role.DETECTIVE, "test")
    # The account the admin routes act on: requests that pass CSRF really change it
    # (disable it, re-role it), so it must not be one the loop signs in with later.
    target = auth.create_user(session, "admin-target", PASSWORD, Role.DETECTIVE, "test")
    tip, _ = tips.submit_tip(
        session, tips.TipReport("seen"), receipts.receipt_key(app.secret_key), published_notice
    )
    session.commit()
    return {
        "users": users,
        "args": {
            "slug": published_notice.slug,
            "ref": tip.public_ref,
            "user_id": target.id,
            "notice_id": published_notice.id,
            "photo_id": 1,
            "tag": "lead",
            "photo_ref": "nosuchphoto",
            "escalation_id": 1,
            "message_id": 1,
            "review_id": 1,
            "reward_id": 1,
            "change_id": 1,
        },
    }


#: POST routes without CSRF tokens, and why. A witness's co-signature is sent by a program,
#: acts on no session or cookie, and proves itself by its Ed25519 signature: a forged
#: cross-site post could only deliver a co-signature the witness really made.
CSRF_EXEMPT = {"log.cosign"}


def _post_rules(app):
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "POST" in rule.methods and rule.endpoint not in CSRF_EXEMPT
        ),
        key=lambda r: r.rule,
    )


def _client_for(app, endpoint, world):
    """A client allowed to reach ``endpoint`` (so only CSRF can stop it), over HTTPS."""
    client = HttpsClient(app, app.response_class, use_cookies=True)
    allowed = policy.ROUTE_ROLES[endpoint]
    if allowed == policy.ENROLLING:
        token = csrf_token(client, "/staff/login")
        client.post(
            "/staff/login",
            data={"csrf_token": token, "username": "newcomer", "password": PASSWORD},
            headers={"Referer": "https://localhost/staff/login"},
        )
    elif allowed != policy.PUBLIC:
        role = sorted(allowed)[0]
        client.environ_base["HTTP_REFERER"] = "https://localhost/staff/"
        assert sign_in(client, world["users"][role].username).status_code == 303
        del client.environ_base["HTTP_REFERER"]
    return client


def test_there_are_state_changing_routes_to_check(app):
    endpoints = {rule.endpoint for rule in _post_rules(app)}
    assert {"account.login", "account.logout", "public.tip", "admin.staff_role"} <= endpoints


def test_csrf_is_refused_on_every_state_changing_route_over_https(app, world):
    # This test signs in once per route from one address; the sign-in limit is not its subject.
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    for rule in _post_rules(app):
        url = rule.build(world["args"], append_unknown=False)[1]
        client = _client_for(app, rule.endpoint, world)
        token = csrf_token(client, "/staff/login")
        referer = {"Referer": f"https://localhost{url}"}
        attempts = {
            "no token": client.post(url, data={}, headers=referer),
            "forged token": client.post(url, data={"csrf_token": "forged"}, headers=referer),
            "no referer": client.post(url, data={"csrf_token": token}),
            "other site": client.post(
                url, data={"csrf_token": token}, headers={"Referer": "https://evil.example/"}
            ),
            "other origin": client.post(
                url,
                data={"csrf_token": token},
                headers={**referer, "Origin": "https://evil.example"},
            ),
            "opaque origin": client.post(
                url, data={"csrf_token": token}, headers={**referer, "Origin": "null"}
            ),
            "plain-http origin": client.post(
                url, data={"csrf_token": token}, headers={"Origin": "http://localhost"}
            ),
        }
        for what, response in attempts.items():
            assert response.status_code == 400, (rule.rule, what)
            assert "This form has expired" in response.get_data(as_text=True), (rule.rule, what)
        # The same request with the token and a same-origin Referer gets past CSRF, and so
        # does one with a same-origin Origin and no Referer (what the shipped nginx passes on).
        passed = client.post(url, data={"csrf_token": token}, headers=referer)
        assert "This form has expired" not in passed.get_data(as_text=True), rule.rule
        # (A fresh client: the first may have signed itself out.)
        client = _client_for(app, rule.endpoint, world)
        token = csrf_token(client, "/staff/login")
        by_origin = client.post(
            url, data={"csrf_token": token}, headers={"Origin": "https://localhost"}
        )
        assert "This form has expired" not in by_origin.get_data(as_text=True), rule.rule


def test_a_cross_site_origin_is_refused_on_plain_http_too(client):
    """The onion service is plain HTTP: the token guards it, and a foreign Origin is refused."""
    token = csrf_token(client, "/tip")
    data = {"csrf_token": token, "narrative": "Seen at the corner store"}
    refused = client.post("/tip", data=data, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 400
    assert "This form has expired" in refused.get_data(as_text=True)
    assert "This form has expired" not in client.post("/tip", data=data).get_data(as_text=True)


# --- reading across roles and units -------------------------------------------------------


@pytest.fixture
def unit_tips(app, session):
    key = receipts.receipt_key(app.secret_key)
    out = {}
    for unit in ["Homicide", "Fugitive"]:
        notice = publish_new_notice(session, subject_name=unit)
        notice.unit = unit_named(session, unit)
        out[unit], _ = tips.submit_tip(session, tips.TipReport(f"{unit} tip"), key, notice)
    out[None], _ = tips.submit_tip(session, tips.TipReport("General tip"), key)
    session.commit()
    return out


def test_a_detective_with_a_unit_reads_only_their_units_tips_and_general_ones(
    client, make_staff, unit_tips
):
    sign_in(client, make_staff(Role.DETECTIVE, "homicide-det", unit="Homicide").username)
    queue = client.get("/staff/queue").get_data(as_text=True)
    assert "Homicide tip" in queue and "General tip" in queue
    assert "Fugitive tip" not in queue
    assert client.get(f"/staff/tips/{unit_tips['Homicide'].public_ref}").status_code == 200
    assert client.get(f"/staff/tips/{unit_tips[None].public_ref}").status_code == 200
    other = client.get(f"/staff/tips/{unit_tips['Fugitive'].public_ref}")
    assert other.status_code == 404  # the same answer as a tip that does not exist
    assert "Fugitive tip" not in other.get_data(as_text=True)


def test_detectives_without_a_unit_and_supervisors_read_every_tip(app, make_staff, unit_tips):
    for user in [
        make_staff(Role.DETECTIVE, "any-det"),
        make_staff(Role.SUPERVISOR, "sup", unit="Homicide"),
    ]:
        client = app.test_client()
        sign_in(client, user.username)
        for tip in unit_tips.values():
            assert client.get(f"/staff/tips/{tip.public_ref}").status_code == 200


@pytest.mark.parametrize("role", [Role.PIO, Role.ADMIN, Role.CALL_TAKER])
def test_pio_admin_and_call_taker_never_see_tip_contents(client, make_staff, unit_tips, role):
    sign_in(client, make_staff(role).username)
    for tip in unit_tips.values():
        for url in ["/staff/", "/staff/queue", f"/staff/tips/{tip.public_ref}"]:
            assert tip.narrative not in client.get(url).get_data(as_text=True), url
    if role is Role.ADMIN:
        for url in ["/staff/admin/staff", "/staff/admin/staff/1"]:
            page = client.get(url).get_data(as_text=True)
            assert all(t.narrative not in page for t in unit_tips.values())


def test_tip_references_are_unguessable(unit_tips):
    refs = [t.public_ref for t in unit_tips.values()]
    assert all(len(r) == 16 and set(r) <= set(receipts.ALPHABET) for r in refs)  # 80 bits
    assert len(set(refs)) == len(refs)
    assert not any(str(t.id) == r for t in unit_tips.values() for r in refs)


def test_the_public_and_staff_without_the_role_cannot_reach_admin_screens(app, make_staff):
    public = app.test_client()
    assert public.get("/staff/admin/staff").status_code == 303
    for role in [Role.DETECTIVE, Role.SUPERVISOR, Role.PIO, Role.CALL_TAKER]:
        client = app.test_client()
        sign_in(client, make_staff(role).username)
        assert client.get("/staff/admin/staff").status_code == 403


# --- sessions ----------------------------------------------------------------------------


def _cookie(client):
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _replay(app, value):
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def test_session_fixation_a_cookie_from_before_sign_in_is_not_kept(app, client, make_staff):
    user = make_staff(Role.DETECTIVE)
    client.get("/staff/login")  # the anonymous session (it holds the form's CSRF token)
    before = _cookie(client)
    assert before
    sign_in(client, user.username)
    after = _cookie(client)
    assert after and after != before
    # The pre-sign-in cookie, planted in another browser, opens nothing.
    assert _replay(app, before).get("/staff/queue").status_code == 303
    assert _replay(app, after).get("/staff/queue").status_code == 200


def test_a_copied_cookie_is_refused_after_sign_out(app, client, make_staff):
    sign_in(client, make_staff(Role.DETECTIVE).username)
    copied = _cookie(client)
    assert _replay(app, copied).get("/staff/queue").status_code == 200
    token = csrf_token(client, "/staff/queue")
    client.post("/staff/logout", data={"csrf_token": token})
    replayed = _replay(app, copied).get("/staff/queue")
    assert replayed.status_code == 303
    assert replayed.headers["Location"].startswith("/staff/login")


def test_a_copied_cookie_is_refused_after_a_password_change(app, client, make_staff):
    sign_in(client, make_staff(Role.DETECTIVE).username)
    copied = _cookie(client)
    token = csrf_token(client, "/staff/password")
    new = "another long passphrase nobody uses"
    client.post(
        "/staff/password",
        data={"csrf_token": token, "current": PASSWORD, "new": new, "confirm": new},
    )
    assert _replay(app, copied).get("/staff/queue").status_code == 303


# --- TOTP replay and throttling ------------------------------------------------------------


def _login(client, username, password=PASSWORD, code=""):
    token = csrf_token(client, "/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": password, "code": code},
    )


def test_a_totp_code_is_refused_the_second_time(app, session, make_staff):
    user = make_staff(Role.DETECTIVE)
    user.totp_last_step = None
    session.commit()
    code = pyotp.TOTP(totp.secret_of(user, app.config["DATA_KEY"])).now()
    assert _login(app.test_client(), user.username, code=code).status_code == 303
    replay = _login(app.test_client(), user.username, code=code)
    assert replay.status_code == 401


def _throttle_failures(app, username, n):
    client = app.test_client()
    return [_login(client, username, "wrong password 123").status_code for _ in range(n)]


def test_the_sixth_failure_in_a_minute_locks_that_account_only(app, session, make_staff):
    victim = make_staff(Role.DETECTIVE, "victim")
    make_staff(Role.DETECTIVE, "bystander")
    assert _throttle_failures(app, "victim", 6) == [401] * 5 + [429]
    # Locked: a wrong password is refused with the lockout message; the right password
    # with a current code still admits (a lockout cannot be used to keep the owner out).
    locked = sign_in(app.test_client(), "victim", "another wrong guess")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert sign_in(app.test_client(), "victim").status_code == 303
    # Nobody else is locked.
    assert sign_in(app.test_client(), "bystander").status_code == 303
    session.rollback()
    actions = [e.action for e in audit.events_for(session, "staff_user", victim.id)]
    assert actions.count("staff.login_failed") == 6
    assert "staff.locked_out" in actions and "staff.login_refused_locked" in actions
    # When the lockout is over, the right password works again.
    for row in session.scalars(select(LoginThrottle)):
        row.locked_until = row.locked_until - timedelta(minutes=16) if row.locked_until else None
    session.commit()
    assert sign_in(app.test_client(), "victim").status_code == 303


def test_unknown_usernames_lock_exactly_like_real_ones(app, make_staff):
    make_staff(Role.DETECTIVE, "real")
    real = _throttle_failures(app, "real", 7)
    ghost = _throttle_failures(app, "ghost", 7)
    assert real == ghost == [401] * 5 + [429, 429]
    page_real = sign_in(app.test_client(), "real", "wrong password 123").get_data(as_text=True)
    page_ghost = sign_in(app.test_client(), "ghost", "wrong password 123").get_data(as_text=True)
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", page_real).replace("real", "X") == strip.sub("", page_ghost).replace(
        "ghost", "X"
    )


def test_failures_spread_over_more_than_a_minute_do_not_lock(app, session, make_staff):
    make_staff(Role.DETECTIVE, "slow")
    assert _throttle_failures(app, "slow", 5) == [401] * 5
    session.rollback()
    for row in session.scalars(select(LoginThrottle)):
        row.window_started_at -= timedelta(seconds=61)
    session.commit()
    assert _throttle_failures(app, "slow", 1) == [401]
    assert sign_in(app.test_client(), "slow").status_code == 303


# --- headers --------------------------------------------------------------------------------


def _boom():
    raise RuntimeError("secret internals")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/staff/login", 200),
        ("/no-such-page", 404),
        ("/staff/nope", 404),
        ("/boom", 500),
    ],
)
def test_headers_on_200_404_and_500_over_https(app, monkeypatch, path, status):
    app.add_url_rule("/boom", "boom", _boom)
    monkeypatch.setitem(policy.ROUTE_ROLES, "boom", policy.PUBLIC)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get(path, base_url="https://tips.example.org")
    assert response.status_code == status
    h = response.headers
    assert "default-src 'self'" in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    if path.startswith("/staff/"):
        assert h["Cache-Control"] == "no-store"
    assert "secret internals" not in response.get_data(as_text=True)


def test_staff_redirects_and_new_pages_are_never_cached(app, client, make_staff):
    assert client.get("/staff/queue").headers["Cache-Control"] == "no-store"  # redirect
    sign_in(client, make_staff(Role.ADMIN).username)
    home = client.get("/staff/")  # each role's home is a redirect to its work
    assert (home.status_code, home.headers["Cache-Control"]) == (303, "no-store")
    for url in ["/staff/password", "/staff/admin/staff", "/staff/admin/staff/new"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


def test_staff_downloads_are_attachments_sandboxed_and_not_sniffed(app, monkeypatch):
    def download():
        return attachment(b"<html><script>alert(1)</script>", "tip photo.jpg", "image/jpeg")

    app.add_url_rule("/staff/download-test", "download_test", download)
    monkeypatch.setitem(policy.ROUTE_ROLES, "download_test", policy.PUBLIC)
    response = app.test_client().get("/staff/download-test")
    h = response.headers
    assert h["Content-Disposition"].startswith("attachment;")
    assert "tip photo.jpg" in h["Content-Disposition"]
    assert h["Content-Type"] == "image/jpeg"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert h["Cache-Control"] == "no-store"


def test_reading_notices_sets_no_cookie_but_the_tip_form_still_works(client, published_notice):
    for url in ["/", f"/notices/{published_notice.slug}", "/healthz"]:
        assert "Set-Cookie" not in client.get(url).headers, url
    url = f"/notices/{published_notice.slug}/tip"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "narrative": "x"})
    assert response.status_code == 200


def test_no_password_or_totp_secret_is_in_a_page(client, session, make_staff):
    user = make_staff(Role.ADMIN)
    sign_in(client, user.username)
    session.rollback()
    fresh = session.scalar(select(StaffUser).where(StaffUser.id == user.id))
    for url in ["/staff/admin/staff", f"/staff/admin/staff/{user.id}"]:
        page = client.get(url).get_data(as_text=True)
        secret = totp.secret_of(fresh, client.application.config["DATA_KEY"])
        assert secret and secret not in page and "$argon2" not in page


# --- Fuzzed inputs that once answered 500: now a plain 400/404/431 page -------------------


def test_an_oversized_host_header_gets_431_with_a_plain_page(client):
    response = client.get("/", headers={"Host": "a" * 70000})
    assert response.status_code == 431
    assert "The request was too large" in response.get_data(as_text=True)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "exa mple.org", "x\x01y"])
def test_a_malformed_host_header_gets_400(client, host):
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 400
    assert "could not be read" in response.get_data(as_text=True)


def test_nul_in_the_staff_username_is_400_not_500(client, caplog):
    token = csrf_token(client, "/staff/login")
    response = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": "ad\x00min", "password": "x" * 12},
    )
    assert response.status_code == 400
    assert "ad\x00min" not in caplog.text


def test_nul_in_a_note_or_a_query_is_400(app, client, session, make_staff):
    key = receipts.receipt_key(app.secret_key)
    tip, _ = tips.submit_tip(session, tips.TipReport("Seen at the levee"), key)
    detective = make_staff(Role.DETECTIVE, "det")
    from tipline.triage import services as triage

    triage.claim_tip(session, detective, tip)
    session.commit()
    sign_in(client, "det")
    page = f"/staff/tips/{tip.public_ref}"
    token = csrf_token(client, page)
    response = client.post(f"{page}/notes", data={"csrf_token": token, "body": "a\x00b"})
    assert response.status_code == 400
    assert client.get("/staff/queue?q=%00x").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/staff/notices/99999999999/photos/99999999999/display",
        "/staff/admin/staff/99999999999",
        "/staff/notices/99999999999",
        "/notices/x/photos/4294967296/display",
    ],
)
def test_ids_above_two_to_the_31_are_404(client, make_staff, url):
    sign_in(client, make_staff(Role.SUPERVISOR, "sup").username)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "notice=99999999999999999999",
        "received_from=9999-12-31&received_to=9999-12-31",
        "received_to=0001-01-01",
        "q=levee&after=" + "9" * 40,
        "after=" + "A" * 400,
    ],
)
def test_queue_filter_overflows_are_400_with_the_form(client, make_staff, query):
    sign_in(client, make_staff(Role.SUPERVISOR, "sup").username)
    response = client.get(f"/staff/queue?{query}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "Search and filters" in response.get_data(as_text=True)


def test_the_form_slot_word_in_a_query_or_a_notice_does_not_break_the_tip_form(app, session):
    notice = publish_new_notice(session, subject_name="tiplinecsrfslot Doe")
    session.commit()
    fresh = app.test_client()  # no session: the kept form shell is used
    assert fresh.get("/tip?x=tiplinecsrfslot").status_code == 200
    page = fresh.get(f"/notices/{notice.slug}/tip")
    assert page.status_code == 200 and "tiplinecsrfslot Doe" in page.get_data(as_text=True)


def test_tel_links_carry_an_extension_as_ext_not_as_digits_to_dial():
    from tipline.notices.models import tel_uri

    assert tel_uri("504-658-6030 ext. 5") == "tel:+1-504-658-6030;ext=5"
    assert tel_uri("(504) 822-1111 x12") == "tel:+1-504-822-1111;ext=12"
    assert tel_uri("504-658-6030") == "tel:+1-504-658-6030"


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    import stat

    from tipline.db import make_engine

    path = tmp_path / "fresh.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_statement_carries_no_parameters(app, session):
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    with pytest.raises(SQLAlchemyError) as failure:
        session.execute(text("INSERT INTO no_such_table VALUES (:v)"), {"v": "secret tip words"})
    session.rollback()
    assert "secret tip words" not in str(failure.value)


def test_queue_and_search_pages_that_show_tip_text_are_audited_without_the_query(
    app, client, session, make_staff
):
    from tipline.audit.models import AuditEvent

    key = receipts.receipt_key(app.secret_key)
    tip, _ = tips.submit_tip(session, tips.TipReport("Blue sedan by the levee"), key)
    session.commit()
    sign_in(client, make_staff(Role.DETECTIVE, "det").username)
    assert "Blue sedan" in client.get("/staff/queue").get_data(as_text=True)
    assert "sedan" in client.get("/staff/queue?q=sedan").get_data(as_text=True)
    session.expire_all()
    listed, searched = (
        session.scalars(select(AuditEvent).where(AuditEvent.action == a)).all()
        for a in ("tips.listed", "tips.searched")
    )
    assert listed and listed[-1].details["tips"] == [tip.public_ref]
    assert searched and searched[-1].details["tips"] == [tip.public_ref]
    assert searched[-1].actor_label == "det"
    assert "sedan" not in str(searched[-1].details)
    assert len(searched[-1].details["query_hash"]) == 32


def test_staff_pages_show_no_microsecond_times(app, client, session, make_staff):
    key = receipts.receipt_key(app.secret_key)
    tip, _ = tips.submit_tip(session, tips.TipReport("Seen at the levee"), key)
    session.commit()
    sign_in(client, make_staff(Role.DETECTIVE, "det").username)
    for url in ("/staff/queue", f"/staff/tips/{tip.public_ref}"):
        page = client.get(url).get_data(as_text=True)
        assert 'datetime="' in page
        assert not re.search(r'datetime="[^"]*:\d\d\.\d+', page), url


def test_rotating_the_secret_key_keeps_receipt_codes_with_a_receipt_secret(database_url, tmp_path):
    """With RECEIPT_SECRET set to the old key, a new SECRET_KEY leaves every code working."""
    from tipline import create_app

    from ..web.tipster import open_receipt, send_tip

    common = {"TESTING": True, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    old = create_app({**common, "SECRET_KEY": "o" * 40})
    _, code = send_tip(old.test_client())
    rotated = create_app({**common, "SECRET_KEY": "n" * 40, "RECEIPT_SECRET": "o" * 40})
    assert open_receipt(rotated.test_client(), code).status_code == 303
    forgot = create_app({**common, "SECRET_KEY": "n" * 40})
    assert open_receipt(forgot.test_client(), code).status_code == 400


# --- Insider and database-copy cases -------------------------------------------------------


def test_a_database_copy_yields_no_second_factor(app, session, make_staff):
    """Reading every staff row raw, as from a stolen backup, finds no TOTP secret."""
    users = [make_staff(role) for role in (Role.DETECTIVE, Role.SUPERVISOR, Role.ADMIN)]
    secrets = [totp.secret_of(u, app.config["DATA_KEY"]) for u in users]
    session.rollback()
    rows = session.execute(text("SELECT * FROM staff_user")).all()
    dump = repr(rows).encode() + b"".join(
        bytes(v) for r in rows for v in r if isinstance(v, bytes | memoryview)
    )
    assert all(secret and secret.encode() not in dump for secret in secrets)


def test_an_insider_cannot_send_tip_alerts_to_an_unconfirmed_address(
    app, client, session, make_staff, published_notice
):
    """A detective types an outside address to follow a notice: the address gets only the
    confirmation link (naming no notice), never an alert, unless its owner confirms."""
    sign_in(client, make_staff(Role.DETECTIVE, "det").username)
    url = f"/staff/queue/notices/{published_notice.slug}"
    client.post(
        f"{url}/follow",
        data={"csrf_token": csrf_token(client, url), "email": "reporter@example.net"},
    )
    key = receipts.receipt_key(app.secret_key)
    for _ in range(3):
        tips.submit_tip(session, tips.TipReport("seen on Canal"), key, published_notice)
    session.commit()
    sent = session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == "reporter@example.net")
    ).all()
    assert [m.kind for m in sent] == ["follow-confirm"]
    assert published_notice.subject_name not in sent[0].body


def test_reading_only_through_search_shows_in_oversight(app, client, session, make_staff):
    key = receipts.receipt_key(app.secret_key)
    tips.submit_tip(session, tips.TipReport("Blue sedan by the levee"), key)
    session.commit()
    reader = make_staff(Role.DETECTIVE, "reader")
    sign_in(client, "reader")
    assert "sedan" in client.get("/staff/queue?q=sedan").get_data(as_text=True)
    session.rollback()
    supervisor = make_staff(Role.SUPERVISOR, "sup")
    rows = {f.user.id: f for f in figures.staff_figures(session, supervisor, utcnow())}
    assert rows[reader.id].viewed == 1
