"""Browser tests: Playwright driving Debian's Chromium against a real `tipline demo` process.

Screenshots go to ``test-artifacts/screenshots/`` (kept by CI as artefacts of the run).
Without /usr/bin/chromium these tests are skipped with a reason, except under CI, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from ..test_cli import _demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}

pytestmark = pytest.mark.slow


@dataclass
class DemoSite:
    base_url: str
    passwords: dict[str, str]
    log: Path


@contextlib.contextmanager
def running_demo(folder: Path) -> Iterator[DemoSite]:
    """A real `tipline demo` process on the instance folder ``folder``, with the demo accounts'
    passwords as it printed them. Without the sample tips: the browser tests follow their own
    tips through the queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env["TIPLINE_INSTANCE_PATH"] = str(folder)
    log = folder / "demo.log"
    with _demo(env, log, "--no-sample-tips") as base:
        printed = log.read_text()
        passwords = dict(re.findall(r"(demo-[a-z-]+)\s+(\S+-\S+-\S+-\S+)", printed))
        yield DemoSite(base, passwords, log)


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory) -> Iterator[DemoSite]:
    """One real `tipline demo` process for the browser tests, on its own instance folder."""
    with running_demo(tmp_path_factory.mktemp("e2e")) as site:
        yield site


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser tests: {CHROMIUM} is missing")
        pytest.skip(
            f"browser tests skipped: {CHROMIUM} is not installed (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page(browser, **options):
    context = browser.new_context(**options)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser):
    """A phone-sized page (360×740, touch)."""
    yield from _page(browser, viewport=PHONE, has_touch=True, is_mobile=True)


@pytest.fixture
def desktop(browser):
    yield from _page(browser, viewport=DESKTOP)


@pytest.fixture
def phone_no_js(browser):
    """A phone-sized page with JavaScript switched off."""
    yield from _page(browser, viewport=PHONE, has_touch=True, java_script_enabled=False)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_accessible(page, name: str) -> None:
    """axe-core (WCAG 2.0/2.1/2.2 A and AA rules) finds nothing on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {
                "type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
            }
        },
    )
    violations = results.response["violations"]
    summary = [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in violations
    ]
    assert not violations, f"axe on {name}: " + "; ".join(summary)
    # axe 4 no longer checks plain duplicate ids, but a label's `for` finds only the first one.
    duplicates = page.evaluate(
        """() => { const seen = new Set(), twice = new Set();
        for (const e of document.querySelectorAll('[id]:not([type=hidden])'))
          (seen.has(e.id) ? twice : seen).add(e.id);
        return [...twice]; }"""
    )
    assert not duplicates, f"{name}: ids used more than once: {duplicates}"
    shot(page, name)


def sign_in_first_time(page, site: DemoSite, username: str, audience: str | None = None) -> None:
    """Sign ``username`` in for the first time: password, then an authenticator enrolled from
    the written-out key, then the recovery codes (at least eight), then on to the staff pages.
    With ``audience``, axe checks the sign-in, enrolment and recovery-code pages (screenshots
    ``<audience>-login-desktop`` and so on)."""
    page.goto(f"{site.base_url}/staff/login")
    if audience:
        assert_accessible(page, f"{audience}-login-desktop")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(site.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    if audience:
        assert_accessible(page, f"{audience}-enrol-desktop")
    key = page.locator(".totp-key code").inner_text().replace(" ", "")
    page.locator("#code").fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Save these recovery codes now").wait_for()
    assert page.locator(".recovery-codes li").count() >= 8
    if audience:
        assert_accessible(page, f"{audience}-recovery-codes-desktop")
    page.get_by_role("link", name=re.compile("I have saved them")).click()
    page.wait_for_load_state()


def new_page(browser, **options):
    """A page in a new browser context made with ``options``, waiting at most 15 s for
    anything; returns the context (the caller closes it) and the page."""
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def staff_desktop(browser, site: DemoSite, username: str):
    """A new desktop context and page (see :func:`new_page`), signed in as ``username`` for the
    first time (:func:`sign_in_first_time`)."""
    context, page = new_page(browser, viewport=DESKTOP)
    sign_in_first_time(page, site, username)
    return context, page


def fill_new_notice(page, subject: str, area: str, age: str, charge: str, caution: str) -> None:
    """Type a notice's essentials into the new-notice form: the name, area and age, one charge
    under La. R.S. 14:67, every agency line and the caution. The caller adds the rest and
    saves."""
    page.get_by_label("Name of the person wanted").fill(subject)
    page.get_by_label("Last known area", exact=True).fill(area)
    page.get_by_label("Age", exact=True).fill(age)
    page.locator("#charges-0-citation").fill("La. R.S. 14:67")
    page.locator("#charges-0-description").fill(charge)
    for box in page.locator("input[name=default_lines]").all():
        box.check()
    page.get_by_label("Caution", exact=True).fill(caution)


#: The curated set in docs/screenshots/, shown in docs/testing.md.
DOCS_SCREENSHOTS = [
    "public-gallery-phone",
    "public-notice-phone",
    "public-tip-form-error-phone",
    "public-receipt-phone",
    "public-receipt-question-phone",
    "public-notice-print-desktop",
    "public-notice-desktop",
    "pio-draft-notice-desktop",
    "supervisor-notice-in-review-desktop",
    "detective-tip-closed-desktop",
    "supervisor-queue-all-desktop",
]


def copy_screenshots_to_docs() -> None:
    """Used by hand to refresh docs/screenshots/ from the last run (256 colours, to stay small):
    ``.venv/bin/python -c 'from tests.e2e.conftest import copy_screenshots_to_docs as c; c()'``."""
    from PIL import Image

    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    for name in DOCS_SCREENSHOTS:
        image = Image.open(ARTIFACTS / f"{name}.png").convert("RGB")
        image = image.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        image.save(docs / f"{name}.png", optimize=True)
