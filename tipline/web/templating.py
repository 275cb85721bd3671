"""Values every template may use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext, ngettext

from tipline.auth.forms import ButtonForm
from tipline.db import utcnow
from tipline.web.policy import current_staff


def age(moment: datetime) -> str:
    """A short, plain age such as "4 min ago", "3 h ago" or "2 days ago"."""
    seconds = int((utcnow() - moment).total_seconds())
    if seconds < 60:
        return gettext("just now")
    if seconds < 3600:
        return gettext("%(num)d min ago", num=seconds // 60)
    if seconds < 86400:
        return gettext("%(num)d h ago", num=seconds // 3600)
    days = seconds // 86400
    return ngettext("%(num)d day ago", "%(num)d days ago", days)


def machine_time(moment: datetime) -> str:
    """A ``<time datetime>`` value: UTC to the second (what staff need, and valid HTML; Python's
    isoformat() writes microseconds, which HTML does not allow)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _globals() -> dict[str, Any]:
    return {
        "agency_name": current_app.config["AGENCY_NAME"],
        "emergency_number": current_app.config["EMERGENCY_NUMBER"],
        "current_staff": current_staff,
        "button_form": ButtonForm,
    }


def init_app(app: Flask) -> None:
    app.context_processor(_globals)
    app.add_template_filter(age, "age")
    app.add_template_filter(machine_time, "machine_time")
