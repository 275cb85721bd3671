"""The one declaration of what a tip says. The staff page, the call-taker's form, the case
file (PDF and JSON) and retention read this list, so a field added here reaches all of them;
a test walks it against the public form, the model, the staff page and both exports.

Each field: its name (the column, and the form field), the label staff read, whether
retention empties it, whether the case file carries it, and whether search reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TipField:
    name: str
    label: str
    #: Retention empties it when the tip's time is up (a tombstone keeps only dates and outcome).
    emptied: bool = True
    exported: bool = True
    searchable: bool = False
    #: Several lines of text (shown with its line breaks kept).
    multiline: bool = False
    #: True/false rather than text.
    flag: bool = False
    #: Stored sealed (AES-GCM) in ``column``; read with tips.services.contact_details.
    sealed: bool = False
    #: The model column when it is not ``name``.
    column: str = ""

    @property
    def stored_in(self) -> str:
        return self.column or self.name

    @property
    def empty(self) -> Any:
        return None if self.sealed else ("" if not self.flag else False)


TIP_FIELDS: tuple[TipField, ...] = (
    TipField("narrative", "What the tipster saw", searchable=True, multiline=True),
    TipField("there_now", "There right now", emptied=False, flag=True),
    TipField("seen_when", "Seen when"),
    TipField("seen_where", "Seen where", searchable=True, multiline=True),
    TipField("landmark", "Nearest business or landmark"),
    TipField("activity", "What they were doing", multiline=True),
    TipField("companions", "Who they were with", multiline=True),
    TipField("direction", "Which way they went"),
    TipField("vehicle_make", "Vehicle make and model"),
    TipField("vehicle_colour", "Vehicle color"),
    TipField("vehicle_plate", "License plate"),
    TipField("how_known", "How the tipster knows", multiline=True),
    TipField("contact", "Contact details", sealed=True, column="contact_sealed", multiline=True),
)

#: The fields shown under the narrative on the staff page (the narrative has its own place).
DETAIL_FIELDS = tuple(f for f in TIP_FIELDS if f.name != "narrative")


def emptied_columns() -> dict[str, Any]:
    """Columns retention empties, and the empty value of each."""
    return {f.stored_in: f.empty for f in TIP_FIELDS if f.emptied}


def values(tip: Any, contact: str | None) -> dict[str, Any]:
    """Every declared field's value on ``tip`` (the contact already unsealed by the caller)."""
    return {f.name: (contact if f.sealed else getattr(tip, f.stored_in)) for f in TIP_FIELDS}
