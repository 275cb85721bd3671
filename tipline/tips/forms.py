"""The public tip form, the receipt forms and the detective's question form. Every field of
the tip but the narrative is optional: a frightened tipster should be able to send one
sentence and go."""

from __future__ import annotations

import secrets

from flask_babel import format_number, gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, HiddenField, MultipleFileField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from tipline.tips.services import TipReport

# A pattern, not a secret (ruff S105, bandit B105).
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{32}$"  # noqa: S105  # nosec B105
MAX_READ = 64 * 1024 * 1024  # far above any configured photo limit; the service says no


def _max(n: int) -> Length:
    # Lazy, so the message is put into words in the language of the request that shows it.
    message = LazyString(
        lambda: gettext("Please keep this under %(num)s characters.", num=format_number(n))
    )
    return Length(max=n, message=message)


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def uploaded(files: list[FileStorage] | None) -> list[bytes]:
    """The bytes of each file actually chosen (browsers send an empty part for none)."""
    chosen = []
    for item in files or []:
        if not isinstance(item, FileStorage):
            continue
        data = item.read(MAX_READ)
        if item.filename or data:
            chosen.append(data)
    return chosen


class TipFields(FlaskForm):
    """What a tip says, shared by the public form and the call-taker's form."""

    seen_when = StringField(
        _l("When did you see them?"),
        description=_l("For example “today about 3 pm” or “every weekday morning”."),
        validators=[_max(200)],
    )
    seen_where = TextAreaField(
        _l("Where did you see them?"),
        description=_l("An address, a cross street or a neighborhood."),
        validators=[_max(2000)],
    )
    landmark = StringField(
        _l("Nearest business or landmark"),
        description=_l("For example “the gas station on Claiborne” (optional)."),
        validators=[_max(200)],
    )
    activity = TextAreaField(_l("What were they doing?"), validators=[_max(5000)])
    companions = TextAreaField(
        _l("Who were they with?"),
        description=_l("How many people, and anything you noticed about them."),
        validators=[_max(5000)],
    )
    vehicle_make = StringField(_l("Vehicle make and model"), validators=[_max(100)])
    vehicle_colour = StringField(_l("Vehicle color"), validators=[_max(50)])
    vehicle_plate = StringField(
        _l("License plate"),
        description=_l("All or part of it, and the state if you saw it."),
        validators=[_max(20)],
    )
    direction = StringField(
        _l("Which way did they go?"),
        description=_l("For example “north on Broad Street, on foot”."),
        validators=[_max(200)],
    )
    there_now = BooleanField(
        _l("They are there right now"),
        description=_l("Your tip is marked urgent and goes to the top of the detectives' queue."),
    )
    how_known = TextAreaField(
        _l("How do you know this?"),
        description=_l("For example “I saw them myself”, “I live nearby”, “someone told me”."),
        validators=[_max(2000)],
    )
    contact = TextAreaField(
        _l("How can a detective reach you? (only if you want)"),
        description=_l(
            "Leave this empty to stay anonymous. If you fill it in, it is stored "
            "encrypted and only the detectives on this tip can read it."
        ),
        validators=[_max(500)],
    )

    def report(self, narrative: str) -> TipReport:
        return TipReport(
            narrative=narrative,
            seen_when=self.seen_when.data or "",
            seen_where=self.seen_where.data or "",
            there_now=bool(self.there_now.data),
            landmark=self.landmark.data or "",
            activity=self.activity.data or "",
            companions=self.companions.data or "",
            vehicle_make=self.vehicle_make.data or "",
            vehicle_colour=self.vehicle_colour.data or "",
            vehicle_plate=self.vehicle_plate.data or "",
            direction=self.direction.data or "",
            how_known=self.how_known.data or "",
            contact=self.contact.data or "",
        )


class TipForm(TipFields):
    narrative = TextAreaField(
        _l("What did you see?"),
        description=_l("What they looked like, what they were doing, anything that will help."),
        validators=[
            DataRequired(message=_l("Please tell us what you saw, even in a few words.")),
            _max(20000),
        ],
    )
    photos = MultipleFileField(
        _l("Photos (optional)"),
        description=_l("JPEG, PNG or WebP. We remove the location and camera details from them."),
    )
    # The honeypot: hidden from people (CSS and aria-hidden), filled in by form-filling bots.
    website = StringField(_l("Leave this field empty"), validators=[Optional()])
    # One-time token: a second submit of the same page never makes a second tip.
    form_token = HiddenField(
        validators=[
            Optional(),
            Regexp(TOKEN_PATTERN, message=_l("This form has expired. Please reload the page.")),
        ]
    )

    def to_report(self) -> TipReport:
        return self.report(self.narrative.data or "")


class ReceiptCodeForm(FlaskForm):
    code = StringField(
        _l("Your receipt code"),
        description=_l("20 letters and numbers, for example 7K3M-QX9P-2D4F-HJ8R-WN5T."),
        validators=[DataRequired(message=_l("Please type your receipt code.")), _max(100)],
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
        },
    )


class AnswerForm(FlaskForm):
    body = TextAreaField(_l("Your answer or more information"), validators=[_max(10000)])
    photos = MultipleFileField(
        _l("Add photos (optional)"),
        description=_l("JPEG, PNG or WebP. We remove the location and camera details from them."),
    )


class AskForm(FlaskForm):
    body = TextAreaField(
        "Question for the tipster",
        description="They read it on the receipt page with their code, maybe days later.",
        validators=[DataRequired(message="Please write the question."), _max(10000)],
    )
