"""The people who use Tipline, in a real browser: the public on a phone, with and without
JavaScript, and the detective at a desk. axe-core checks every page they visit."""

from __future__ import annotations

import re

import pyotp
import pytest

from .conftest import assert_accessible, shot

pytestmark = pytest.mark.slow


def _public_journey(page, site, label: str, narrative: str, axe: bool = True) -> str:
    """Gallery, notice, tip form (an empty try first), receipt. Returns the receipt code.

    axe-core needs JavaScript in the page, so with JavaScript off only screenshots are taken
    (the markup is the same one axe checks in the JavaScript-on journey).
    """
    check = assert_accessible if axe else shot
    page.goto(f"{site.base_url}/")
    check(page, f"{label}-gallery")
    page.get_by_role("link", name=re.compile("Alexis Jane Doe")).first.click()
    page.wait_for_url("**/notices/alexis-jane-doe")
    check(page, f"{label}-notice")
    phones = [a.get_attribute("href") for a in page.locator(".contact-phone").all()]
    assert phones == ["tel:+1-504-658-6030", "tel:+1-504-822-1111"]

    page.get_by_role("link", name="Send a tip online").click()
    check(page, f"{label}-tip-form")
    # Sending an empty form explains what is missing, next to the field.
    page.get_by_role("button", name="Send tip").click()
    assert page.get_by_role("alert").filter(has_text="Please tell us what you saw").count()
    assert page.locator("#narrative").get_attribute("aria-invalid") == "true"
    check(page, f"{label}-tip-form-error")

    page.get_by_label("What did you see?").fill(narrative)
    page.get_by_label("Where did you see them?").fill("St. Charles Ave at Napoleon")
    page.get_by_label("They are there right now").check()
    page.get_by_role("button", name="Send tip").click()
    page.get_by_role("heading", name=re.compile("Your tip was received")).wait_for()
    check(page, f"{label}-receipt")
    code = page.locator(".receipt-code code").inner_text().strip()
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{4}", code)
    return code


def test_public_on_a_phone_finds_the_notice_and_sends_a_tip(phone, demo_site):
    _public_journey(phone, demo_site, "phone", "Waiting at the streetcar stop, red backpack")


def test_public_journey_works_with_javascript_off(phone_no_js, demo_site):
    _public_journey(phone_no_js, demo_site, "phone-nojs", "Getting coffee, JS off", axe=False)


def test_detective_signs_in_and_finds_the_tip_in_the_queue(desktop, phone, demo_site):
    _public_journey(phone, demo_site, "phone-for-detective", "Boarding the Algiers ferry")
    desktop.goto(f"{demo_site.base_url}/staff/login")
    assert_accessible(desktop, "desktop-login")
    desktop.get_by_label("Username").fill("demo-detective")
    desktop.get_by_label("Password").fill(demo_site.passwords["demo-detective"])
    desktop.get_by_role("button", name="Sign in").click()
    # First sign-in: set up the authenticator from the written-out key, as a person could.
    desktop.get_by_role("heading", name="Set up your authenticator app").wait_for()
    assert_accessible(desktop, "desktop-enrol")
    key = desktop.locator(".totp-key code").inner_text().replace(" ", "")
    desktop.locator("#code").fill(pyotp.TOTP(key).now())
    desktop.get_by_role("button", name="Confirm").click()
    desktop.get_by_role("heading", name="Save these recovery codes now").wait_for()
    assert desktop.locator(".recovery-codes li").count() >= 8
    assert_accessible(desktop, "desktop-recovery-codes")
    desktop.get_by_role("link", name=re.compile("I have saved them")).click()
    desktop.get_by_role("heading", name=re.compile("Tip queue")).wait_for()
    assert_accessible(desktop, "desktop-queue")
    row = desktop.locator("table.queue tr", has_text="Boarding the Algiers ferry")
    assert row.get_by_text("Urgent: there now").count() == 1
    row.get_by_role("link").first.click()
    desktop.get_by_text("Boarding the Algiers ferry").wait_for()
    assert_accessible(desktop, "desktop-tip")


def test_keyboard_alone_reaches_the_tip_form_from_the_notice(desktop, demo_site):
    desktop.goto(f"{demo_site.base_url}/notices/alexis-jane-doe")
    desktop.keyboard.press("Tab")
    focused = desktop.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    for _ in range(15):
        desktop.keyboard.press("Tab")
        if desktop.evaluate("document.activeElement.textContent.trim()") == "Send a tip online":
            break
    else:
        pytest.fail("the tip link is not reachable with Tab")
    desktop.keyboard.press("Enter")
    desktop.wait_for_url("**/notices/alexis-jane-doe/tip")
    shot(desktop, "desktop-tip-form")


def test_the_accessibility_check_does_catch_violations(desktop):
    """Guards the guard: a page with an unlabelled field and an image without alt fails."""
    desktop.set_content('<html lang="en"><title>t</title><img src="x.png"><input type="text">')
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(desktop, "axe-self-check")
