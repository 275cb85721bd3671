"""Helpers for tests that act as a tipster: send a tip through the form, open the receipt."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient

from ..conftest import csrf_token, receipt_code_on


def form_token(page: str) -> str:
    return re.search(r'name="form_token" type="hidden" value="([^"]+)"', page).group(1)


def send_tip(
    client: FlaskClient,
    url: str = "/tip",
    photos: list[bytes] = (),
    environ: dict | None = None,
    base_url: str | None = None,
    **fields: str,
):
    """GET the form like a browser, POST it with ``fields`` and ``photos``; (response, code)."""
    where = {"base_url": base_url} if base_url else {}
    page = client.get(url, environ_base=environ or {}, **where).get_data(as_text=True)
    data = {
        "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1),
        "form_token": form_token(page),
        "narrative": "Seen by the levee",
        **fields,
    }
    if photos:
        data["photos"] = [(io.BytesIO(p), f"IMG_{i}.jpg") for i, p in enumerate(photos)]
    response = client.post(url, data=data, environ_base=environ or {}, **where)
    return response, receipt_code_on(response.get_data(as_text=True))


def open_receipt(client: FlaskClient, code: str, environ: dict | None = None):
    token = csrf_token(client, "/receipt")
    return client.post(
        "/receipt", data={"csrf_token": token, "code": code}, environ_base=environ or {}
    )
