"""Forms for outcomes, reward decisions, the payout desk and ledger corrections (staff pages,
English only)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from tipline.rewards.models import OutcomeKind


class OutcomeForm(FlaskForm):
    kind = SelectField(
        "What the tip led to", choices=[SelectChoice(k.value, k.label) for k in OutcomeKind]
    )
    case_reference = StringField(
        "Case reference",
        description="The item or case number of the arrest, charge, recovery or location.",
        validators=[DataRequired(message="Give the case reference."), Length(max=64)],
    )


class EligibilityRequestForm(FlaskForm):
    tip_reference = StringField(
        "Tip reference",
        description="As staff pages show it, for example 7K3MQX9P.",
        validators=[DataRequired(message="Give the tip reference."), Length(max=32)],
        render_kw={"autocapitalize": "characters", "spellcheck": "false"},
    )
    reason = TextAreaField(
        "Why you are asking",
        validators=[DataRequired(message="Say why you are asking."), Length(max=2000)],
    )


class ProposalForm(FlaskForm):
    amount = IntegerField(
        "Amount",
        validators=[
            InputRequired(message="Give the amount as a whole number."),
            NumberRange(min=0, message="Give the amount as a whole number."),
        ],
    )
    reason = TextAreaField(
        "Reason for this amount",
        validators=[DataRequired(message="Give the reason for this amount."), Length(max=2000)],
    )


class DecisionForm(FlaskForm):
    note = TextAreaField("Note (required to decline)", validators=[Optional(), Length(max=2000)])


class PayoutCodeForm(FlaskForm):
    code = StringField(
        "Payout code",
        description="20 letters and numbers, in five groups of four.",
        validators=[DataRequired(message="Enter the payout code."), Length(max=64)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )


class CorrectionForm(FlaskForm):
    reward_id = IntegerField(
        "Reward number",
        description="From the list of paid rewards above.",
        validators=[InputRequired(message="Give the reward number.")],
    )
    amount_delta = IntegerField(
        "Difference",
        description="What to add to the paid amount (negative to subtract).",
        validators=[InputRequired(message="Give the difference as a whole number.")],
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(message="Give the reason for the correction."), Length(max=2000)],
    )
