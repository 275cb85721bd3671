"""The audit log. ``from tipline import audit; audit.record(...)``."""

from tipline.audit.services import PUBLIC, SYSTEM, Actor, NotAllowed, events_for, record

__all__ = ["PUBLIC", "SYSTEM", "Actor", "NotAllowed", "events_for", "record"]
