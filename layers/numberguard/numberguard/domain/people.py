"""Recipients are people: the ids Meta shows for one user, linked into one person (DESIGN §3, §4).

A person is named by any of its ids: a phone number (the WhatsApp id), a business-scoped user id
(BSUID) and a parent BSUID. numberguard links ids only when Meta shows them together for one user
(one webhook's message or status and its `contacts[]` entry, or a contact shared on request), never
from a username or from a contact card of another origin. Links belong to a *link space*: the
business portfolio (a BSUID is unique per portfolio), or the WABA when the portfolio is unknown (fewer
links: a person may count twice, never too few).

The person's count lives under one id, its *key*: the phone number when it has one (Meta prefers
sending to phone numbers, so most checks name the key and cost no extra read), else its BSUID, else
its parent BSUID. Service windows live under every id an inbound message carried, and a check looks at
the windows of all the person's ids.

Invariants (the store keeps them with conditional writes):
- every id of a person has the same link (same key, same ids), so a check reads one link and knows
  where the person's count lives;
- after a fold, at most one of a person's ids holds a live counted record in a scope: the key;
- a retired id (an old phone number or BSUID after a `system` change) belongs to nobody from the time
  of the change: a link from an older event does not bring it back, a newer one starts it fresh.

Pure: no I/O, time passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from numberguard.domain import ids as idforms

MAX_PERSON_IDS = 16  # far above what Meta shows for one user (phone, BSUID, parent BSUID, a change or two)


class IdKind(StrEnum):
    PHONE = "phone"
    BSUID = "bsuid"
    PARENT_BSUID = "parent_bsuid"


_ORDER = {IdKind.PHONE: 0, IdKind.BSUID: 1, IdKind.PARENT_BSUID: 2}


_HINT_MAX = idforms.MAX_PARENT_BSUID + 8  # longer values are named by their length, not explained


class InvalidId(ValueError):
    """A value that is not a phone number, a BSUID or a parent BSUID; the message names the field."""


def kind_of(value: object) -> IdKind | None:
    """The kind of a recipient id as Meta writes it (a phone number without '+'), None when it is none."""
    if idforms.is_parent_bsuid(value):
        return IdKind.PARENT_BSUID
    if idforms.is_bsuid(value):
        return IdKind.BSUID
    if idforms.is_phone_number(value) and not str(value).startswith("+"):
        return IdKind.PHONE
    return None


def recipient_id(value: object, where: str = "recipient") -> str:
    """A sender's recipient id, checked by the exact forms of DESIGN §3 and kept as given.

    A phone number may start with '+' (dropped: Meta's WhatsApp id has none); a BSUID is
    case-sensitive and kept exactly. Raises InvalidId naming `where` and the rule the value breaks.
    """
    name = f"'{where}'"
    if not isinstance(value, str):
        raise InvalidId(f"{name} must be a phone number, a BSUID or a parent BSUID (a string), "
                        f"got {'null' if value is None else type(value).__name__}")
    text = value.strip()
    if idforms.is_phone_number(text):
        return text.lstrip("+")
    if idforms.is_bsuid(text) or idforms.is_parent_bsuid(text):
        return text
    if len(text) > _HINT_MAX:
        raise InvalidId(idforms.recipient_problem(text, name) or name)
    hint = bsuid_rule_broken(text) or (
        "a phone number is the WhatsApp id, digits only with the country code, e.g. '16505551234'; a BSUID "
        "is like 'US.13491208655302741918', a parent BSUID like 'US.ENT.11815799212886844830'")
    raise InvalidId(f"{name} is not a phone number, a BSUID or a parent BSUID: {idforms.shown(value)} ({hint})")


def bsuid_rule_broken(value: str) -> str | None:
    """For a value written like a BSUID (it has a period), the one rule of its form that it breaks."""
    if "." not in value or len(value) > _HINT_MAX:
        return None
    prefix, _, rest = value.partition(".")
    if not (prefix.isascii() and prefix.isalpha()):
        return None  # not written like a BSUID at all: the general hint fits better
    if len(prefix) != 2:
        return f"a BSUID starts with a two-letter country code, not {prefix!r}"
    if not prefix.isupper():
        return f"the country code must be in capitals ({prefix.upper()!r}, not {prefix!r})"
    if rest.startswith("ENT."):
        rest = rest[4:]
    if not rest:
        return "nothing follows the prefix (1 to 128 letters or digits)"
    if len(rest) > 128:
        return f"{len(rest)} characters follow the prefix (at most 128)"
    if not (rest.isascii() and rest.isalnum()):
        bad = next(c for c in rest if not (c.isascii() and c.isalnum()))
        return f"{bad!r} is not a letter or digit (only letters and digits follow the prefix)"
    return None


def link_space(portfolio_id: str | None, waba_id: str) -> str:
    """Where a number's links belong: its business portfolio, else its WABA."""
    return f"portfolio:{portfolio_id}" if portfolio_id else f"waba:{waba_id}"


def key_of(person_ids: Iterable[str]) -> str:
    """The id a person's count lives under: a phone number, else a BSUID, else a parent BSUID.

    Deterministic (the smallest id of the preferred kind), so two intakes linking the same ids at once
    agree on the key.
    """
    ranked = sorted((_ORDER.get(kind_of(i) or IdKind.PARENT_BSUID, 3), i) for i in person_ids)
    if not ranked:
        raise ValueError("a person has at least one id")
    return ranked[0][1]


@dataclass(frozen=True)
class Person:
    """The ids Meta has shown for one user in one link space, and the id its count lives under."""

    key: str
    ids: frozenset[str]
    at: int = 0  # the time of the latest Meta event that shaped this person

    @property
    def others(self) -> frozenset[str]:
        return self.ids - {self.key}


@dataclass(frozen=True)
class IdLink:
    """What the store holds for one id of a link space: its person, or when it was retired."""

    person: Person | None = None
    retired_at: int | None = None


def person_of(person_ids: Iterable[str], at: int) -> Person:
    chosen = frozenset(person_ids)
    return Person(key_of(chosen), chosen, at)


def predates_retirement(retired_at: int | None, at: int) -> bool:
    """Whether an event at `at` names a retired id's previous user: it is not later than the retirement.

    Such an event neither links the id nor opens a window under it (store/windows.py applies the same
    rule in its condition); an event after the retirement is the id's next user, who starts fresh.
    """
    return retired_at is not None and retired_at >= at


def _live(found: Mapping[str, IdLink], candidates: Iterable[str], at: int) -> set[str]:
    """The ids an event at `at` may still speak for: not retired at or after its time."""
    return {i for i in candidates if not predates_retirement(found.get(i, IdLink()).retired_at, at)}


def link(found: Mapping[str, IdLink], shown: Iterable[str], at: int) -> Person | None:
    """The person after Meta showed `shown` together at `at`; None when nothing changes.

    `found` holds the stored link of every id in `shown` (absent: never linked). Persons that share an
    id with `shown` merge into one (their counts fold into the new key). Only well-formed ids link.
    """
    wanted = {i for i in shown if kind_of(i) is not None}
    live = _live(found, wanted, at)
    persons: set[Person] = {p for i in live if (p := found.get(i, IdLink()).person) is not None}
    merged: set[str] = set(live)
    for person in persons:
        merged |= person.ids
    if len(merged) < 2 or len(merged) > MAX_PERSON_IDS:
        return None  # one id links nothing; an absurd set is not one user
    latest = max([at, *(p.at for p in persons if p is not None)])
    if len(persons) == 1:
        (only,) = persons
        if only is not None and only.ids == frozenset(merged):
            return None  # Meta said it again (a retry, or an older event): nothing to do
    return person_of(merged, latest)


@dataclass(frozen=True)
class IdChange:
    """A person after a `system` change: the ids it keeps or gains, and those it retires."""

    person: Person | None  # None when only one id is left (nothing to link)
    current: frozenset[str]  # the person's ids after the change (where count and window move)
    retired: frozenset[str]
    detached: Mapping[str, Person | None] = field(default_factory=dict)  # another person's ids, relinked


def change_ids(found: Mapping[str, IdLink], retired: Iterable[str], new: Iterable[str], at: int) -> IdChange | None:
    """A `user_changed_number` / `user_changed_user_id` at `at`: the retired ids leave the person.

    None when the change is older than what is stored (every retired id was retired later already).
    """
    gone = {i for i in retired if kind_of(i) is not None}
    arriving = {i for i in new if kind_of(i) is not None}
    if not gone or not arriving:
        return None
    if all((found.get(i, IdLink()).retired_at or 0) >= at for i in gone):
        return None
    before: set[str] = set()
    for i in gone:
        person = found.get(i, IdLink()).person
        if person is not None:
            before |= person.ids
    # A new id may already belong to a person: the same user shown before the change (all of its ids
    # arrive now: it joins), or someone who had that number before (it keeps its other ids, without it).
    detached: dict[str, Person | None] = {}
    for i in arriving:
        person = found.get(i, IdLink()).person
        if person is None or person.ids <= before | arriving:
            continue
        rest = person.ids - arriving - before
        for j in rest:
            detached[j] = person_of(rest, at) if len(rest) >= 2 else None
    current = (before | arriving) - gone
    person = person_of(current, at) if len(current) >= 2 else None
    return IdChange(person, frozenset(current), frozenset(gone), detached)


# ---- one person's records in one limit scope ---------------------------------------------------


@dataclass(frozen=True)
class Stint:
    """One id's counted record as read: its bucket, until when it counts, the slot's reference."""

    bucket: int
    until: int
    reference: str | None = None


@dataclass(frozen=True)
class Fold:
    """How to leave a person counted once in a scope, under its key.

    `key_stint`: what the key's record must become (None: leave it). `cleared`: ids whose record is
    emptied (each guarded by the bucket read). `given_back`: slots per bucket returned to the counter.
    """

    key: str
    key_was: Stint | None
    key_stint: Stint | None
    cleared: tuple[tuple[str, int], ...]
    given_back: Mapping[int, int]

    @property
    def slots(self) -> int:
        return sum(self.given_back.values())


def plan_fold(key: str, stints: Mapping[str, Stint], now: int) -> Fold | None:
    """Fold the live counted records of a person's ids into one, under `key`; None when there is one or none.

    The person stays counted as long as its latest send says (the longest stint survives, at the key);
    every other live stint gives its slot back. A stint that no longer counts is left alone (its bucket
    is gone from the counter or about to be).
    """
    live = {i: s for i, s in stints.items() if s.until > now}
    others = {i: s for i, s in live.items() if i != key}
    if not others:
        return None
    keep_id, keep = max(live.items(), key=lambda item: (item[1].until, item[1].bucket, item[0] == key))
    given: dict[int, int] = {}
    for i, stint in live.items():
        if i != keep_id:
            given[stint.bucket] = given.get(stint.bucket, 0) + 1
    key_was = live.get(key)
    # A moved stint loses its reference: a later release of it must not un-count the person.
    key_stint = None if keep_id == key else Stint(keep.bucket, keep.until, None)
    cleared = tuple(sorted((i, s.bucket) for i, s in others.items()))
    return Fold(key, key_was, key_stint, cleared, given)


def latest_window(windows: Mapping[str, int]) -> int:
    """A person's service window: the latest of its ids' windows (an inbound message opens all)."""
    return max(windows.values(), default=0)
