"""How large a request body may be: small everywhere, larger only where photos are sent.

The check has to run before anything reads the form (Flask-WTF's CSRF check does), so
``create_app`` calls ``init_app`` before ``csrf.init_app``. Anything larger gets the plain 413
page from ``responses``.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from tipline.notices.services import NOTICE_WRITERS
from tipline.web.policy import current_staff

#: Forms where the public may attach tip photos (the form and later answers on /receipt).
TIP_PHOTO_ENDPOINTS = frozenset({"public.tip", "public.notice_tip", "receipt.answer"})
#: Room for the text fields and multipart framing next to the photos.
FORM_ALLOWANCE = 1024 * 1024


def tip_upload_limit(config: dict) -> int:
    return config["MAX_TIP_PHOTOS"] * config["PHOTO_MAX_BYTES"] + FORM_ALLOWANCE


def _raise_limit_for_photo_forms() -> None:
    config = current_app.config
    if request.endpoint in TIP_PHOTO_ENDPOINTS:
        request.max_content_length = tip_upload_limit(config)
    elif request.endpoint == "pio.add_photo":
        # Checked here as well as by the role table, which runs later: only a signed-in
        # notice writer gets the larger limit.
        user = current_staff()
        if user is not None and user.role in NOTICE_WRITERS:
            request.max_content_length = config["NOTICE_PHOTO_MAX_BYTES"] + FORM_ALLOWANCE


def init_app(app: Flask) -> None:
    app.before_request(_raise_limit_for_photo_forms)
