"""Forms for the queue and for working a tip."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from tipline.tips.models import TipPriority, TipStatus
from tipline.triage.models import LinkKind
from tipline.triage.queue import Sort, View


class QueueForm(FlaskForm):
    """The queue's view, sort, filters and search, read from the query string (a GET form)."""

    class Meta:
        csrf = False

    view = SelectField(
        "View", choices=[SelectChoice(v.value, v.label) for v in View], default="new"
    )
    sort = SelectField(
        "Sort by",
        choices=[
            SelectChoice(Sort.PRIORITY.value, "Priority, then due time"),
            SelectChoice(Sort.DUE.value, "Due time"),
        ],
        default="priority",
    )
    q = StringField("Search text", validators=[Optional(), Length(max=200)])
    notice = SelectField("Notice", choices=[], validate_choice=False, default="")
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(s.value, s.label) for s in TipStatus],
        default="",
    )
    received_from = DateField("Received from", validators=[Optional()])
    received_to = DateField("Received to", validators=[Optional()])
    urgent = BooleanField("Urgent only")
    after = HiddenField()

    # Out-of-range values once reached the database (an overflowing id, a date past year
    # 9999 once a day is added) and answered 500; now the form says what to fix.
    def validate_notice(self, field: SelectField) -> None:
        value = field.data or ""
        if value and (not value.isdigit() or int(value) > 2**31 - 1):
            raise ValidationError("Choose a notice from the list.")

    def validate_received_from(self, field: DateField) -> None:
        _sensible_date(field)

    def validate_received_to(self, field: DateField) -> None:
        _sensible_date(field)

    def validate_after(self, field: HiddenField) -> None:
        if len(field.data or "") > 200:
            raise ValidationError("The page link is damaged; start from the first page.")


def _sensible_date(field: DateField) -> None:
    if field.data is not None and not 1900 <= field.data.year <= 2999:
        raise ValidationError("Choose a date between 1900 and 2999.")


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(message="Say why."), Length(max=2000)],
    )


class StatusForm(FlaskForm):
    status = SelectField("New status", choices=[SelectChoice(s.value, s.label) for s in TipStatus])
    reason = TextAreaField(
        "Reason",
        description="Required for “No action”, “Duplicate” and “Forwarded” (say to whom).",
        validators=[Length(max=2000)],
    )
    duplicate_of = StringField(
        "Duplicate of (tip reference)", validators=[Optional(), Length(max=32)]
    )


class PriorityForm(FlaskForm):
    priority = SelectField(
        "Priority", choices=[SelectChoice(p.value, p.label) for p in TipPriority]
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Internal note",
        description="For staff only. The tipster never sees notes.",
        validators=[DataRequired(message="Write something in the note."), Length(max=20000)],
    )


class TagForm(FlaskForm):
    tag = StringField("Tag", validators=[DataRequired(message="Enter a tag."), Length(max=40)])


class LinkForm(FlaskForm):
    other = StringField(
        "Other tip (reference)",
        validators=[DataRequired(message="Enter the other tip's reference."), Length(max=32)],
    )
    kind = SelectField(
        "Link",
        choices=[SelectChoice(LinkKind.RELATED.value, "Related")],
        default=LinkKind.RELATED.value,
    )


class ReassignForm(FlaskForm):
    to = SelectField("Give to", choices=[], validate_choice=False)
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Say why."), Length(max=2000)]
    )


class FollowConfirmForm(FlaskForm):
    """The button on the page a confirmation link opens; the token rides along hidden."""

    token = HiddenField(validators=[DataRequired(), Length(max=100)])


class FollowForm(FlaskForm):
    email = StringField(
        "E-mail address for alerts",
        description="You get a link when a tip arrives, never the tip itself.",
        validators=[DataRequired(message="Enter an e-mail address."), Length(max=254)],
        render_kw={"autocomplete": "email", "type": "email"},
    )
