"""The audit log. ``from tipline import audit; audit.record(...)``."""

from tipline.audit.services import PUBLIC, SYSTEM, NotAllowed, events_for, record

__all__ = ["PUBLIC", "SYSTEM", "NotAllowed", "events_for", "record"]
