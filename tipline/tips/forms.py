"""The public tip form, the receipt forms and the detective's question form. Every field of
the tip but the narrative is optional: a frightened tipster should be able to send one
sentence and go."""

from __future__ import annotations

import secrets
from typing import Any

from flask_babel import format_number, gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    MultipleFileField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp

from tipline.tips.fields import DETAIL_FIELDS, FORM_GROUPS, NARRATIVE, TipField, in_group
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


def form_field(field: TipField, *validators: Any) -> Any:
    """The form field for a declared tip field: its question, hint and length limit; a
    checkbox for a flag, a text box for several lines, else a line."""
    if field.flag:
        return BooleanField(field.question, description=field.hint or "")
    kind = TextAreaField if field.multiline else StringField
    limit = [_max(field.max_length)] if field.max_length else []
    return kind(field.question, description=field.hint or "", validators=[*validators, *limit])


class TipFields(FlaskForm):
    """What a tip says, shared by the public form and the call-taker's form: a field for each
    declared tip field but the narrative (tips/fields.py), added below in declared order. Each
    form adds its own narrative, since what it must say differs."""

    def report(self, narrative: str) -> TipReport:
        given: dict[str, Any] = {}
        for f in DETAIL_FIELDS:
            data = self[f.name].data
            given[f.name] = bool(data) if f.flag else (data or "")
        return TipReport(narrative, **given)

    def groups(self) -> list[tuple[LazyString, list[Field]]]:
        """The public form's fieldsets: each legend with its bound fields, in page order."""
        return [(g.legend, [self[f.name] for f in in_group(g.key)]) for g in FORM_GROUPS]


for _declared in DETAIL_FIELDS:
    setattr(TipFields, _declared.name, form_field(_declared))


class TipForm(TipFields):
    narrative = form_field(
        NARRATIVE,
        DataRequired(message=_l("Please tell us what you saw, even in a few words.")),
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
    # An answer typed before the receipt session ended, carried until the code is entered.
    answer = TextAreaField(_l("Your answer, not sent yet"), validators=[_max(10000)])


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
