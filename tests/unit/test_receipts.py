import math

import pytest

from tipline.notices.models import PhoneInvalid, format_phone, tel_uri
from tipline.tips import receipts

KEY = b"k" * 32


def test_receipt_code_has_at_least_80_random_bits_in_readable_groups():
    code = receipts.new_receipt_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4, 4]
    assert all(c in receipts.ALPHABET for c in "".join(groups))
    assert receipts.CODE_CHARS * math.log2(len(receipts.ALPHABET)) >= 80
    # Letters that are misread aloud never appear.
    assert not set("ILOU") & set(code)


def test_receipt_codes_do_not_repeat():
    codes = {receipts.new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000


def test_typed_code_is_normalised_for_case_spaces_and_lookalikes():
    code = "7K3M-QX9P-2D4F-HJ8R-WN5T"
    assert receipts.normalise_code(" 7k3m qx9p 2d4f hj8r wn5t ") == code.replace("-", "")
    assert receipts.hash_code(KEY, "7K3M-QX9P-2D4F-HJ8R-WN5T") == receipts.hash_code(
        KEY, "7k3mqx9p2d4fhj8rwn5t"
    )
    # O is read as zero and I/L as one, the way people read them aloud.
    assert receipts.normalise_code("O000-0000-0000-0000-000I") == "0" * 19 + "1"


@pytest.mark.parametrize("typed", ["", "short", "7K3M-QX9P-2D4F-HJ8R-WN5", "U" * 20, "7K3M!" * 4])
def test_anything_that_is_not_a_code_is_refused(typed):
    assert receipts.normalise_code(typed) is None
    with pytest.raises(ValueError):
        receipts.hash_code(KEY, typed)


def test_code_hash_depends_on_the_key():
    code = receipts.new_receipt_code()
    assert receipts.hash_code(KEY, code) != receipts.hash_code(b"x" * 32, code)
    assert len(receipts.hash_code(KEY, code)) == 32
    assert receipts.receipt_key("a" * 40) != receipts.receipt_key("b" * 40)


def test_public_refs_are_unguessable_length():
    ref = receipts.new_public_ref()
    assert len(ref) * 5 >= 80


@pytest.mark.parametrize(
    ("printed", "uri"),
    [
        ("504-658-6030", "tel:+1-504-658-6030"),
        ("(504) 822-1111", "tel:+1-504-822-1111"),
        ("1 504 822 1111", "tel:+1-504-822-1111"),
        ("+44 20 7946 0000", "tel:+442079460000"),
        ("911", "tel:911"),
        ("504-658-6030 ext. 5", "tel:+1-504-658-6030;ext=5"),
        ("(504) 658-6030 x 123", "tel:+1-504-658-6030;ext=123"),
        # Seven digits dial nowhere in particular: no link rather than a wrong one.
        ("658-5300", ""),
    ],
)
def test_printed_numbers_become_dialable_tel_uris(printed, uri):
    assert tel_uri(printed) == uri


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("(504) 658-6030", "504-658-6030"),
        ("1 504 822 1111", "504-822-1111"),
        ("504.658.6030 extension 12", "504-658-6030 ext. 12"),
        ("+44 20 7946 0000", "+442079460000"),
        ("911", "911"),
    ],
)
def test_numbers_are_shown_in_one_format(typed, shown):
    assert format_phone(typed) == shown
    assert tel_uri(shown)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("658-5300", "Add the area code"),
        ("504-158-6030", "North American number"),
        ("call 504-658-6030", "digits only"),
        ("+12", "North American number"),
        ("+44 12", "8 to 15 digits"),
    ],
)
def test_numbers_that_cannot_be_dialled_are_refused_with_what_to_type(typed, message):
    with pytest.raises(PhoneInvalid, match=message):
        format_phone(typed)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "just now"),
        (125, "2 min ago"),
        (7300, "2 h ago"),
        (90000, "1 day ago"),
        (3 * 86400, "3 days ago"),
    ],
)
def test_ages_read_plainly(seconds, text):
    from datetime import timedelta

    from tipline.db import utcnow
    from tipline.web.templating import age

    assert age(utcnow() - timedelta(seconds=seconds)) == text
