"""Values every template may use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app

from tipline.auth.forms import ButtonForm
from tipline.auth.policy import current_staff
from tipline.db import utcnow


def age(moment: datetime) -> str:
    """A short, plain age such as "4 min ago", "3 h ago" or "2 days ago"."""
    seconds = int((utcnow() - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return "1 day ago" if days == 1 else f"{days} days ago"


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
