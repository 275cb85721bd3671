"""Staff pages: sign-in, the queue, a tip, and who may open them."""

import pytest

from tipline import audit
from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips

from ..conftest import csrf_token, sign_in


@pytest.fixture
def a_tip(app, session, published_notice):
    tip, _ = tips.submit_tip(
        session,
        tips.TipReport("Seen at the corner store <script>alert(1)</script>", there_now=True),
        receipts.receipt_key(app.secret_key),
        published_notice,
    )
    session.commit()
    return tip


def test_tip_sent_through_the_form_appears_in_the_detectives_queue(
    client, app, make_staff, published_notice
):
    url = f"/notices/{published_notice.slug}/tip"
    client.post(url, data={"csrf_token": csrf_token(client, url), "narrative": "By the levee"})
    detective = make_staff(Role.DETECTIVE)
    staff = app.test_client()
    assert sign_in(staff, detective.username).status_code == 303
    page = staff.get("/staff/queue").get_data(as_text=True)
    assert "By the levee" in page
    assert "Alexis Jane Doe" in page
    assert 'New (unclaimed) <span class="count">(1)</span>' in page


def test_detective_reads_a_tip_and_the_view_is_audited(client, session, make_staff, a_tip):
    detective = make_staff(Role.DETECTIVE)
    sign_in(client, detective.username)
    response = client.get(f"/staff/tips/{a_tip.public_ref}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # escaped, never run
    assert "<script>alert(1)" not in page
    assert "Urgent: there now" in page
    events = audit.events_for(session, "tip", a_tip.public_ref)
    assert events[-1].action == "tip.viewed" and events[-1].actor_id == detective.id


def test_supervisor_reads_the_queue_too(client, make_staff, a_tip):
    sign_in(client, make_staff(Role.SUPERVISOR).username)
    assert client.get("/staff/queue").status_code == 200
    assert client.get(f"/staff/tips/{a_tip.public_ref}").status_code == 200


def test_unknown_tip_reference_is_not_found(client, make_staff):
    sign_in(client, make_staff(Role.DETECTIVE).username)
    assert client.get("/staff/tips/NOSUCHTIP").status_code == 404


def test_the_public_is_sent_to_sign_in_and_never_sees_a_tip(client, a_tip):
    for url in ["/staff/", "/staff/queue", f"/staff/tips/{a_tip.public_ref}"]:
        response = client.get(url)
        assert response.status_code == 303, url
        assert response.headers["Location"].startswith("/staff/login")
        assert "corner store" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.PIO, Role.ADMIN, Role.CALL_TAKER])
def test_pio_admin_and_call_taker_cannot_reach_tips(client, make_staff, a_tip, role):
    sign_in(client, make_staff(role).username)
    home = client.get("/staff/", follow_redirects=True)  # the role's own home
    assert home.status_code == 200
    assert "corner store" not in home.get_data(as_text=True)
    for url in ["/staff/queue", f"/staff/tips/{a_tip.public_ref}"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "corner store" not in response.get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_the_same_answer(client, make_staff):
    make_staff(Role.DETECTIVE, "det")
    wrong = sign_in(client, "det", "not the password at all")
    unknown = sign_in(client, "nobody", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    message = "That username, password and code do not match an active account."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert client.get("/staff/queue").status_code == 303


def test_sign_in_without_csrf_token_is_refused(client, make_staff):
    make_staff(Role.DETECTIVE, "det")
    client.get("/staff/login")
    response = client.post("/staff/login", data={"username": "det", "password": "x" * 20})
    assert response.status_code == 400
    assert client.get("/staff/queue").status_code == 303


def test_sign_in_follows_next_only_within_staff(app, make_staff):
    make_staff(Role.DETECTIVE, "det")
    for target, expected in [
        ("/staff/queue", "/staff/queue"),
        ("//evil.example/staff/", "/staff/"),
        ("https://evil.example/staff/x", "/staff/"),
        ("/notices/x", "/staff/"),
    ]:
        client = app.test_client()  # sign-in starts a fresh session, so one client per try
        response = sign_in(client, "det", next=target)
        assert response.headers["Location"] == expected, target


def test_sign_out_needs_a_post_with_token_and_ends_access(client, make_staff):
    sign_in(client, make_staff(Role.DETECTIVE).username)
    assert client.get("/staff/logout").status_code == 405
    assert client.post("/staff/logout").status_code == 400  # no CSRF token
    assert client.get("/staff/queue").status_code == 200
    token = csrf_token(client, "/staff/queue")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/staff/queue").status_code == 303


def test_disabled_account_loses_access_at_once(client, session, make_staff):
    user = make_staff(Role.DETECTIVE)
    sign_in(client, user.username)
    assert client.get("/staff/queue").status_code == 200
    user.active = False
    session.commit()
    assert client.get("/staff/queue").status_code == 303
