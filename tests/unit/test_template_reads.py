"""A read of Meta's template list (the Meta sync) against the template state held: what it adds to the
status and quality logs, and how its entries order among the webhooks' (domain/templates.py,
domain/meta_state.py). Pure: no store."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from numberguard.domain.facetlog import entry_key
from numberguard.domain.meta_state import SOURCE, template_reading
from numberguard.domain.status import Quality
from numberguard.domain.templates import (
    READ_PAUSE_LABEL,
    Category,
    Naming,
    StatusFold,
    StatusReading,
    TemplateRef,
    TemplateState,
    TemplateStatus,
    fold,
    read_quality,
    read_status,
    step,
)

T0 = 1_800_000_000
APPROVED = StatusFold(TemplateStatus.APPROVED, at=T0)
NAMING = Naming("1689556908129832", TemplateRef("order_confirmation", "en_US"))


def after(held: StatusFold, status: str, at: int = T0 + 60) -> StatusFold | None:
    reading = read_status(held, status, at, SOURCE)
    return None if reading is None else step(held, reading, at)


def test_a_read_repeating_the_held_status_adds_nothing():
    assert read_status(APPROVED, "APPROVED", T0 + 60, SOURCE) is None
    disabled = step(APPROVED, StatusReading("DISABLED"), T0)
    assert read_status(disabled, "disabled", T0 + 60, SOURCE) is None
    # nor one Meta's status word this version does not know, nor none at all
    assert read_status(APPROVED, "SOMETHING_NEW", T0 + 60, SOURCE) is None
    assert read_status(APPROVED, None, T0 + 60, SOURCE) is None


def test_a_read_saying_approved_ends_any_pause_a_pacing_pause_included():
    for title in ("FIRST_PAUSE", "SECOND_PAUSE", "RATE_LIMITING_PAUSE"):
        paused = step(APPROVED, StatusReading("PAUSED", title), T0)
        assert after(paused, "APPROVED").status is TemplateStatus.APPROVED, title


def test_a_read_saying_paused_holds_the_template_until_metas_word_and_counts_no_pause():
    paused = after(APPROVED, "PAUSED")
    assert paused.status is TemplateStatus.PAUSED and paused.paused_until is None and not paused.pacing
    assert paused.pause_count == 0 and paused.label() == READ_PAUSE_LABEL
    assert paused.at_time(T0 + 30 * 86400) is TemplateStatus.PAUSED
    # And a read during a pause already known (a webhook's first pause) is that pause: nothing added
    first = step(APPROVED, StatusReading("PAUSED", "FIRST_PAUSE", T0 + 3 * 3600), T0)
    assert read_status(first, "PAUSED", T0 + 60, SOURCE) is None
    # but one after that pause's end says Meta still (or again) pauses it
    assert after(first, "PAUSED", T0 + 4 * 3600).at_time(T0 + 30 * 86400) is TemplateStatus.PAUSED


def test_a_read_in_appeal_marks_it_once():
    rejected = step(APPROVED, StatusReading("REJECTED"), T0)
    appealed = after(rejected, "IN_APPEAL")
    assert appealed.in_appeal and appealed.status is TemplateStatus.REJECTED
    assert read_status(appealed, "IN_APPEAL", T0 + 120, SOURCE) is None


def test_quality_and_category_only_when_they_differ():
    assert read_quality(Quality.GREEN, "GREEN") is None and read_quality(Quality.GREEN, "red") == "RED"
    assert read_quality(Quality.UNKNOWN, "NOT_A_SCORE") is None and read_quality(Quality.RED, None) is None
    held = TemplateState("1", "order_confirmation", "en_US", status=APPROVED, quality=Quality.GREEN,
                         category=Category.UTILITY)
    assert template_reading(held, NAMING, T0, "APPROVED", "GREEN", "UTILITY") is None
    moved = template_reading(held, NAMING, T0, "APPROVED", "GREEN", "MARKETING")
    assert (moved.status, moved.quality, moved.category) == (None, None, Category.MARKETING)
    # A template never heard of: every facet the read names (its status from UNKNOWN)
    new = template_reading(None, NAMING, T0, "PAUSED", "RED", "MARKETING")
    assert new.status.event == "PAUSED" and new.quality == "RED" and new.category is Category.MARKETING


def test_a_read_entry_survives_the_log_and_says_where_it_came_from():
    reading = read_status(APPROVED, "PAUSED", T0, SOURCE)
    assert StatusReading.decode(reading.encode()) == reading and reading.source == "graph"
    # entries written before reads existed (four fields) still decode
    assert StatusReading.decode('["PAUSED","FIRST_PAUSE",null,"NONE"]').source is None


# ---- the ordering rule: a read is one more entry at its time, as a webhook is ------------------------------

WEBHOOK = st.sampled_from([StatusReading("APPROVED"), StatusReading("DISABLED"), StatusReading("REINSTATED"),
                           StatusReading("PAUSED", "FIRST_PAUSE"), StatusReading("PAUSED", "RATE_LIMITING_PAUSE"),
                           StatusReading("FLAGGED"), StatusReading("REJECTED")])
READ = st.sampled_from(["APPROVED", "PAUSED", "DISABLED", "REJECTED", "FLAGGED"])


def _entries(webhooks, reads) -> dict[str, str]:
    entries = {entry_key(at, f"w{i}") + "#hook": r.encode() for i, (at, r) in enumerate(webhooks)}
    entries |= {entry_key(at, f"graph-{i}") + "#graph": StatusReading(s, source=SOURCE).encode()
                for i, (at, s) in enumerate(reads)}
    return entries


@given(webhooks=st.lists(st.tuples(st.integers(T0, T0 + 10_000), WEBHOOK), min_size=1, max_size=6),
       reads=st.lists(st.tuples(st.integers(T0, T0 + 10_000), READ), max_size=6),
       last=st.sampled_from([StatusReading("APPROVED"), StatusReading("DISABLED"), StatusReading("REJECTED")]))
def test_an_older_read_never_overwrites_a_newer_webhook(webhooks, reads, last):
    # Given a webhook newer than every read that settles the status (APPROVED, DISABLED, REJECTED)
    newest = max(at for at, _ in webhooks + reads) + 1
    state, _ = fold(_entries([*webhooks, (newest, last)], reads))
    # Then whatever the reads said before it, the state is that webhook's
    assert state.status is TemplateStatus(last.event) and state.at == newest


@given(webhooks=st.lists(st.tuples(st.integers(T0, T0 + 10_000), WEBHOOK), max_size=6),
       read=st.sampled_from(["APPROVED", "DISABLED", "REJECTED"]))
def test_an_older_webhook_never_overwrites_a_newer_read(webhooks, read):
    newest = max([at for at, _ in webhooks], default=T0) + 1
    state, _ = fold(_entries(webhooks, [(newest, read)]))
    assert state.status is TemplateStatus(read) and state.at == newest


@pytest.mark.parametrize("status", ["APPROVED", "PAUSED", "DISABLED", "REJECTED", "FLAGGED", "IN_APPEAL"])
def test_a_read_applied_makes_the_next_identical_read_add_nothing(status):
    # (a sync over unchanged templates writes nothing)
    for held in (APPROVED, StatusFold(), step(APPROVED, StatusReading("PAUSED", "RATE_LIMITING_PAUSE"), T0)):
        moved = after(held, status) or held
        assert read_status(moved, status, T0 + 120, SOURCE) is None, (held, status)


def test_a_first_read_is_announced_only_when_it_is_not_all_well():
    from numberguard.domain.health import encode
    from numberguard.domain.meta_state import HEALTH, QUALITY, TEMPLATE_QUALITY, TEMPLATE_STATUS, announce_first
    from numberguard.graph.nodes import parse_health

    def health(can_send: str) -> str:
        return encode(parse_health({"can_send_message": can_send}))

    # One rule for numbers and templates: a first value saying all is well is set silently
    assert not announce_first(HEALTH, health("AVAILABLE"))
    assert announce_first(HEALTH, health("BLOCKED")) and announce_first(HEALTH, health("LIMITED"))
    assert not announce_first(TEMPLATE_STATUS, "APPROVED")
    assert announce_first(TEMPLATE_STATUS, "PAUSED") and announce_first(TEMPLATE_STATUS, "DISABLED")
    assert not announce_first(TEMPLATE_QUALITY, "GREEN") and not announce_first(TEMPLATE_QUALITY, "UNKNOWN")
    assert announce_first(TEMPLATE_QUALITY, "RED")
    assert announce_first(QUALITY, "RED")  # other number facets: as before (registration sets them)
