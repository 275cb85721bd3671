"""A tip reference typed by a person: any unique prefix of at least six characters finds the
tip, forgiving case, spaces and dashes; an ambiguous one is refused with a plain sentence."""

import pytest
from sqlalchemy import update

from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import MIN_REF_PREFIX, SHORT_REF_LENGTH, Tip, TipStatus
from tipline.triage import services as triage

KEY = receipts.receipt_key("k" * 40)


def _tip(session, ref):
    tip, _ = tips.submit_tip(session, tips.TipReport("Seen"), KEY)
    session.execute(update(Tip).where(Tip.id == tip.id).values(public_ref=ref))
    session.commit()
    session.refresh(tip)
    return tip


def test_a_unique_prefix_finds_the_tip_and_an_ambiguous_one_is_refused(session, detective):
    one = _tip(session, "ABCDEF0123456789")
    two = _tip(session, "ABCDEFZZZZZZZZZZ")
    last = _tip(session, "ZZZZZZZZZZZZZZZZ")
    assert MIN_REF_PREFIX == 6 and SHORT_REF_LENGTH >= MIN_REF_PREFIX
    assert triage.find_tip(session, detective, "ABCDEF01").id == one.id
    assert triage.find_tip(session, detective, "abcdef-0123").id == one.id
    assert triage.find_tip(session, detective, "ABCDEFZ").id == two.id
    assert triage.find_tip(session, detective, one.public_ref).id == one.id
    assert triage.find_tip(session, detective, "ZZZZZZ").id == last.id  # no upper bound
    with pytest.raises(triage.AmbiguousReference, match="More than one tip starts with"):
        triage.find_tip(session, detective, "ABCDEF")
    assert triage.find_tip(session, detective, "ABCDE") is None  # too short to guess
    assert triage.find_tip(session, detective, "QQQQQQ") is None


def test_duplicate_of_accepts_the_short_reference_shown_in_the_queue(session, detective):
    original = _tip(session, "MMMMMM0000000000")
    copy = _tip(session, "NNNNNN0000000000")
    triage.claim_tip(session, detective, copy)
    found = triage.find_tip(session, detective, original.short_ref)
    triage.change_status(session, detective, copy, TipStatus.DUPLICATE, "same", duplicate_of=found)
    session.commit()
    assert copy.duplicate_of_id == original.id
    assert len(original.short_ref) == SHORT_REF_LENGTH
