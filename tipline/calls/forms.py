"""The call-taker's form: a disposition for every call, the tip when there is one."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError

from tipline.calls.models import Disposition
from tipline.calls.services import TYPED_BUT_NOT_KEPT
from tipline.tips.forms import TOKEN_PATTERN, TipFields


class CallForm(TipFields):
    disposition = SelectField(
        "How did the call end?",
        choices=[SelectChoice(d.value, d.label) for d in Disposition],
        default=Disposition.TIP_TAKEN.value,
    )
    notice = SelectField(
        "Which notice is it about?", choices=[SelectChoice("", "None / not sure")], default=""
    )
    narrative = TextAreaField(
        "What the caller saw",
        description="Needed when the disposition is “Tip taken”.",
        validators=[Length(max=20000, message="Please keep this under 20,000 characters.")],
    )
    caller_dialog = BooleanField(
        "The caller wants to read questions and answer online with their receipt code",
        description="Leave unticked and questions are asked by phone: whoever hears a "
        "receipt code read back could otherwise read the questions and answer as the caller.",
    )
    note = TextAreaField(
        "Call note",
        description="For the call log, for example why the call was referred. Not sent to "
        "detectives as part of the tip.",
        validators=[Length(max=2000, message="Please keep this under 2,000 characters.")],
    )
    form_token = HiddenField(
        validators=[
            Optional(),
            Regexp(TOKEN_PATTERN, message="This form has expired. Please reload the page."),
        ]
    )

    def validate_narrative(self, field: TextAreaField) -> None:
        if self.disposition.data == Disposition.TIP_TAKEN.value and not (field.data or "").strip():
            raise ValidationError(
                "Write what the caller saw, or choose how the call ended instead."
            )

    def validate_disposition(self, field: SelectField) -> None:
        keeps = {Disposition.TIP_TAKEN.value, Disposition.HUNG_UP.value}
        if field.data not in keeps and self.report(self.narrative.data or "").has_words():
            raise ValidationError(TYPED_BUT_NOT_KEPT)

    @property
    def chosen(self) -> Disposition:
        return Disposition(self.disposition.data)
