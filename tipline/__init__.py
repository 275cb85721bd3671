"""Tipline: wanted-person notices, anonymous tips and a triage queue that drops nothing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

PACKAGE = Path(__file__).resolve().parent
#: The checkout (or, installed, site-packages): the default parent of the instance folder.
ROOT = PACKAGE.parent


def shipped(folder: str) -> Path:
    """``templates`` or ``static``: inside the package when installed from a wheel (setup.py
    maps them there), at the top of the checkout in a development (editable) install."""
    inside = PACKAGE / folder
    return inside if inside.is_dir() else ROOT / folder


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: defaults, instance/config.py, TIPLINE_* variables, then ``config``."""
    from tipline import cli, db, hooks, i18n, jobs
    from tipline.config import load_config
    from tipline.web import (
        account,
        admin,
        api,
        caching,
        calltaker,
        csrf,
        deadline,
        dialog,
        drafts,
        feeds,
        follows,
        health,
        limits,
        mail,
        outage,
        oversight,
        pio,
        policy,
        public,
        receipt,
        request_guard,
        responses,
        staff,
        templating,
        transparency,
        triage,
        uploads,
    )
    from tipline.web import rewards as rewards_views

    instance_path = (
        (config or {}).get("INSTANCE_PATH")
        or os.environ.get("TIPLINE_INSTANCE_PATH")
        or str(ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(shipped("templates")),
        static_folder=str(shipped("static")),
    )
    load_config(app, config)
    deadline.init_app(app)  # first: bounds every database wait of a request (see there)
    db.init_app(app)
    uploads.init_app(app)  # larger bodies only for photo forms, before CSRF reads forms
    app.before_request(responses.refuse_unnamed_form_fields)  # before the CSRF check
    request_guard.init_app(app)  # after uploads (body limits); before the blueprints
    jobs.init_app(app)
    hooks.install(app, jobs.jobs_for(app).follower_mail)  # every SQLAlchemy hook
    csrf.init_app(app)  # the token, then the request's origin
    policy.init_app(app)
    responses.init_app(app)
    drafts.init_app(app)  # after the policy and responses (see its init_app)
    outage.init_app(app)  # database outages: the pages of web/outage.py
    templating.init_app(app)
    i18n.init_app(app)
    caching.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(receipt.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(oversight.bp)
    app.register_blueprint(pio.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(dialog.bp)
    app.register_blueprint(calltaker.bp)
    app.register_blueprint(triage.bp)
    app.register_blueprint(follows.bp)
    app.register_blueprint(rewards_views.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(transparency.bp)
    app.register_blueprint(mail.bp)
    limits.init_app(app)  # wraps views, so after the blueprints
    if app.config["PROXY_FIX_X_FOR"]:
        # Behind nginx every request comes from 127.0.0.1; the proxy's X-Forwarded-For is the
        # visitor's address, which only the rate limiter reads (as a keyed daily hash).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"])  # type: ignore[method-assign]
    request_guard.wrap(app)  # outermost: a bad Host never reaches Flask's URL adapter
    cli.init_app(app)
    return app
