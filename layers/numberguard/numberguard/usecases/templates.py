"""Applies Meta's template webhooks: each template's status and quality logs, its state, its history and
the TEMPLATE_STATUS_CHANGED notices (once each).

Like a number's facets (usecases/intake.py), each template facet keeps a log of its events by event
time (domain/facetlog.py): the state written is the fold of the whole log, so retries and any delivery
order end in the same state, and each change is recorded once under a stable id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from numberguard.domain import events as ev
from numberguard.domain.changes import Change, TemplateOf
from numberguard.domain.check import RecipientView
from numberguard.domain.facetlog import entry_key, entry_time, insert, latest, touched, transitions
from numberguard.domain.meta_state import REASON as GRAPH_REASON
from numberguard.domain.meta_state import SOURCE as GRAPH
from numberguard.domain.meta_state import TEMPLATE_QUALITY, TEMPLATE_STATUS, TemplateReading, announce_first
from numberguard.domain.templates import (
    SEND_FAILED_DISABLED,
    SEND_FAILED_PAUSED,
    Naming,
    StatusFold,
    StatusMove,
    StatusReading,
    TemplateRef,
    TemplateState,
    TemplateStatus,
    fold,
)
from numberguard.notify.messages import TEMPLATE_STATUS_CHANGED, notification_from_document, template_document
from numberguard.notify.publisher import Publisher
from numberguard.observability import logger
from numberguard.store.facetlogs import LogConflict
from numberguard.usecases.facets import PublishDeferred
from numberguard.usecases.ports import Stores

LOG_RETRIES = 16
STATUS_FIELD = "message_template_status_update"
QUALITY_FIELD = "message_template_quality_update"
PAUSE_ENDED = "PAUSE_ENDED"  # the evaluator's announcement of a timed pause's end: `<pause entry key>#PAUSE_ENDED`
PAUSE_ENDED_REASON = "the pause ended at its end time (Meta sends no webhook for it)"
PAUSE_END_HORIZON = 7 * 86400  # an older end is history, not news (e.g. pauses from before ends were announced)


def _key(event: ev.Event, label: str) -> str:
    return f"{entry_key(event.at, event.dedup_key)}#{label}"


def _reason(key: str) -> str:
    parts = key.split("#", 2)
    if len(parts) == 3 and parts[2].startswith(f"{GRAPH}#"):
        return GRAPH_REASON
    return parts[2].replace("#", " ") if len(parts) == 3 else STATUS_FIELD


def notable(change: Change) -> bool:
    """What people are told of (DESIGN §5): a pause, a disable, a reinstatement or unpause, quality RED.

    Decided by the change's own event and state, never by the state before it: that depends on the
    order Meta's deliveries arrive in, and the notices must not. A Graph read has no event word for
    "unpaused": its APPROVED ending a pause or a disable is one (its entry is written only when the read
    differs from the state held then, so it is announced once whatever arrives later).
    """
    event = set((change.key or "").split("#")[2:])  # the labelled key names the event and its title
    ended = GRAPH in event and (change.before or "").startswith(("PAUSED", "DISABLED"))
    return (change.after or "").startswith(("PAUSED", "DISABLED")) or change.after == "quality RED" or (
        change.after == TemplateStatus.APPROVED and (ended or bool(event & {"REINSTATED", "UNPAUSE", "UNPAUSED",
                                                                             PAUSE_ENDED})))


@dataclass
class _Group:
    naming: Naming  # the latest event's id and spelling
    at: int
    events: list = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)


class TemplateIntake:
    def __init__(self, stores: Stores, publisher: Publisher, clock: Callable[[], float]):
        self.history = stores.history
        self.logs = stores.logs
        self.templates = stores.templates
        self.publisher = publisher
        self.clock = clock

    # ---- grouping by template ----------------------------------------------------------------------

    def _naming(self, event: ev.TemplateStatusUpdate | ev.TemplateQuality, counts: Counter) -> Naming | None:
        template_id = event.template_id or None
        if event.template_name and event.template_language:
            return Naming(template_id, TemplateRef(event.template_name, event.template_language))
        ref = self.templates.ref_of_id(event.waba_id, template_id) if template_id else None
        if ref is None:
            counts["template_not_known_by_id"] += 1
            logger.warning("template event names a template by an id never seen with its name",
                           extra={"waba_id": event.waba_id, "template_id": template_id})
            return None
        return Naming(template_id, ref)

    def _groups(self, events: Iterable, pair: Callable, counts: Counter) -> dict[tuple, _Group]:
        groups: dict[tuple, _Group] = {}
        for event in events:
            naming = self._naming(event, counts)
            if naming is None:
                continue
            group = groups.setdefault((event.waba_id, naming.ref.key), _Group(naming, event.at))
            group.events.append(event)
            group.pairs.append(pair(event))
            if event.at >= group.at:  # the latest event's spelling and id
                group.naming, group.at = Naming(naming.template_id or group.naming.template_id, naming.ref), event.at
        return groups

    # ---- message_template_status_update ---------------------------------------------------------

    def status_updates(self, events: list[ev.TemplateStatusUpdate], counts: Counter,
                       read: bool = False) -> list[Change]:
        """`read`: the events are the Meta sync's reads. Their state is written after the announcements (a run
        cut short finds the difference again; a webhook's retry redoes its own entries whatever the state, so
        the intake writes it first), and a template's first status is announced only when it is not APPROVED
        (domain/meta_state.py: announce_first)."""
        for event in events:
            counts[f"template_{event.reading.event.lower()}"] += 1
        groups = self._groups(events, lambda e: (_key(e, _label(e)), e.reading.encode()), counts)
        changes: list[Change] = []
        now = int(self.clock())
        for (waba, _), group in groups.items():
            name = self.templates.subject(waba, group.naming.ref)
            entries, version = self._log(name, "status", group.pairs)
            status, moves = fold(entries)
            self.templates.remember(waba, group.naming, now)
            if not read:
                self._write_status(waba, group.naming, status, version, counts)
            # Every change from the earliest new entry on: a template's state carries over (a pause's kind,
            # what came before archiving), and entries that change nothing (IN_APPEAL) may lie between.
            # Already recorded changes are skipped by their id; in time order this is the new entry's own.
            earliest = min(k for k, _ in group.pairs)
            mine = [m for m in moves if m.key >= earliest and not (
                read and m.before == TemplateStatus.UNKNOWN.value and not announce_first(
                    TEMPLATE_STATUS, m.after.status.value))]
            changes += self._announce(waba, group.naming, [_status_change(name, m) for m in mine], mine, counts)
            if read:
                self._write_status(waba, group.naming, status, version, counts)
            self._category(waba, group, counts)
        return changes

    def _write_status(self, waba: str, naming: Naming, status: StatusFold, version: int, counts: Counter) -> None:
        if not self.templates.write_status(waba, naming, status, version):
            counts["template_status_stale"] += 1

    def _category(self, waba: str, group: _Group, counts: Counter) -> None:
        """Meta's category of the template: the latest event's that names one."""
        named = [e for e in group.events if e.category is not None]
        if not named:
            return
        event = max(named, key=lambda e: (e.at, e.dedup_key))
        if not self.templates.write_category(waba, group.naming, event.category, event.at):
            counts["template_category_stale"] += 1

    # ---- failed statuses 132015 / 132016 of sends whose check named the template -------------------

    def refused_sends(self, events: list[ev.MessageStatus], record: Callable[[str, str], RecipientView | None],
                      counts: Counter) -> list[Change]:
        """Meta refused sends for their template: marked only through the counted record of the check
        that took the slot by this reference and named a template (no write was added to the check)."""
        updates = []
        for event in events:
            found = record(event.phone_number_id, event.recipient) if event.recipient else None
            ref = TemplateRef.from_tag(found.sent_template) if found and found.sent_template else None
            if ref is None or found is None or found.slot_reference != event.reference:
                counts["template_refusal_unnamed"] += 1
                continue
            code = SEND_FAILED_DISABLED if 132016 in event.error_codes else SEND_FAILED_PAUSED
            updates.append(ev.TemplateStatusUpdate(event.waba_id, event.at, f"{event.dedup_key}#{code}", None,
                                                   ref.name, ref.language, StatusReading(code)))
        return self.status_updates(updates, counts) if updates else []

    # ---- message_template_quality_update --------------------------------------------------------

    def quality_updates(self, events: list[ev.TemplateQuality], counts: Counter, label: str = QUALITY_FIELD,
                        read: bool = False) -> list[Change]:
        """`read`: as for status_updates (the state written last, a first GREEN set silently)."""
        counts["template_quality"] += len(events)
        groups = self._groups(events, lambda e: (_key(e, label), e.new), counts)
        changes: list[Change] = []
        now = int(self.clock())
        for (waba, _), group in groups.items():
            name = self.templates.subject(waba, group.naming.ref)
            entries, version = self._log(name, "quality", group.pairs)
            value, at = latest(entries, None)
            self.templates.remember(waba, group.naming, now)
            if not read:
                self._write_quality(waba, group.naming, value, at, version, counts)
            moves = [t for t in touched(transitions(entries, None), entries, {k for k, _ in group.pairs})
                     if not (read and t.before is None and not announce_first(TEMPLATE_QUALITY, t.after))]
            made = [Change(name, TEMPLATE_STATUS_CHANGED, t.at, f"quality {t.before}" if t.before else None,
                           f"quality {t.after}", _reason(t.key), severity="WARNING" if t.after == "RED" else "INFO",
                           key=t.key) for t in moves]
            changes += self._announce(waba, group.naming, made, [None] * len(made), counts)
            if read:
                self._write_quality(waba, group.naming, value, at, version, counts)
        return changes

    def _write_quality(self, waba: str, naming: Naming, value: str | None, at: int | None, version: int,
                       counts: Counter) -> None:
        if not self.templates.write_quality(waba, naming, value or "UNKNOWN", at, version):
            counts["template_quality_stale"] += 1

    # ---- Meta's current word: the Graph's template list, read by the Meta sync (DESIGN §5b) ---------

    def graph_reads(self, waba_id: str, readings: Sequence[TemplateReading], counts: Counter) -> list[Change]:
        """Each template's differences from the Graph as entries of its status and quality logs at the read
        time (source `graph`), folded and announced as Meta's webhooks are; the state is written last.

        A read whose entries were logged by a run that failed before writing the state reuses that entry's
        time (its key), so the change it makes keeps its id and is announced once.
        """
        statuses, qualities = [], []
        for read in readings:
            name, ref = self.templates.subject(waba_id, read.naming.ref), read.naming.ref
            if read.status is not None:
                at = self._pending_at(name, TEMPLATE_STATUS, read.status.encode(), read)
                statuses.append(ev.TemplateStatusUpdate(waba_id, at, f"{GRAPH}-status", read.naming.template_id,
                                                        ref.name, ref.language, read.status, read.category))
            elif read.category is not None and not self.templates.write_category(waba_id, read.naming,
                                                                                  read.category, read.at):
                counts["template_category_stale"] += 1
            if read.quality is not None:
                at = self._pending_at(name, TEMPLATE_QUALITY, read.quality, read)
                qualities.append(ev.TemplateQuality(waba_id, at, f"{GRAPH}-quality", read.naming.template_id or "",
                                                    ref.name, None, read.quality, ref.language))
        changes = self.status_updates(statuses, counts, read=True) if statuses else []
        if qualities:
            changes += self.quality_updates(qualities, counts, f"{GRAPH}#quality", read=True)
        return changes

    def _pending_at(self, name: str, facet: str, value: str, read: TemplateReading) -> int:
        """The time of the log's last entry when it is a Graph read of this same value that the held state
        never took (a run cut short), else the read time."""
        entries = self.logs.read(name, facet).entries
        last = max(entries) if entries else None
        if last is not None and entries[last] == value and last.split("#")[2:3] == [GRAPH] \
                and entry_time(last) != read.held_at(facet):
            return entry_time(last)
        return read.at

    # ---- a timed pause's end (the evaluator, DESIGN §3: the check allows again at the end) -----------

    def pause_end(self, template: TemplateState, now: int, counts: Counter) -> tuple[list[Change], int | None]:
        """Announce once each timed pause (FIRST_PAUSE / SECOND_PAUSE) of the template that ended by itself by
        `now` → (the changes recorded, when to look again: the end of a pause still running, else None).

        Decided by the status log, not the item: each change's id derives from its pause's own log entry, so
        a re-run or a second run at once records (and publishes) it once; a pause Meta ended or replaced
        first announces nothing here, and a status event after the end (before this run) hides no end.
        """
        name = self.templates.subject(template.waba_id, template.ref)
        status, moves = fold(self.logs.read(name, "status").entries)
        made = []
        for move, after in zip(moves, [*moves[1:], None], strict=True):
            until = move.after.paused_until
            timed = move.after.status is TemplateStatus.PAUSED and until is not None
            if not timed or until is None or not now - PAUSE_END_HORIZON < until <= now:
                continue
            if after is not None and after.at < until:
                continue  # Meta unpaused, paused again or disabled it before the end
            made.append(Change(name, TEMPLATE_STATUS_CHANGED, until, move.after.label(), TemplateStatus.APPROVED.value,
                               PAUSE_ENDED_REASON, key=f"{move.key}#{PAUSE_ENDED}"))
        if made:
            counts["template_pause_ended"] += len(made)
        running = status.status is TemplateStatus.PAUSED and (status.paused_until or 0) > now
        changes = self._announce(template.waba_id, Naming(template.template_id, template.ref), made,
                                 [None] * len(made), counts) if made else []
        return changes, status.paused_until if running else None

    # ---- shared ---------------------------------------------------------------------------------------

    def _log(self, name: str, facet: str, pairs: list[tuple[str, str]]) -> tuple[dict[str, str], int]:
        """Add a batch's entries to a template's facet log → (entries, the log's version after)."""
        for _ in range(LOG_RETRIES):
            log = self.logs.read(name, facet)
            entries, changed = dict(log.entries), False
            for key, value in pairs:
                entries, added = insert(entries, key, value)
                changed = changed or added
            if not changed:
                return entries, log.version
            try:
                self.logs.write(log, entries, None)
            except LogConflict:
                continue
            return entries, log.version + 1
        raise LogConflict(f"{name}/{facet} stayed contended")

    def _announce(self, waba: str, naming: Naming, changes: list[Change], moves: Sequence[StatusMove | None],
                  counts: Counter) -> list[Change]:
        """Each change into the template's history once; the notable ones published (the rest kept as history)."""
        recorded = []
        now = int(self.clock())
        which = TemplateOf(waba, naming.ref.name, naming.ref.language)
        for made, move in zip(changes, moves, strict=True):
            change = replace(made, template=which)
            until = move.after.paused_until if move is not None else None
            document = template_document(change, waba, naming.ref, naming.template_id, until)
            if not self.history.record_change(change, document, now):
                counts["change_already_recorded"] += 1
                continue
            recorded.append(change)
            if not notable(change):
                # History only, never a notice: out of the outbox at once.
                self.history.mark_entry_published(change.phone_number_id, change.sort_key, published=False)
                counts["template_history_only"] += 1
                continue
            try:
                self.publisher.publish(notification_from_document(document))
            except PublishDeferred:  # no topic here (e.g. the CLI): the evaluator publishes the outbox
                counts["publish_deferred"] += 1
                continue
            except Exception:  # kept in the outbox: the evaluator publishes it later
                logger.exception("publish failed; kept in the outbox", extra={"notification_id": change.id})
                counts["publish_deferred"] += 1
                continue
            self.history.mark_published(change)
        return recorded


def _label(event: ev.TemplateStatusUpdate) -> str:
    """What reported an entry: the field, Meta's event and its title (e.g. `...#APPROVED#UNPAUSE`)."""
    if event.reading.event in (SEND_FAILED_PAUSED, SEND_FAILED_DISABLED):
        return f"messages#failed#{event.reading.event.rsplit('_', 1)[1]}"
    if event.reading.source:  # a read of Meta's current status (the Meta sync): `graph#PAUSED`
        return f"{event.reading.source}#{event.reading.event}"
    title = f"#{event.reading.title}" if event.reading.title else ""
    return f"{STATUS_FIELD}#{event.reading.event}{title}"


def _status_change(name: str, move: StatusMove) -> Change:
    after = move.after.label()
    severity = "CRITICAL" if after == "DISABLED" else "WARNING" if after.startswith("PAUSED") else "INFO"
    return Change(name, TEMPLATE_STATUS_CHANGED, move.at, move.before, after, _reason(move.key), severity=severity,
                  key=move.key)

