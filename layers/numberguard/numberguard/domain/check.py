"""The limit check's contract: requests, decisions and answers (docs/contracts.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, overload

from numberguard.domain import ids
from numberguard.domain.number import BLOCKS_BUSINESS_INITIATED, BLOCKS_REPLIES, NumberState
from numberguard.domain.pairrate import BURST_USED, PairState, pair_denial
from numberguard.domain.people import IdLink, InvalidId, Person, recipient_id
from numberguard.domain.refusals import cooldown_error, hold_error
from numberguard.domain.status import Connection
from numberguard.domain.templates import Block, Category, TemplateRef, TemplateState, unknown_template_warning
from numberguard.domain.window import ScopeUsage, Window

MAX_BATCH = 1000
MAX_REFERENCE = ids.MAX_CHECK_REFERENCE
MAX_TEMPLATE_NAME = ids.MAX_TEMPLATE_NAME  # Meta's limit on a template's name
MAX_LANGUAGE = ids.MAX_TEMPLATE_LANGUAGE


class Decision(StrEnum):
    ALLOWED_SERVICE_WINDOW = "ALLOWED_SERVICE_WINDOW"
    ALLOWED_ALREADY_COUNTED = "ALLOWED_ALREADY_COUNTED"
    ALLOWED_NEW_RECIPIENT = "ALLOWED_NEW_RECIPIENT"
    ALLOWED_UNLIMITED = "ALLOWED_UNLIMITED"
    DENIED_LIMIT_REACHED = "DENIED_LIMIT_REACHED"
    DENIED_WINDOW_CLOSED = "DENIED_WINDOW_CLOSED"
    DENIED_BANNED = "DENIED_BANNED"
    DENIED_PENDING = "DENIED_PENDING"
    DENIED_OFFLINE = "DENIED_OFFLINE"
    DENIED_ACCOUNT_RESTRICTED = "DENIED_ACCOUNT_RESTRICTED"
    DENIED_BLOCKED_BY_META = "DENIED_BLOCKED_BY_META"
    DENIED_UNKNOWN_NUMBER = "DENIED_UNKNOWN_NUMBER"
    DENIED_TEMPLATE_PAUSED = "DENIED_TEMPLATE_PAUSED"
    DENIED_TEMPLATE_DISABLED = "DENIED_TEMPLATE_DISABLED"
    DENIED_TEMPLATE_NOT_APPROVED = "DENIED_TEMPLATE_NOT_APPROVED"
    DENIED_SPAM_RATE_LIMITED = "DENIED_SPAM_RATE_LIMITED"
    DENIED_RECIPIENT_COOLDOWN = "DENIED_RECIPIENT_COOLDOWN"
    DENIED_PAIR_RATE = "DENIED_PAIR_RATE"
    INVALID_REQUEST = "INVALID_REQUEST"
    # Beyond the contract's list: the store could not be reached (fail-closed / fail-open).
    DENIED_STORE_UNAVAILABLE = "DENIED_STORE_UNAVAILABLE"
    ALLOWED_STORE_UNAVAILABLE = "ALLOWED_STORE_UNAVAILABLE"
    # Answers to {"action": "release"}.
    RELEASED = "RELEASED"
    NOTHING_TO_RELEASE = "NOTHING_TO_RELEASE"

    @property
    def allowed(self) -> bool:
        return self.name.startswith("ALLOWED_") or self is Decision.RELEASED


class MessageKind(StrEnum):
    TEMPLATE = "template"  # may be business-initiated: counted outside a service window
    SESSION = "session"  # free-form: needs an open service window


class InvalidRequest(ValueError):
    """A request the check cannot answer; the message names the field."""


@dataclass(frozen=True)
class CheckRequest:
    phone_number_id: str
    recipients: tuple[str, ...]
    message: MessageKind
    reference: str | None
    dry_run: bool
    batch: bool
    template: TemplateRef | None = None
    category: Category | None = None  # the caller's; the known template's category is applied later


@dataclass(frozen=True)
class ReleaseRequest:
    phone_number_id: str
    recipient: str
    reference: str


_CHECK_FIELDS = {
    "action", "phone_number_id", "recipient", "recipients", "message", "reference", "dry_run", "template", "category",
}
_TEMPLATE_FIELDS = {"name", "language"}
_RELEASE_FIELDS = {"action", "phone_number_id", "recipient", "reference"}


_shown = ids.shown  # a caller's value as echoed in an error: an answer never mirrors a huge input


def echoed_number_id(payload: Any) -> str | None:
    """The payload's phone_number_id for a rejection's answer, only when it is a well-formed id."""
    value = payload.get("phone_number_id") if isinstance(payload, dict) else None
    if isinstance(value, str) and ids.is_meta_id(value.strip()):
        return value.strip()
    return None


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


@overload
def _text(payload: dict, name: str, *, required: Literal[True] = True, max_len: int = 64,
          where: str | None = None) -> str: ...
@overload
def _text(payload: dict, name: str, *, required: bool, max_len: int = 64, where: str | None = None) -> str | None: ...


def _text(
    payload: dict, name: str, *, required: bool = True, max_len: int = 64, where: str | None = None
) -> str | None:
    where = where or name  # how the error names the field (e.g. 'template.name')
    if name not in payload or payload[name] is None:
        if required:
            raise InvalidRequest(f"'{where}' is required")
        return None
    value = payload[name]
    if not isinstance(value, str):
        raise InvalidRequest(f"'{where}' must be a string, got {_type_name(value)}")
    value = value.strip()
    if not value:
        raise InvalidRequest(f"'{where}' must not be empty")
    if len(value) > max_len:
        raise InvalidRequest(f"'{where}' is too long ({len(value)} characters, at most {max_len})")
    return value


def _phone_number_id(payload: dict) -> str:
    value = _text(payload, "phone_number_id")
    if not ids.is_meta_id(value):
        raise InvalidRequest(f"'phone_number_id' must be the number's Meta id (digits only), got {value!r}")
    return value


def _recipient(value: Any, where: str) -> str:
    """A phone number (ASCII digits: one key per person), a BSUID or a parent BSUID (DESIGN §3)."""
    try:
        return recipient_id(value, where)
    except InvalidId as err:
        raise InvalidRequest(str(err)) from None


def _reject_unknown(payload: dict, allowed: set[str]) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown field {_shown(unknown[0])} (allowed: {', '.join(sorted(allowed))})")


def _template(payload: dict, message: MessageKind) -> TemplateRef | None:
    raw = payload.get("template")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidRequest(f"'template' must be an object {{\"name\", \"language\"}}, got {_type_name(raw)}")
    unknown = sorted(set(raw) - _TEMPLATE_FIELDS, key=str)
    if unknown:
        raise InvalidRequest(f"unknown field 'template.{str(unknown[0])[:40]}' (allowed: language, name)")
    if message is MessageKind.SESSION:
        raise InvalidRequest("'template' names the template of a template message: give 'message': 'template'")
    name = _text(raw, "name", max_len=MAX_TEMPLATE_NAME, where="template.name")
    language = _text(raw, "language", max_len=MAX_LANGUAGE, where="template.language")
    if not ids.is_template_language(language.lower()):  # en, en_US, en-US, zh_Hant_TW; in any case
        raise InvalidRequest(f"'template.language' must be a language code such as 'en_US', got {_shown(language)}")
    return TemplateRef(name, language)


def _category(payload: dict) -> Category | None:
    raw = payload.get("category")
    if raw is None:
        return None
    found = Category.read(raw)
    if found is None:
        allowed = ", ".join(f"'{c.value}'" for c in Category)
        shown = _type_name(raw) if not isinstance(raw, str) else _shown(raw)
        raise InvalidRequest(f"'category' must be one of {allowed} (any case), got {shown}")
    return found


def parse_request(payload: Any) -> CheckRequest | ReleaseRequest:
    """Validate an invocation payload; raises InvalidRequest naming what is wrong."""
    if not isinstance(payload, dict):
        raise InvalidRequest(f"the payload must be a JSON object, got {_type_name(payload)}")
    action = payload.get("action", "check")
    if action not in ("check", "release"):
        raise InvalidRequest(f"'action' must be 'check' or 'release', got {_shown(action)}")
    if action == "release":
        return _release(payload)

    _reject_unknown(payload, _CHECK_FIELDS)
    phone_number_id = _phone_number_id(payload)
    recipients = _recipients(payload)
    kind = _message(payload)
    dry_run = payload.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidRequest(f"'dry_run' must be true or false, got {_type_name(dry_run)}")
    return CheckRequest(
        phone_number_id=phone_number_id,
        recipients=recipients,
        message=kind,
        reference=_text(payload, "reference", required=False, max_len=MAX_REFERENCE),
        dry_run=dry_run,
        batch="recipients" in payload,
        template=_template(payload, kind),
        category=_category(payload),
    )


def _release(payload: dict) -> ReleaseRequest:
    _reject_unknown(payload, _RELEASE_FIELDS)
    phone_number_id = _phone_number_id(payload)
    if "recipient" not in payload:
        raise InvalidRequest("'recipient' is required")
    return ReleaseRequest(
        phone_number_id=phone_number_id,
        recipient=_recipient(payload["recipient"], "recipient"),
        reference=_text(payload, "reference", max_len=MAX_REFERENCE),
    )


def _recipients(payload: dict) -> tuple[str, ...]:
    """One `recipient`, or a batch of `recipients`: never both, never neither."""
    has_one, has_many = "recipient" in payload, "recipients" in payload
    if has_one and has_many:
        raise InvalidRequest("give either 'recipient' or 'recipients', not both")
    if not has_one and not has_many:
        raise InvalidRequest("'recipient' is required (or 'recipients' for a batch)")
    if has_one:
        return (_recipient(payload["recipient"], "recipient"),)
    raw = payload["recipients"]
    if not isinstance(raw, list):
        raise InvalidRequest(f"'recipients' must be a list of recipient ids, got {_type_name(raw)}")
    if not raw:
        raise InvalidRequest("'recipients' must not be empty")
    if len(raw) > MAX_BATCH:
        raise InvalidRequest(f"'recipients' has {len(raw)} entries, at most {MAX_BATCH} per request")
    return tuple(_recipient(r, f"recipients[{i}]") for i, r in enumerate(raw))


def _message(payload: dict) -> MessageKind:
    message = payload.get("message")
    if message is None:
        raise InvalidRequest("'message' is required: 'template' or 'session'")
    if not isinstance(message, str):
        raise InvalidRequest(f"'message' must be 'template' or 'session', got {_type_name(message)}")
    try:
        return MessageKind(message.strip().lower())
    except ValueError:
        raise InvalidRequest(f"'message' must be 'template' or 'session', got {message[:40]!r}") from None


@dataclass(frozen=True)
class RecipientView:
    """What the store knows of one recipient: its counted stint and its service window."""

    counted_bucket: int | None = None
    counted_until: int = 0
    service_window_until: int = 0
    slot_reference: str | None = None
    sent_template: str | None = None  # the template the counted send named (TemplateRef.tag)
    cooldown_until: int = 0  # the person's marketing cooldown after Meta's 131049 (latest of its ids)
    pair: PairState = field(default_factory=PairState)  # this number's pair item under this id (as a person key)

    def counted(self, now: int) -> bool:
        return self.counted_bucket is not None and self.counted_until > now

    def in_service_window(self, now: int) -> bool:
        return self.service_window_until > now


@dataclass
class Snapshot:
    """What the check reads in one go: the number, its scope's counter and each recipient's records."""

    number: NumberState | None
    usage: ScopeUsage | None
    tier: str | None
    records: dict[str, RecipientView] = field(default_factory=dict)
    template: TemplateState | None = None  # the named template, when the read asked for it
    template_read: bool = False  # whether it did (False: the WABA was not known before the read)
    links: dict[str, IdLink] = field(default_factory=dict)  # the link item of each id read (absent: none)


def person_view(recipient: str, person: Person | None, views: Mapping[str, RecipientView],
                now: int) -> tuple[str, RecipientView]:
    """The id a check acts on for `recipient`, and what it knows of the person (DESIGN §3).

    Unlinked: the id itself. Linked: the id holding the person's live counted stint (the key once
    folded; the latest stint if a fold is still due), else the key (where a new count is written); the
    service window is the latest of all the person's ids.
    """
    if person is None or recipient not in person.ids:
        return recipient, views.get(recipient, RecipientView())
    window = max((views[i].service_window_until for i in person.ids if i in views), default=0)
    cooldown = max((views[i].cooldown_until for i in person.ids if i in views), default=0)
    live = [(v.counted_until, i == person.key, i) for i in person.ids if (v := views.get(i)) and v.counted(now)]
    target = max(live)[2] if live else person.key
    view = views.get(target, RecipientView())
    return target, replace(view, service_window_until=max(window, view.service_window_until),
                           cooldown_until=max(cooldown, view.cooldown_until))


def pair_of(recipient: str, person: Person | None, views: Mapping[str, RecipientView]) -> tuple[str, PairState]:
    """The person key a check takes its pair token under, and the pair as read (DESIGN §3, row 6).

    Meta's refusals of every id of the person count (a key that changed when ids were linked still
    finds the backoff); the bucket is the key's.
    """
    if person is None or recipient not in person.ids:
        return recipient, views.get(recipient, RecipientView()).pair
    own = views.get(person.key, RecipientView()).pair
    strikes = dict(own.strikes)
    for i in sorted(person.others):
        strikes.update((views.get(i) or RecipientView()).pair.strikes)
    return person.key, replace(own, strikes=strikes)


def slot_holder(recipient: str, link: IdLink | None, views: Mapping[str, RecipientView], reference: str) -> str:
    """The id of the person whose counted record holds the slot `reference` took (else `recipient`)."""
    person = link.person if link else None
    for i in sorted(person.ids) if person and recipient in person.ids else ():
        view = views.get(i)
        if view is not None and view.slot_reference == reference and view.counted_bucket is not None:
            return i
    return recipient


class Step(StrEnum):
    """What the check must do for one recipient after the read."""

    ANSWER = "ANSWER"  # decided, nothing to write
    MOVE = "MOVE"  # already counted, in an older bucket: move it to the current one
    # Already counted in this bucket, but by a slot another send's reference may still release:
    # take the reference away first, or a release would un-count a recipient this send reaches.
    KEEP = "KEEP"
    RESERVE = "RESERVE"  # a new recipient: needs a slot


@dataclass(frozen=True)
class Classification:
    step: Step
    decision: Decision
    retry_at: int | None = None
    error: str | None = None  # Meta's reason or code, for denials that predict Meta's refusals


_TEMPLATE_DENIALS = {
    Block.PAUSED: Decision.DENIED_TEMPLATE_PAUSED,
    Block.DISABLED: Decision.DENIED_TEMPLATE_DISABLED,
    Block.NOT_APPROVED: Decision.DENIED_TEMPLATE_NOT_APPROVED,
}


@dataclass(frozen=True)
class TemplateVerdict:
    """What the template a check names adds to its answer: a denial (row 4 of the precedence) and warnings."""

    denial: Classification | None = None
    warnings: tuple[str, ...] = ()
    category: Category | None = None  # the request's, else the known template's (from Meta)


def template_verdict(request: CheckRequest, template: TemplateState | None, waba_id: str, now: int) -> TemplateVerdict:
    """A template numberguard never heard of is allowed with a warning, never denied."""
    if request.template is None:
        return TemplateVerdict(category=request.category)
    if template is None:
        return TemplateVerdict(None, (unknown_template_warning(request.template, waba_id),), request.category)
    category = request.category or template.category
    block, retry_at = template.block(now)
    warnings = tuple(template.warnings(now))
    if block is None:
        return TemplateVerdict(None, warnings, category)
    denial = Classification(Step.ANSWER, _TEMPLATE_DENIALS[block], retry_at, template.reason(now))
    return TemplateVerdict(denial, warnings, category)


def pair_verdict(pair: PairState, now: int, guard: bool) -> Classification | None:
    """Row 6 from the pair as read: Meta's 131056 backoff, and with the guard on an empty bucket."""
    until = pair_denial(pair, now, guard)
    if until is None:
        return None
    found = pair.backoff()
    why = BURST_USED
    if found is not None and found.until > now:
        why = f"Meta refused a send to this person with 131056 (pair rate): back off 4^{found.exponent} s"
    return Classification(Step.ANSWER, Decision.DENIED_PAIR_RATE, until, why)


def cannot_send(number: NumberState) -> Decision | None:
    """Precedence rows 2 and 3: the number may send nothing at all (whatever the recipient)."""
    if number.banned:
        return Decision.DENIED_BANNED
    if number.connection is Connection.PENDING:
        return Decision.DENIED_PENDING
    if number.connection is Connection.OFFLINE:
        return Decision.DENIED_OFFLINE
    if number.blocked_by_meta:  # row 3: Meta's health status says the number, its WABA or business is BLOCKED
        return Decision.DENIED_BLOCKED_BY_META
    return None


def classify(
    number: NumberState,
    usage: ScopeUsage,
    recipient: RecipientView,
    message: MessageKind,
    window: Window,
    now: int,
    reference: str | None = None,
    template_denial: Classification | None = None,
    pair_denial: Classification | None = None,
    category: Category | None = None,
) -> Classification:
    """Decide one recipient from the state read, before any write (`reference`: this send's).

    `template_denial`: the named template's (template_verdict), inside a service window or not;
    `pair_denial`: the pair's (pair_verdict), for every send to the person; `category`: the check's (the
    request's, else its known template's).
    """
    early = _refused_before_window(number, recipient, now, template_denial, pair_denial, category)  # rows 2-6
    if early is not None:
        return early
    if recipient.in_service_window(now):  # row 7
        until = number.restricted_until(BLOCKS_REPLIES, now)
        if until is not None:
            return Classification(Step.ANSWER, Decision.DENIED_ACCOUNT_RESTRICTED, until)
        return Classification(Step.ANSWER, Decision.ALLOWED_SERVICE_WINDOW)
    if message is MessageKind.SESSION:
        return Classification(Step.ANSWER, Decision.DENIED_WINDOW_CLOSED)
    until = number.restricted_until(BLOCKS_BUSINESS_INITIATED, now)  # row 8
    if until is not None:
        return Classification(Step.ANSWER, Decision.DENIED_ACCOUNT_RESTRICTED, until)
    held = number.held_until(now)
    if held is not None:
        return Classification(Step.ANSWER, Decision.DENIED_SPAM_RATE_LIMITED, held, hold_error())
    if usage.unlimited:
        return Classification(Step.ANSWER, Decision.ALLOWED_UNLIMITED)
    return _counted_step(recipient, window, now, reference)


def _refused_before_window(number: NumberState, recipient: RecipientView, now: int,
                           template_denial: Classification | None, pair_denial: Classification | None,
                           category: Category | None) -> Classification | None:
    """Rows 2 to 6: the number sends nothing, the template is refused, the person is in marketing cooldown,
    the pair is out of tokens or backing off."""
    refused = cannot_send(number)  # rows 2 and 3 of the precedence
    if refused is not None:
        return Classification(Step.ANSWER, refused)
    if template_denial is not None:  # row 4: after the number's own refusals, Meta's block included
        return template_denial
    if category is Category.MARKETING and recipient.cooldown_until > now:  # row 5, inside a window or not
        return Classification(Step.ANSWER, Decision.DENIED_RECIPIENT_COOLDOWN, recipient.cooldown_until,
                              cooldown_error())
    return pair_denial  # row 6: every send to the person, inside a window or not


def _counted_step(recipient: RecipientView, window: Window, now: int, reference: str | None) -> Classification:
    """Row 9 for a limited scope: already counted (kept, moved) or a new recipient."""
    if recipient.counted(now) and recipient.counted_bucket is not None:  # counted() says so; mypy cannot see it
        # Only ever forward: a check whose clock reads an earlier bucket than the record (another
        # instance, or a read just before a bucket boundary) must not shorten the stint.
        if recipient.counted_bucket >= window.bucket_of(now):
            if recipient.slot_reference is not None and recipient.slot_reference != reference:
                return Classification(Step.KEEP, Decision.ALLOWED_ALREADY_COUNTED)
            return Classification(Step.ANSWER, Decision.ALLOWED_ALREADY_COUNTED)
        return Classification(Step.MOVE, Decision.ALLOWED_ALREADY_COUNTED)
    return Classification(Step.RESERVE, Decision.ALLOWED_NEW_RECIPIENT)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
