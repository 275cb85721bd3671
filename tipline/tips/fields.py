"""The one declaration of what a tip says. The public tip form and the call-taker's form
(tips/forms.py builds their fields from it), the report and the stored tip (tips/services.py),
the digest the audit log commits to (tips/integrity.py), the staff page, the case file (PDF
and JSON) and retention read this list, so a field added here reaches all of them; a test
walks it against the model's columns and their lengths, the database role's frozen columns,
the staff page and both exports.

Each field: its name (the column, and the form field), the label staff read, the question
the public form asks (translated) with its hint, length limit and fieldset, whether
retention empties it, whether the case file carries it, and whether search reads it.

What stays written out elsewhere, on purpose: the model's columns (an Alembic revision is
frozen, and the ORM class is what it was written against), the search index's columns
(triage/fulltext.py, also fixed by a revision) and the database role's frozen columns
(audit/roles.py, a layer below this one); the test checks each against this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class FormGroup:
    """A fieldset of the public tip form."""

    key: str
    legend: LazyString


#: The public form's fieldsets, in page order (the narrative comes first, on its own).
FORM_GROUPS: tuple[FormGroup, ...] = (
    FormGroup("when_where", _l("When and where")),
    FormGroup("doing", _l("What they were doing")),
    FormGroup("vehicle", _l("Vehicle, if any")),
    FormGroup("about_you", _l("About you (all optional)")),
)


@dataclass(frozen=True)
class TipField:
    name: str
    #: What staff read (staff pages, case file); English, like every staff page.
    label: str
    #: The public form's question and hint, in the tipster's language.
    question: LazyString
    hint: LazyString | None = None
    #: The most characters the forms take (the column's length where it has one).
    max_length: int | None = None
    #: The public form's fieldset (``FORM_GROUPS``); "" for the narrative, which leads.
    group: str = ""
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
    #: Stored in capitals, and shown to staff as typed code (a plate is read character by
    #: character and compared with others).
    verbatim: bool = False

    @property
    def stored_in(self) -> str:
        return self.column or self.name

    @property
    def empty(self) -> Any:
        return None if self.sealed else ("" if not self.flag else False)


TIP_FIELDS: tuple[TipField, ...] = (
    TipField(
        "narrative",
        "What the tipster saw",
        _l("What did you see?"),
        _l("What they looked like, what they were doing, anything that will help."),
        max_length=20000,
        searchable=True,
        multiline=True,
    ),
    TipField(
        "seen_when",
        "Seen when",
        _l("When did you see them?"),
        _l("For example “today about 3 pm” or “every weekday morning”."),
        max_length=200,
        group="when_where",
    ),
    TipField(
        "seen_where",
        "Seen where",
        _l("Where did you see them?"),
        _l("An address, a cross street or a neighborhood."),
        max_length=2000,
        group="when_where",
        searchable=True,
        multiline=True,
    ),
    TipField(
        "landmark",
        "Nearest business or landmark",
        _l("Nearest business or landmark"),
        _l("For example “the gas station on Claiborne” (optional)."),
        max_length=200,
        group="when_where",
    ),
    TipField(
        "there_now",
        "There right now",
        _l("They are there right now"),
        _l("Your tip is marked urgent and goes to the top of the detectives' queue."),
        group="when_where",
        emptied=False,
        flag=True,
    ),
    TipField(
        "activity",
        "What they were doing",
        _l("What were they doing?"),
        max_length=5000,
        group="doing",
        multiline=True,
    ),
    TipField(
        "companions",
        "Who they were with",
        _l("Who were they with?"),
        _l("How many people, and anything you noticed about them."),
        max_length=5000,
        group="doing",
        multiline=True,
    ),
    TipField(
        "direction",
        "Which way they went",
        _l("Which way did they go?"),
        _l("For example “north on Broad Street, on foot”."),
        max_length=200,
        group="doing",
    ),
    TipField(
        "vehicle_make",
        "Vehicle make and model",
        _l("Vehicle make and model"),
        max_length=100,
        group="vehicle",
    ),
    TipField(
        "vehicle_colour", "Vehicle color", _l("Vehicle color"), max_length=50, group="vehicle"
    ),
    TipField(
        "vehicle_plate",
        "License plate",
        _l("License plate"),
        _l("All or part of it, and the state if you saw it."),
        max_length=20,
        group="vehicle",
        verbatim=True,
    ),
    TipField(
        "how_known",
        "How the tipster knows",
        _l("How do you know this?"),
        _l("For example “I saw them myself”, “I live nearby”, “someone told me”."),
        max_length=2000,
        group="about_you",
        multiline=True,
    ),
    TipField(
        "contact",
        "Contact details",
        _l("How can a detective reach you? (only if you want)"),
        _l(
            "Leave this empty to stay anonymous. If you fill it in, it is stored "
            "encrypted and only the detectives on this tip can read it."
        ),
        max_length=500,
        group="about_you",
        sealed=True,
        column="contact_sealed",
        multiline=True,
    ),
)

NARRATIVE = TIP_FIELDS[0]
#: The fields shown under the narrative on the staff page (the narrative has its own place).
DETAIL_FIELDS = tuple(f for f in TIP_FIELDS if f.name != "narrative")


def emptied_columns() -> dict[str, Any]:
    """Columns retention empties, and the empty value of each."""
    return {f.stored_in: f.empty for f in TIP_FIELDS if f.emptied}


def in_group(key: str) -> tuple[TipField, ...]:
    """The fields of one of the public form's fieldsets, in page order."""
    return tuple(f for f in TIP_FIELDS if f.group == key)


def values(tip: Any, contact: str | None) -> dict[str, Any]:
    """Every declared field's value on ``tip`` (the contact already unsealed by the caller)."""
    return {f.name: (contact if f.sealed else getattr(tip, f.stored_in)) for f in TIP_FIELDS}
