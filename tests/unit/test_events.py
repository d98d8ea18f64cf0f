"""Given the sample payloads in events/ (shared with `sam local invoke`), when they are validated, then
each one is the kind of request its name says."""

from __future__ import annotations

import pytest
from numberguard.domain.check import CheckRequest, InvalidRequest, MessageKind, ReleaseRequest, parse_request

from tests.conftest import EVENTS, load_event

PNID = "106540352242922"


def test_every_limit_check_event_is_covered_here():
    assert sorted(p.name for p in EVENTS.glob("limit_check.*.json")) == [
        "limit_check.batch.json",
        "limit_check.dry_run.json",
        "limit_check.invalid.json",
        "limit_check.release.json",
        "limit_check.session.json",
        "limit_check.template.json",
    ]


@pytest.mark.parametrize(
    ("name", "message", "batch", "dry_run"),
    [
        ("limit_check.template.json", MessageKind.TEMPLATE, False, False),
        ("limit_check.session.json", MessageKind.SESSION, False, False),
        ("limit_check.batch.json", MessageKind.TEMPLATE, True, False),
        ("limit_check.dry_run.json", MessageKind.TEMPLATE, False, True),
    ],
)
def test_check_events(name, message, batch, dry_run):
    request = parse_request(load_event(name))
    assert isinstance(request, CheckRequest)
    assert (request.phone_number_id, request.message, request.batch, request.dry_run) == (PNID, message, batch, dry_run)
    assert "16505551234" in request.recipients


def test_the_batch_event_repeats_a_recipient():
    recipients = parse_request(load_event("limit_check.batch.json")).recipients
    assert len(recipients) > len(set(recipients))


def test_the_release_event_gives_back_the_template_events_slot():
    release = parse_request(load_event("limit_check.release.json"))
    template = parse_request(load_event("limit_check.template.json"))
    assert isinstance(release, ReleaseRequest)
    assert (release.phone_number_id, release.recipient, release.reference) == (
        template.phone_number_id, template.recipients[0], template.reference
    )


def test_the_invalid_event_is_rejected_naming_the_recipient():
    with pytest.raises(InvalidRequest, match="'recipient' is not a phone number"):
        parse_request(load_event("limit_check.invalid.json"))
