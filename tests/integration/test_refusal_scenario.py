"""A day of refusals on a fake clock (the real intake and check on moto, time moved by the test): a
campaign meets 131048 and is held, its batches denied with the hold's end, and it resumes when the hold
ends with no webhook; a marketing resend to a person Meta refused with 131049 is denied for 24 h while
a utility message to them goes. (The same story as a `simulate` file: events/scenarios/refusals.json.)"""

from __future__ import annotations

from collections import Counter

from numberguard.domain.events import MessageStatus

PNID, WABA = "106540352242922", "102290129340398"
HOUR, DAY = 3600, 86400


def refusal(at: int, code: int, recipient: str) -> MessageStatus:
    wamid = f"wamid.scenario{at}{code}"
    return MessageStatus(WABA, at, f"{wamid}#failed", PNID, recipient, wamid, "failed", None, (code,))


def campaign(checker, first: int, size: int, category: str = "marketing") -> Counter:
    answer = checker.handle({"phone_number_id": PNID, "message": "template", "category": category,
                             "recipients": [f"1999{first + i:08d}" for i in range(size)]})
    return Counter(r["decision"] for r in answer["results"])


def test_a_held_campaign_resumes_when_the_hold_ends_and_a_cooled_person_gets_utility_only(moto_stack, monkeypatch):
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    monkeypatch.setattr("numberguard.usecases.intake.PARALLEL_WRITES", 1)  # moto: one write at a time
    moto_stack.register(tier="TIER_10K")
    parts = build(moto_stack.settings, clock=moto_stack.clock, publisher=FakePublisher())
    clock, checker, intake = moto_stack.clock, parts.limit_checker, parts.intake
    start = int(clock())
    # The campaign's first batch goes; then Meta refuses one of its sends with 131048
    assert campaign(checker, 0, 100) == {"ALLOWED_NEW_RECIPIENT": 100}
    clock.advance(300)
    summary = intake.apply([refusal(start + 290, 131048, "199900000042")])
    assert summary.counts["hold_began"] == 1 and [c.type for c in summary.changes] == ["NUMBER_ON_HOLD"]
    # Every later batch is held, each answer naming the hold's end (refusal + 60 min)
    for _ in range(3):
        clock.advance(15 * 60)
        answer = checker.handle({"phone_number_id": PNID, "recipients": ["16505550001", "16505550002"],
                                 "message": "template", "category": "marketing"})
        assert answer["decision"] == "DENIED_SPAM_RATE_LIMITED"
        assert answer["retry_after_seconds"] == start + 290 + HOUR - int(clock())
    # The hold ends by itself: the campaign resumes with no webhook
    clock.now = float(start + 290 + HOUR)
    assert campaign(checker, 100, 100) == {"ALLOWED_NEW_RECIPIENT": 100}
    # Meta refuses a marketing message to one of them with 131049
    person = "199900000150"
    clock.advance(60)
    assert intake.apply([refusal(int(clock()) - 10, 131049, person)]).counts["cooldown_started"] == 1
    refused_at = int(clock()) - 10

    def ask(category: str) -> dict:
        return checker.handle({"phone_number_id": PNID, "recipient": person, "message": "template",
                               "category": category})

    assert (ask("marketing")["decision"], ask("marketing")["retry_after_seconds"]) == (
        "DENIED_RECIPIENT_COOLDOWN", DAY - 10)
    assert ask("utility")["decision"] == "ALLOWED_ALREADY_COUNTED"  # counted by the campaign: it goes
    clock.now = float(refused_at + DAY - 1)
    assert ask("marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"
    assert ask("utility")["allowed"] is True
    clock.now = float(refused_at + DAY)
    assert ask("marketing")["allowed"] is True
    # No second NUMBER_ON_HOLD was recorded
    history = parts.stores.history.history(PNID)
    assert [h["type"] for h in history].count("NUMBER_ON_HOLD") == 1
