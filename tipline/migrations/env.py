"""Alembic environment. Run through `tipline db upgrade`, which hands us a connection."""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from tipline import outbox as _outbox  # noqa: F401
from tipline import schedule as _schedule  # noqa: F401

# Import every model module so autogenerate sees the whole schema.
from tipline.audit import models as _audit  # noqa: F401
from tipline.auth import models as _auth  # noqa: F401
from tipline.calls import models as _calls  # noqa: F401
from tipline.db import Base, UTCDateTime
from tipline.migrations import include_object
from tipline.notices import models as _notices  # noqa: F401
from tipline.rewards import models as _rewards  # noqa: F401
from tipline.tips import models as _tips  # noqa: F401
from tipline.triage import models as _triage  # noqa: F401


def render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our UTCDateTime as a plain timezone-aware DateTime in revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
