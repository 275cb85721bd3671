"""Values every template may use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import gettext, ngettext

from tipline.auth.forms import ButtonForm
from tipline.db import utcnow
from tipline.tips.models import SHORT_REF_LENGTH
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


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("AGENCY_TIME_ZONE") or "UTC")


def local_time(moment: datetime | None) -> str:
    """A staff-facing time in the agency's time zone, such as "2026-12-02 08:15 CST"."""
    if moment is None:
        return "—"
    return moment.astimezone(_zone()).strftime("%Y-%m-%d %H:%M %Z")


def due_in(moment: datetime) -> str:
    """How long until ``moment``: "due in 12 min", "due in 3 h", "overdue by 2 days"."""
    seconds = int((moment - utcnow()).total_seconds())
    span = abs(seconds)
    if span < 3600:
        amount = f"{max(1, span // 60)} min"
    elif span < 2 * 86400:
        amount = f"{span // 3600} h"
    else:
        amount = f"{span // 86400} days"
    return f"due in {amount}" if seconds >= 0 else f"overdue by {amount}"


def short_ref(reference: str) -> str:
    """A tip reference as people read it, for a page that has only the reference (the audit
    log names objects by id): the same length as ``Tip.short_ref`` everywhere."""
    return reference[:SHORT_REF_LENGTH]


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
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(due_in, "due_in")
    app.add_template_filter(short_ref, "short_ref")
    ZoneInfo(app.config.get("AGENCY_TIME_ZONE") or "UTC")  # a wrong name fails at start-up
