"""The public tip form. Every field but the narrative is optional: a frightened tipster
should be able to send one sentence and go."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from tipline.tips.services import TipReport


class TipForm(FlaskForm):
    seen_when = StringField(
        "When did you see them?",
        description="For example “today about 3 pm” or “every weekday morning”.",
        validators=[Length(max=200, message="Please keep this under 200 characters.")],
    )
    seen_where = TextAreaField(
        "Where did you see them?",
        description="An address, a cross street, a business or a landmark.",
        validators=[Length(max=2000, message="Please keep this under 2,000 characters.")],
    )
    narrative = TextAreaField(
        "What did you see?",
        description="What they were doing, who they were with, a vehicle, which way they went.",
        validators=[
            DataRequired(message="Please tell us what you saw, even in a few words."),
            Length(max=20000, message="Please keep this under 20,000 characters."),
        ],
    )
    there_now = BooleanField("They are there right now")

    def to_report(self) -> TipReport:
        return TipReport(
            narrative=self.narrative.data or "",
            seen_when=self.seen_when.data or "",
            seen_where=self.seen_where.data or "",
            there_now=bool(self.there_now.data),
        )
