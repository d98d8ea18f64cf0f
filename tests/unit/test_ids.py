"""The id forms of domain/ids.py: what the platform produces passes, anything else is named in words."""

from __future__ import annotations

import pytest
from numberguard.domain import ids

LONG = "1" * 5_000


@pytest.mark.parametrize("value", ["106540352242922", "102290129340398", "1", "9" * 32])
def test_meta_ids_are_digits(value: str) -> None:
    assert ids.is_meta_id(value)


@pytest.mark.parametrize("value", ["", "abc", "12a", "9" * 33, LONG, " 1", "1\n", "١٢٣", 123, None])
def test_not_meta_ids(value: object) -> None:
    assert not ids.is_meta_id(value)
    assert ids.META_ID.problem(value, "metadata.phone_number_id")


def test_an_oversized_value_is_named_by_its_length_not_echoed() -> None:
    problem = ids.META_ID.problem(LONG, "metadata.phone_number_id")
    assert problem == "metadata.phone_number_id is 5,000 characters long; a Meta id has at most 32 digits"
    assert "not a Meta id (digits only)" in ids.META_ID.problem("12a", "entry.id")


@pytest.mark.parametrize(("value", "said"), [
    (None, "null"), (True, "a boolean"), (106540352242922, "the number 106540352242922"),
    ("x" * 100, "the string '" + "x" * 39 + "..."), (["1"], "a list"), ({"id": "1"}, "an object"),
])
def test_a_value_of_the_wrong_type_is_named_with_its_field_and_what_it_is(value: object, said: str) -> None:
    from numberguard.webhooks.envelope import EnvelopeError, check_entry

    assert ids.kind_of(value) == said
    if not isinstance(value, str):  # an id form, in the check and the intake alike
        assert ids.META_ID.problem(value, "metadata.phone_number_id") == (
            f"metadata.phone_number_id must be a Meta id (a string), got {said}")
    if not isinstance(value, dict):  # the webhook envelope, in the same words
        with pytest.raises(EnvelopeError, match=r"^entry\[0\] must be an object, got ") as refused:
            check_entry(value, "entry[0]")
        assert str(refused.value).endswith(f"got {said}")


@pytest.mark.parametrize("value", ["16505551234", "+16505551234", "4915112345678"])
def test_phone_numbers(value: str) -> None:
    assert ids.is_phone_number(value)


@pytest.mark.parametrize("value", ["0650555123", "123456", "1" * 16, "+", "US.1", "16505551234 ", LONG])
def test_not_phone_numbers(value: str) -> None:
    assert not ids.is_phone_number(value)


@pytest.mark.parametrize("value", ["US.13491208655302741918", "BR.a", "US." + "x" * 128])
def test_bsuids_as_design_section_3_says(value: str) -> None:
    assert ids.is_bsuid(value)
    assert not ids.is_parent_bsuid(value)
    assert ids.recipient_problem(value) is None


@pytest.mark.parametrize("value", ["US.ENT.11815799212886844830", "US.ENT." + "A" * 128])
def test_parent_bsuids(value: str) -> None:
    assert ids.is_parent_bsuid(value)
    assert ids.recipient_problem(value) is None


@pytest.mark.parametrize("value", ["us.1", "USA.1", "US.", "US." + "x" * 129, "US.ab-c", "US.ENT." + "A" * 129, "US_1"])
def test_not_bsuids(value: str) -> None:
    assert not ids.is_bsuid(value) and not ids.is_parent_bsuid(value)
    assert ids.recipient_problem(value)


def test_bsuid_bounds_are_the_contracts() -> None:
    assert len("US." + "x" * 128) == ids.MAX_BSUID == 131
    assert len("US.ENT." + "x" * 128) == ids.MAX_PARENT_BSUID == 135


def test_an_oversized_recipient_is_named_by_its_length() -> None:
    assert "5,000 characters long" in ids.recipient_problem(LONG, "from")


@pytest.mark.parametrize("value", ["wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTYxMTJGNjBBNDkxMEY1NjhDMgA=", "wamid.A"])
def test_wamids(value: str) -> None:
    assert ids.is_wamid(value)


@pytest.mark.parametrize("value", ["", "wamid.", "HBgL", "wamid.a b", "wamid." + "A" * 251])
def test_not_wamids(value: str) -> None:
    assert not ids.is_wamid(value)


@pytest.mark.parametrize("value", ["+1 555-078-3881", "15550783881", "+1 (555) 078.3881"])
def test_display_phone_numbers(value: str) -> None:
    assert ids.is_display_phone_number(value)
    assert ids.display_digits(value) == "15550783881"


@pytest.mark.parametrize("value", ["", "---", "call me", "1" * 16, "1 " * 16, LONG])
def test_not_display_phone_numbers(value: str) -> None:
    assert not ids.is_display_phone_number(value)
    assert ids.display_problem(value)


def test_templates() -> None:
    assert ids.is_template_name("welcome_template") and ids.is_template_name("a" * 512)
    assert not ids.is_template_name("a" * 513) and not ids.is_template_name("Welcome Template")
    assert all(ids.is_template_language(v) for v in ("en", "en_US", "en-US", "pt_BR", "sr_Latn"))
    assert not any(ids.is_template_language(v) for v in ("", "english please", "EN", "x" * 17))


def test_references() -> None:
    assert ids.is_reference("send-1") and ids.is_check_reference("x" * 256)
    assert ids.is_reference("x" * 512) and not ids.is_check_reference("x" * 257)
    assert not ids.is_reference("x" * 513) and not ids.is_reference("") and not ids.is_reference("a\nb")


def test_every_bound_fits_a_dynamodb_sort_key_with_room_for_prefixes() -> None:
    forms = (ids.META_ID, ids.PHONE_NUMBER, ids.DISPLAY_PHONE_NUMBER, ids.BSUID, ids.PARENT_BSUID, ids.WAMID,
             ids.GROUP_ID, ids.TEMPLATE_NAME, ids.TEMPLATE_LANGUAGE, ids.REFERENCE)
    # ASCII-only patterns: a character is a byte; the longest form leaves half a sort key for the rest.
    assert max(f.max_len for f in forms) <= 1024 // 2
    assert not any(f.matches("é" * min(f.max_len, 4)) for f in forms if f is not ids.REFERENCE)
