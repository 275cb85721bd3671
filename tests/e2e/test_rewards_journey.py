"""A Crime Stoppers reward from tip to payout, in a browser against a real `tipline demo`:
tip -> a detective records an arrest -> a coordinator proposes -> a second coordinator
approves -> the tipster (JavaScript off) sees the reward and a payout code -> the payout desk
pays it -> a second payment of the same code is refused -> the ledger shows it.

The demo process is this module's own: the staff accounts enrol their authenticators here,
whatever the other browser tests did with theirs.
"""

from __future__ import annotations

import re

import pytest

from .conftest import PHONE, assert_accessible, new_page, running_demo, shot, staff_desktop

pytestmark = pytest.mark.slow

CODE = re.compile(r"([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{4}")
NARRATIVE = "REWARD-MARKER: he sleeps in the blue shotgun house on Dauphine"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_demo(tmp_path_factory.mktemp("e2e-rewards")) as demo:
        yield demo


def test_a_reward_from_tip_to_a_single_payout(browser, site):
    # The tipster, on a phone with JavaScript off, sends a tip on the demo notice.
    tipster_context, tipster = new_page(
        browser, viewport=PHONE, has_touch=True, java_script_enabled=False
    )
    tipster.goto(f"{site.base_url}/")
    tipster.locator("a[href^='/notices/']").first.click()
    tipster.get_by_role("link", name="Send a tip online").click()
    tipster.get_by_label("What did you see?").fill(NARRATIVE)
    tipster.get_by_role("button", name="Send tip").click()
    tipster.get_by_role("heading", name=re.compile("Your tip was received")).wait_for()
    receipt_code = tipster.locator(".receipt-code code").inner_text().strip()
    assert CODE.fullmatch(receipt_code)

    # A detective takes it and records the arrest it led to.
    _, detective = staff_desktop(browser, site, "demo-detective")
    detective.goto(f"{site.base_url}/staff/queue")
    detective.get_by_role("button", name="Next tip").click()
    detective.get_by_text("This tip is now yours.").wait_for()
    assert "REWARD-MARKER" in detective.locator(".narrative").inner_text()
    ref = detective.url.rsplit("/", 1)[-1]  # the whole reference, as in the tip page address
    detective.get_by_role("link", name="Outcome and reward eligibility").click()
    detective.get_by_label("What the tip led to").select_option(label="Arrest")
    detective.get_by_label("Case reference").fill("K-12345-26")
    detective.get_by_role("button", name="Record outcome").click()
    detective.get_by_text("Outcome recorded").wait_for()
    assert_accessible(detective, "rewards-detective-outcome-desktop")

    # A coordinator proposes an amount; proposing is not approving.
    _, coordinator = staff_desktop(browser, site, "demo-coordinator")
    coordinator.get_by_role("link", name="Rewards", exact=True).click()
    coordinator.get_by_role("link", name=re.compile(f"Tip {ref[:6]}")).first.click()
    assert "REWARD-MARKER" in coordinator.locator(".narrative").inner_text()
    assert "K-12345-26" in coordinator.content()
    coordinator.get_by_label("Amount", exact=True).fill("500")
    coordinator.get_by_label("Reason for this amount").fill("Arrest on the warrant")
    coordinator.get_by_role("button", name="Propose").click()
    coordinator.get_by_text("A second coordinator must approve or decline it.").wait_for()
    assert coordinator.get_by_role("button", name="Approve").count() == 0
    assert_accessible(coordinator, "rewards-coordinator-proposed-desktop")

    # The second coordinator approves it.
    _, second = staff_desktop(browser, site, "demo-second-coordinator")
    second.goto(f"{site.base_url}/staff/rewards/tips/{ref}")
    second.get_by_role("button", name="Approve").click()
    second.get_by_text("Reward approved.").wait_for()

    # The tipster comes back, JavaScript still off: the reward and a payout code, once.
    tipster.goto(f"{site.base_url}/receipt")
    tipster.get_by_label("Your receipt code").fill(receipt_code)
    tipster.get_by_role("button", name="Open my tip").click()
    tipster.get_by_text("A reward of $500 was approved for your tip.").wait_for()
    shot(tipster, "rewards-tipster-receipt-nojs-phone")
    tipster.get_by_role("button", name="Show my payout code").click()
    tipster.get_by_role("heading", name="Your payout code").wait_for()
    payout_code = tipster.locator(".payout-code code").inner_text().strip()
    assert CODE.fullmatch(payout_code) and payout_code != receipt_code
    shot(tipster, "rewards-tipster-payout-code-nojs-phone")
    tipster.get_by_role("link", name="Back to your tip").click()
    assert payout_code not in tipster.content()
    tipster_context.close()

    # The payout desk checks the code in two tabs, pays in one: the other is refused.
    desk_context, desk = staff_desktop(browser, site, "demo-payout-desk")
    other_tab = desk_context.new_page()
    for page in (desk, other_tab):
        page.goto(f"{site.base_url}/staff/payout")
        page.get_by_label("Payout code").fill(payout_code)
        page.get_by_role("button", name="Check code").click()
        page.get_by_role("heading", name="Valid code").wait_for()
        assert "500 USD" in page.locator(".payout-result").inner_text()
        assert "REWARD-MARKER" not in page.content()
    assert_accessible(desk, "rewards-payout-desk-valid-desktop")
    desk.get_by_role("button", name=re.compile("Record payment")).click()
    desk.get_by_text("Paid 500 USD.").wait_for()
    other_tab.get_by_role("button", name=re.compile("Record payment")).click()
    other_tab.get_by_text("Not paid: this code is not valid.").wait_for()

    # The ledger shows one paid reward of 500 on the demo notice.
    coordinator.get_by_role("link", name="Reward ledger").click()
    paid_column = coordinator.locator("table").first.locator("tbody tr").first.inner_text()
    assert "1 · 500" in paid_column
    assert_accessible(coordinator, "rewards-ledger-desktop")
