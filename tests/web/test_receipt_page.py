"""The receipt page can be kept: the same browser sees the same code again within the replay
window (after a language switch or a link away), the code is the page's largest text, and the
page says how long it works, when to come back and that it is the reward reference."""

import re
from pathlib import Path

from ..conftest import receipt_code_on
from .tipster import send_tip

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "site.css"


def test_the_same_browser_sees_the_same_code_again_and_in_another_language(app, client):
    response, code = send_tip(client)
    page = response.get_data(as_text=True)
    assert code
    # The language links lead to the page that shows the code again, not to a blank form.
    assert 'href="/tip/received?lang=es"' in page
    again = client.get("/tip/received?lang=es")
    spanish = again.get_data(as_text=True)
    assert again.status_code == 200 and receipt_code_on(spanish) == code
    assert '<html lang="es">' in spanish and again.headers["Cache-Control"] == "no-store"
    assert receipt_code_on(client.get("/tip/received").get_data(as_text=True)) == code
    # Another browser gets nothing.
    other = app.test_client()
    assert other.get("/tip/received").status_code == 303


def test_after_the_replay_window_the_page_no_longer_shows_the_code(app, client):
    assert send_tip(client)[1]
    app.config["TIP_REPLAY_MINUTES"] = 0
    page = client.get("/tip/received").get_data(as_text=True)
    assert receipt_code_on(page) is None and "we cannot show it again" in page


def test_the_page_says_how_long_when_and_that_it_is_the_reward_reference(client):
    page = send_tip(client)[0].get_data(as_text=True)
    assert "reference for any reward" in page
    assert "at least 365 days after the tip is closed" in page
    assert "Check back in a day or two" in page
    assert "for the next 30 minutes" in page


def test_the_code_is_never_drawn_smaller_than_body_text():
    rules = re.findall(r"\.receipt-code code \{[^}]*font-size: clamp\(([\d.]+)rem", CSS.read_text())
    assert rules and float(rules[-1]) > 1.0625  # the body text; the last rule wins
