"""The whole production path a visitor takes, in a real browser: Chromium -> nginx with the
shipped deploy/nginx.conf over TLS -> gunicorn, with CSRF protection on."""

from __future__ import annotations

import pyotp
import pytest

from tipline.auth import services as auth
from tipline.auth import totp
from tipline.auth.models import Role

from ..conftest import PASSWORD, SECRET, publish_new_notice, receipt_code_on
from ..test_deploy import need_nginx, new_site_database, served_behind_nginx
from .conftest import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.slow
def test_a_browser_sends_a_tip_signs_in_and_looks_up_a_receipt_through_nginx_over_https(
    browser, tmp_path
):
    """The whole production path a visitor takes: Chromium -> nginx (deploy/nginx.conf, TLS)
    -> gunicorn, with CSRF protection on. nginx removes Referer, so the app must accept a
    same-origin Origin instead (tipline/web/csrf.py)."""
    need_nginx()
    with new_site_database(tmp_path) as (app, session):
        slug = publish_new_notice(session).slug
        user = auth.create_user(session, "night-detective", PASSWORD, Role.DETECTIVE, "test")
        data_key = app.config["DATA_KEY"]
        secret = totp.start_enrolment(session, user, data_key)
        assert totp.confirm_enrolment(
            session, user, pyotp.TOTP(secret).now(), totp.recovery_key(SECRET), data_key
        )
        user.totp_last_step = None
    with served_behind_nginx(tmp_path) as (prefix, _gunicorn):
        # The certificate's name, on the default HTTPS port, resolved to the test's nginx: the
        # browser sends exactly the Host and Origin it would send to the real site.
        rules = f"--host-resolver-rules=MAP tips.example.org:443 127.0.0.1:{prefix.https_port}"
        site = "https://tips.example.org"
        # A browser of its own (the same Playwright), started with the host mapping.
        mapped = browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rules])
        try:
            page = mapped.new_context(ignore_https_errors=True).new_page()

            page.goto(f"{site}/notices/{slug}/tip")
            page.get_by_label("What did you see?").fill("Seen at the ferry landing at noon")
            page.get_by_role("button", name="Send tip").click()
            page.wait_for_load_state()
            assert "This form has expired" not in page.content()
            code = receipt_code_on(page.content())
            assert code, page.content()[:2000]

            page.goto(f"{site}/receipt")
            page.get_by_label("Your receipt code").fill(code)
            page.get_by_role("button", name="Open my tip").click()
            page.get_by_role("heading", name="Your tip", exact=True).wait_for()
            page.get_by_label("Your answer or more information").fill("He wore a red cap")
            page.get_by_role("button", name="Send", exact=True).click()
            page.wait_for_load_state()
            assert "This form has expired" not in page.content()
            assert "He wore a red cap" in page.content()

            page.goto(f"{site}/staff/login")
            page.get_by_label("Username").fill("night-detective")
            page.get_by_label("Password").fill(PASSWORD)
            page.locator("#code").fill(pyotp.TOTP(secret).now())
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            assert "This form has expired" not in page.content()
            assert page.url.startswith(f"{site}/staff/"), page.url
            assert page.get_by_role("button", name="Sign out").count() == 1
        finally:
            mapped.close()
