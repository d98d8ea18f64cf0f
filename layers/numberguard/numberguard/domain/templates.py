"""Message templates: how a send names one, and the categories Meta prices them by (DESIGN §2, §3)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from numberguard.domain.facetlog import entry_time
from numberguard.domain.status import Quality


class Category(StrEnum):
    """Meta's template categories; requests may spell them in any case, answers use these."""

    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"

    @classmethod
    def read(cls, text: object) -> Category | None:
        """Meta's or a caller's spelling (`UTILITY`, ` Marketing `), or None when it is none of them."""
        if not isinstance(text, str):
            return None
        try:
            return cls(text.strip().lower())
        except ValueError:
            return None


def language_key(language: str) -> str:
    """One spelling per language: Meta's webhooks have shown `en-US` where its send API takes `en_US`."""
    return language.strip().replace("-", "_").lower()


@dataclass(frozen=True)
class TemplateRef:
    """A template as a send names it: its name and language, exactly as the sender gave them."""

    name: str
    language: str

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the template within its WABA, whatever spelling of the language."""
        return self.name, language_key(self.language)

    @property
    def tag(self) -> str:
        """One string for a counted record (`sent_template`); `from_tag` reads it back."""
        return f"{self.name}#{self.language}"

    @classmethod
    def from_tag(cls, tag: str) -> TemplateRef | None:
        name, _, language = tag.rpartition("#")
        return cls(name, language) if name and language else None


@dataclass(frozen=True)
class Naming:
    """How an event names its template: Meta's id (when it gave one) and its name and language."""

    template_id: str | None
    ref: TemplateRef


# ---- a template's status, event by event (DESIGN §3's table) ---------------------------------------

HOUR_SECONDS = 3600
FIRST_PAUSE_SECONDS = 3 * HOUR_SECONDS  # Meta pauses a Low template 3 h the first time,
LATER_PAUSE_SECONDS = 6 * HOUR_SECONDS  # 6 h the second; the third time it disables it (Meta does, not us)
# A pause end read from a description further than this after the event is a misreading: Meta's pauses
# last hours. The default duration is used instead (never shorter than Meta's).
MAX_READ_PAUSE_SECONDS = 2 * 24 * HOUR_SECONDS
MAX_REASON = 300

FIRST_PAUSE, SECOND_PAUSE, PACING_PAUSE = "FIRST_PAUSE", "SECOND_PAUSE", "RATE_LIMITING_PAUSE"
READ_PAUSE_LABEL = "PAUSED (as Meta's template list shows, until Meta unpauses it)"
# Meta refused a send naming the template (a failed status of a check that named it, DESIGN §4):
# 132015 says it is paused, 132016 disabled, at the status's time. Never Meta's webhook events.
SEND_FAILED_PAUSED, SEND_FAILED_DISABLED = "SEND_FAILED_132015", "SEND_FAILED_132016"


class TemplateStatus(StrEnum):
    APPROVED = "APPROVED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"
    REJECTED = "REJECTED"
    PENDING = "PENDING"
    PENDING_DELETION = "PENDING_DELETION"
    DELETED = "DELETED"
    ARCHIVED = "ARCHIVED"
    FLAGGED = "FLAGGED"
    LOCKED = "LOCKED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    UNKNOWN = "UNKNOWN"  # known by name (e.g. its quality) but no status heard yet: sendable


NOT_APPROVED = frozenset({TemplateStatus.REJECTED, TemplateStatus.PENDING, TemplateStatus.PENDING_DELETION,
                          TemplateStatus.DELETED, TemplateStatus.ARCHIVED})
AT_RISK = frozenset({TemplateStatus.FLAGGED, TemplateStatus.LOCKED, TemplateStatus.LIMIT_EXCEEDED})
SENDABLE = frozenset({TemplateStatus.APPROVED, TemplateStatus.UNKNOWN}) | AT_RISK
# Events that make a template sendable again (UNARCHIVED goes back to the state before archiving).
BACK_TO_APPROVED = frozenset({"APPROVED", "REINSTATED", "UNPAUSE", "UNPAUSED"})
KNOWN_EVENTS = BACK_TO_APPROVED | {s.value for s in TemplateStatus if s is not TemplateStatus.UNKNOWN} | {
    "UNARCHIVED", "IN_APPEAL"}
AT_RISK_EVENTS = frozenset(s.value for s in AT_RISK)


@dataclass(frozen=True)
class StatusReading:
    """One `message_template_status_update` (or a Graph read) as the facet log keeps it."""

    event: str  # Meta's event word, upper case
    title: str | None = None  # other_info.title: FIRST_PAUSE, SECOND_PAUSE, RATE_LIMITING_PAUSE, UNPAUSE…
    until: int | None = None  # a pause's end as Meta's description states it
    reason: str | None = None
    # None: an event Meta sent (a webhook, a refused send); "graph": Meta's current status as a read saw it
    source: str | None = None

    def encode(self) -> str:
        fields = [self.event, self.title, self.until, self.reason] + ([self.source] if self.source else [])
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> StatusReading:
        event, title, until, reason, *source = json.loads(text)
        return cls(event, title, until, reason, source[0] if source else None)


@dataclass(frozen=True)
class StatusFold:
    """A template's status after its events in time order."""

    status: TemplateStatus = TemplateStatus.UNKNOWN
    at: int | None = None  # time of the event that made this status
    paused_until: int | None = None  # None while paused: a pacing pause or a read one, waiting for Meta's word
    pacing: bool = False
    pause_count: int = 0  # quality pauses Meta has told of (FIRST_PAUSE = 1, SECOND_PAUSE = 2)
    reason: str | None = None
    in_appeal: bool = False
    before_archive: StatusFold | None = None

    def at_time(self, now: int) -> TemplateStatus:
        """The status at `now`: a quality pause ends by itself at its time, without a webhook."""
        if self.status is TemplateStatus.PAUSED and self.paused_until is not None and self.paused_until <= now:
            return TemplateStatus.APPROVED
        return self.status

    def label(self) -> str:
        """How history and notifications name this status (a pause with its kind and end)."""
        if self.status is not TemplateStatus.PAUSED:
            return self.status.value
        if self.pacing:
            return "PAUSED (pacing, until Meta unpauses it)"
        if self.paused_until is None:
            return READ_PAUSE_LABEL
        return f"PAUSED ({_ordinal(self.pause_count)} pause) until {_iso(self.paused_until or 0)}"


def _ordinal(count: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(count, f"{count}th")


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pause(state: StatusFold, reading: StatusReading, at: int) -> StatusFold:
    title = (reading.title or "").upper()
    if reading.source is not None:
        # Meta's template list says PAUSED and not which pause: held until Meta's word (the next read that
        # lists it APPROVED, or a webhook), never ended by a guessed duration nor counted as one more pause.
        return replace(state, status=TemplateStatus.PAUSED, at=at, paused_until=None, pacing=False,
                       reason=reading.reason, in_appeal=False)
    if title == PACING_PAUSE:
        # Pacing holds a template until Meta (or its owner) unpauses it: no end to wait for.
        return replace(state, status=TemplateStatus.PAUSED, at=at, paused_until=None, pacing=True,
                       reason=reading.reason, in_appeal=False)
    # Meta's title says which pause this is; without one, it is the next after those we know of.
    count = {FIRST_PAUSE: 1, SECOND_PAUSE: 2}.get(title, state.pause_count + 1)
    until = reading.until or at + (FIRST_PAUSE_SECONDS if count == 1 else LATER_PAUSE_SECONDS)
    return replace(state, status=TemplateStatus.PAUSED, at=at, paused_until=until, pacing=False,
                   pause_count=count, reason=reading.reason, in_appeal=False)


def _kept(state: StatusFold, reading: StatusReading, event: str, at: int) -> StatusFold | None:
    """The state unchanged when the event says nothing new about it, else None."""
    status = state.at_time(at)
    if event == "IN_APPEAL":
        return replace(state, in_appeal=True)
    if event == SEND_FAILED_PAUSED and status is TemplateStatus.PAUSED:
        return state  # Meta's refusal fell inside a pause already known
    if event == SEND_FAILED_DISABLED and status is TemplateStatus.DISABLED:
        return state
    if event == "PAUSED" and reading.source is not None and status is TemplateStatus.PAUSED:
        return state  # a read of Meta's current status during a pause: that same pause, not the next one
    if event in AT_RISK_EVENTS and status not in SENDABLE:
        return state  # at risk never lifts a pause, a disable or a refusal: only Meta's approval does
    if event not in KNOWN_EVENTS and event not in (SEND_FAILED_PAUSED, SEND_FAILED_DISABLED):
        return state  # an event this version does not know: unchanged
    return None


def step(state: StatusFold, reading: StatusReading, at: int) -> StatusFold:
    """The status after one more event (events come in time order)."""
    if state.at_time(at) is not state.status:  # the pause ended by itself before this event
        state = replace(state, status=TemplateStatus.APPROVED, paused_until=None, at=state.paused_until)
    event, title = reading.event.upper(), (reading.title or "").upper()
    kept = _kept(state, reading, event, at)
    if kept is not None:
        return kept
    if event in ("PAUSED", SEND_FAILED_PAUSED):  # a refusal with no pause known: the next one begins
        return _pause(state, reading if event == "PAUSED" else StatusReading("PAUSED", None, None, reading.reason), at)
    plain = replace(state, at=at, paused_until=None, pacing=False, reason=reading.reason, in_appeal=False,
                    before_archive=None)
    if event in BACK_TO_APPROVED or title == "UNPAUSE":
        return replace(plain, status=TemplateStatus.APPROVED)
    if event == "UNARCHIVED":
        back = state.before_archive or StatusFold(TemplateStatus.APPROVED)
        return replace(back, at=at, in_appeal=False, before_archive=None)
    if event == "ARCHIVED":
        return replace(plain, status=TemplateStatus.ARCHIVED, before_archive=replace(state, before_archive=None))
    if event == SEND_FAILED_DISABLED:
        return replace(plain, status=TemplateStatus.DISABLED)
    return replace(plain, status=TemplateStatus(event))  # DISABLED, REJECTED, PENDING, … and FLAGGED, LOCKED, …


@dataclass(frozen=True)
class StatusMove:
    """A change of a template's status made by one facet-log entry."""

    key: str
    at: int
    before: str  # the label just before the entry (a pause that ended by itself reads APPROVED)
    after: StatusFold


def fold(entries: Mapping[str, str]) -> tuple[StatusFold, list[StatusMove]]:
    """The status after a facet log's entries (domain/facetlog.py keys), and every change of label on the way."""
    state, moves = StatusFold(), []
    for key in sorted(entries):
        try:
            reading = StatusReading.decode(entries[key])
        except (ValueError, TypeError):
            continue  # an entry this version cannot read changes nothing
        at = entry_time(key)
        before = state.label() if state.at_time(at) is state.status else TemplateStatus.APPROVED.value
        after = step(state, reading, at)
        if after.label() != before:
            moves.append(StatusMove(key, at, before, after))
        state = after
    return state, moves


def read_status(held: StatusFold, status: str | None, at: int, source: str) -> StatusReading | None:
    """What a read of Meta's current status (the Graph's template list) adds to the log at `at`, or None
    when it says nothing the held state does not (a run over unchanged templates writes nothing).

    The read is one more entry in event-time order (a newer webhook still wins): APPROVED ends any pause,
    a pacing pause included (DESIGN §3); PAUSED during a pause already known is that pause.
    """
    if not isinstance(status, str) or not status.strip():
        return None
    reading = StatusReading(status.strip().upper(), source=source)
    after = step(held, reading, at)
    same = (after.at_time(at), after.in_appeal) == (held.at_time(at), held.in_appeal)
    return None if same else reading


def read_quality(held: Quality, score: str | None) -> str | None:
    """Meta's current quality score of a template when it differs from the held one, else None."""
    value = score.strip().upper() if isinstance(score, str) else ""
    return value if value in Quality.__members__ and value != held.value else None


# ---- the pause's end as Meta words it: "paused for 6 hours until Aug 31 at 12:47 AM UTC" ----------

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_PAUSE_END = re.compile(
    r"\buntil\s+(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(?P<year>\d{4}))?,?"
    r"\s+at\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<half>[AaPp]\.?\s?[Mm]\.?)?\s*(?:UTC|GMT)\b",
)


def pause_end(description: object, at: int) -> int | None:
    """The end time a pause description names, or None when it cannot be read.

    Meta writes no year: the one that puts the time nearest after the event is taken.
    """
    if not isinstance(description, str):
        return None
    found = _PAUSE_END.search(description[:1000])
    if not found:
        return None
    month = _MONTHS.get(found["month"][:3].lower())
    hour, minute, day = int(found["hour"]), int(found["minute"]), int(found["day"])
    if month is None or minute > 59 or (found["half"] and not 1 <= hour <= 12) or hour > 23:
        return None
    if found["half"]:
        hour = hour % 12 + (12 if found["half"][0] in "Pp" else 0)
    year = datetime.fromtimestamp(at, UTC).year
    years = [int(found["year"])] if found["year"] else [year - 1, year, year + 1]
    times = []
    for y in years:
        try:
            times.append(int(datetime(y, month, day, hour, minute, tzinfo=UTC).timestamp()))
        except ValueError:  # e.g. Feb 29 of a year without one
            continue
    after = [t for t in times if t >= at]
    if not after or min(after) - at > MAX_READ_PAUSE_SECONDS:
        return None
    return min(after)


# ---- what a check naming the template is told --------------------------------------------------------


class Block(StrEnum):
    """Why Meta would refuse a send with this template (the check's DENIED_TEMPLATE_* decisions)."""

    PAUSED = "PAUSED"
    DISABLED = "DISABLED"
    NOT_APPROVED = "NOT_APPROVED"


@dataclass(frozen=True)
class TemplateState:
    """A template of a WABA as numberguard knows it: Meta's status, quality and category."""

    waba_id: str
    name: str
    language: str
    template_id: str | None = None
    status: StatusFold = StatusFold()
    quality: Quality = Quality.UNKNOWN
    category: Category | None = None
    quality_at: int | None = None
    category_at: int | None = None

    @property
    def ref(self) -> TemplateRef:
        return TemplateRef(self.name, self.language)

    def block(self, now: int) -> tuple[Block | None, int | None]:
        """(why a send now would be refused, when to retry) or (None, None) when it may go."""
        status = self.status.at_time(now)
        if status is TemplateStatus.PAUSED:
            return Block.PAUSED, self.status.paused_until  # None for a pacing pause: no end known
        if status is TemplateStatus.DISABLED:
            return Block.DISABLED, None
        if status in NOT_APPROVED:
            return Block.NOT_APPROVED, None
        return None, None

    def reason(self, now: int) -> str:
        """The error text of a denial: Meta's status and, where there is one, its reason or code."""
        status = self.status.at_time(now)
        name = f"template {self.name!r} ({self.language})"
        if status is TemplateStatus.PAUSED and self.status.pacing:
            return f"{name} is paused by Meta for pacing (RATE_LIMITING_PAUSE) until it is unpaused; error 132015"
        if status is TemplateStatus.PAUSED and self.status.paused_until is None:
            return f"{name} is paused by Meta (its template list says PAUSED) until it is unpaused; error 132015"
        if status is TemplateStatus.PAUSED:
            return (f"{name} is paused by Meta ({_ordinal(self.status.pause_count)} pause) until "
                    f"{_iso(self.status.paused_until or 0)}; error 132015")
        if status is TemplateStatus.DISABLED:
            return f"{name} is disabled by Meta until it is reinstated; error 132016"
        why = f": {self.status.reason}" if self.status.reason else ""
        return f"{name} is {status.value} at Meta, not approved for sending{why}"

    def warnings(self, now: int) -> list[str]:
        """At risk but sendable: a warning each (never changes the decision)."""
        out = []
        status = self.status.at_time(now)
        name = f"template {self.name!r} ({self.language})"
        if self.quality is Quality.RED:
            out.append(f"TEMPLATE_QUALITY_RED: {name} has quality RED: Meta may pause it (3 h the first time, "
                       "6 h the second, disabled the third)")
        if status in AT_RISK:
            out.append(f"TEMPLATE_{status.value}: {name} is {status.value} at Meta: sendable, at risk")
        return out


def unknown_template_warning(ref: TemplateRef, waba_id: str) -> str:
    return (f"TEMPLATE_UNKNOWN: template {ref.name!r} ({ref.language}) is not known to numberguard for WABA "
            f"{waba_id}: allowed, its status not checked")
