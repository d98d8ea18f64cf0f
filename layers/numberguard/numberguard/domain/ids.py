"""The forms of every id numberguard reads, keys or stores: one definition for the whole product.

Pure (imports nothing of ours). Each form is what the platform produces, bounded so that any value
that passes fits a DynamoDB key (partition key <= 2,048 bytes, sort key <= 1,024 bytes) with room for
the prefixes and suffixes the store adds. Every pattern but the reference's is ASCII-only, so its
characters are bytes; a reference (at most 512 characters, so at most 2,048 bytes of UTF-8) is stored
as an attribute, never in a key.
The reasons for each bound are in docs/decision_log.md ("One module of id forms").

Use `FORM.matches(value)` (or the `is_*` predicates) to test, and `FORM.problem(value, where)` to say
in words what is wrong ("metadata.phone_number_id is 5,000 characters long; a Meta id has at most 32
digits"). Values are matched as given: callers strip or normalise before, never after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Bounds (characters = bytes, every form being ASCII). Why each: see the module docstring.
MAX_META_ID = 32  # Meta ids are 64-bit integers (at most 20 digits); 32 leaves headroom
MAX_PHONE_DIGITS = 15  # E.164
MAX_DISPLAY_PHONE_NUMBER = 32  # "+1 (555) 078-3881"-style formatting around at most 15 digits
MAX_BSUID = 131  # DESIGN §3: 2 letters, '.', 1..128 alphanumerics
MAX_PARENT_BSUID = 135  # DESIGN §3: 2 letters, '.ENT.', 1..128 alphanumerics
MAX_WAMID = 256  # Meta's wamids are ~60-90 characters of base64 after "wamid."
MAX_GROUP_ID = 128  # a group's id in a status's recipient_id (base64 text, ~60 characters)
MAX_TEMPLATE_NAME = 512  # Meta: lowercase letters, digits and underscores, at most 512 characters
MAX_TEMPLATE_LANGUAGE = 16  # "en", "en_US", "zh_HK", "sr_Latn"…
MAX_REFERENCE = 512  # Meta: biz_opaque_callback_data is at most 512 characters
MAX_CHECK_REFERENCE = 256  # what the limit check accepts as a send's reference (a status's may be longer)


@dataclass(frozen=True)
class IdForm:
    """One id form: a pattern, a bound in characters, and how to name it in an error."""

    name: str  # "a Meta id"
    shape: str  # "digits only" (said after the name when a value does not match)
    pattern: re.Pattern[str]
    max_len: int
    unit: str = "characters"

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and len(value) <= self.max_len and self.pattern.fullmatch(value) is not None

    def problem(self, value: object, where: str = "the value") -> str | None:
        """What is wrong with `value` as this form, in words; None when it is well-formed."""
        if self.matches(value):
            return None
        if not isinstance(value, str):
            return f"{where} must be {self.name} (a string), got {kind_of(value)}"
        if not value:
            return f"{where} is empty; expected {self.name}"
        if len(value) > self.max_len:
            return (f"{where} is {len(value):,} characters long; {self.name} has at most "
                    f"{self.max_len:,} {self.unit}")
        return f"{where} {shown(value)} is not {self.name} ({self.shape})"


def _form(name: str, shape: str, pattern: str, max_len: int, unit: str = "characters") -> IdForm:
    return IdForm(name, shape, re.compile(pattern, re.ASCII), max_len, unit)


META_ID = _form("a Meta id", "digits only", rf"[0-9]{{1,{MAX_META_ID}}}", MAX_META_ID, "digits")
# A WhatsApp id is the user's phone number in E.164, digits only; callers may write a leading '+'.
PHONE_NUMBER = _form(
    "a phone number", f"country code and number, 7 to {MAX_PHONE_DIGITS} digits, an optional leading '+'",
    rf"\+?[1-9][0-9]{{6,{MAX_PHONE_DIGITS - 1}}}", MAX_PHONE_DIGITS + 1,
)
DISPLAY_PHONE_NUMBER = _form(
    "a display phone number",
    f"digits with optional '+', spaces, '(', ')', '.', '-'; at most {MAX_PHONE_DIGITS} digits",
    r"\+?[0-9 ().-]*[0-9][0-9 ().-]*", MAX_DISPLAY_PHONE_NUMBER,
)
BSUID = _form("a BSUID", "two capital letters, '.', then 1 to 128 letters or digits, e.g. US.13491208655302741918",
              r"[A-Z]{2}\.[A-Za-z0-9]{1,128}", MAX_BSUID)
PARENT_BSUID = _form("a parent BSUID",
                     "two capital letters, '.ENT.', then 1 to 128 letters or digits, e.g. US.ENT.11815799212886844830",
                     r"[A-Z]{2}\.ENT\.[A-Za-z0-9]{1,128}", MAX_PARENT_BSUID)
WAMID = _form("a message id (wamid)", "'wamid.' followed by base64 text",
              rf"wamid\.[A-Za-z0-9+/=_-]{{1,{MAX_WAMID - 6}}}", MAX_WAMID)
GROUP_ID = _form("a group id", "base64 text", rf"[A-Za-z0-9+/=_-]{{1,{MAX_GROUP_ID}}}", MAX_GROUP_ID)
TEMPLATE_NAME = _form("a template name", "lowercase letters, digits and underscores",
                      rf"[a-z0-9_]{{1,{MAX_TEMPLATE_NAME}}}", MAX_TEMPLATE_NAME)
TEMPLATE_LANGUAGE = _form("a template language", "a language code such as 'en' or 'en_US'",
                          r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8}){0,2}", MAX_TEMPLATE_LANGUAGE)
# Any printable text without line breaks; Meta's bound. A reference longer than the check's bound is
# well-formed but can never be one of ours.
REFERENCE = _form("a reference", "printable text on one line", rf"[^\x00-\x1f\x7f]{{1,{MAX_REFERENCE}}}",
                  MAX_REFERENCE)

_PHONE_DIGITS = re.compile(r"[0-9]", re.ASCII)


def is_meta_id(value: object) -> bool:
    """phone_number_id, WABA id, business (portfolio) id, template id, app id."""
    return META_ID.matches(value)


def is_phone_number(value: object) -> bool:
    return PHONE_NUMBER.matches(value)


def is_display_phone_number(value: object) -> bool:
    return (isinstance(value, str) and DISPLAY_PHONE_NUMBER.matches(value)
            and len(_PHONE_DIGITS.findall(value)) <= MAX_PHONE_DIGITS)


def is_bsuid(value: object) -> bool:
    return BSUID.matches(value)


def is_parent_bsuid(value: object) -> bool:
    return PARENT_BSUID.matches(value)


def is_wamid(value: object) -> bool:
    return WAMID.matches(value)


def is_template_name(value: object) -> bool:
    return TEMPLATE_NAME.matches(value)


def is_template_language(value: object) -> bool:
    return TEMPLATE_LANGUAGE.matches(value)


def is_reference(value: object) -> bool:
    return REFERENCE.matches(value)


def is_check_reference(value: object) -> bool:
    """A reference the limit check can have been given (so a status carrying it may release a slot)."""
    return isinstance(value, str) and REFERENCE.matches(value) and len(value) <= MAX_CHECK_REFERENCE


def display_problem(value: object, where: str = "display_phone_number") -> str | None:
    """DISPLAY_PHONE_NUMBER.problem plus the digit count (the pattern cannot count digits)."""
    problem = DISPLAY_PHONE_NUMBER.problem(value, where)
    if problem is None and not is_display_phone_number(value):
        return f"{where} {shown(value)} has more than {MAX_PHONE_DIGITS} digits; a phone number has at most that"
    return problem


def display_digits(value: str) -> str:
    """The digits of a display number ("+1 555-078-3881" and "15550783881" name the same number)."""
    return "".join(_PHONE_DIGITS.findall(value))


def recipient_problem(value: object, where: str = "recipient") -> str | None:
    """None when `value` names a person (phone number, BSUID or parent BSUID, DESIGN §3), else why not."""
    if is_phone_number(value) or is_bsuid(value) or is_parent_bsuid(value):
        return None
    if isinstance(value, str) and len(value) > MAX_PARENT_BSUID:
        return (f"{where} is {len(value):,} characters long; a recipient is a phone number, a BSUID "
                f"(at most {MAX_BSUID}) or a parent BSUID (at most {MAX_PARENT_BSUID})")
    if not isinstance(value, str):
        return f"{where} must be a phone number, a BSUID or a parent BSUID (a string), got {kind_of(value)}"
    return (f"{where} {shown(value)} is not a phone number (country code and number, digits only, "
            "e.g. '16505551234'), a BSUID (e.g. 'US.13491208655302741918') or a parent BSUID "
            "(e.g. 'US.ENT.11815799212886844830')")


def shown(value: object, limit: int = 40) -> str:
    """A value as echoed in an error: repr, cut short (an error never mirrors a huge input)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def kind_of(value: object) -> str:
    """What a JSON value is, said after "got" in an error that names its field: "null", "a boolean",
    "the number 5", "the string 'abc'", "a list", "an object" (values cut short, as `shown` does)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {shown(value)}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
