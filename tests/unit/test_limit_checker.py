"""Given a number and what the store holds, when the check answers, then every decision code of the
contract (and the two store-unavailable ones, and the release answers) comes out for its case, with
the status shown by precedence, under both limit policies. The store is an in-memory fake."""

from __future__ import annotations

import pytest
from numberguard.config import FailMode, Settings
from numberguard.domain.check import Decision
from numberguard.domain.facetlog import entry_key
from numberguard.domain.health import CanSend, Health, HealthEntity, HealthError
from numberguard.domain.number import NumberState, scope_key
from numberguard.domain.pairrate import PairState, after_strike
from numberguard.domain.refusals import Hold
from numberguard.domain.status import Connection, Quality
from numberguard.domain.templates import StatusReading, TemplateState, fold
from numberguard.domain.tiers import Policy
from numberguard.usecases.limit_check import LimitChecker

from tests.unit.fakes import FakeLimitStore

PNID, WABA, DISPLAY, PORTFOLIO = "106540352242922", "102290129340398", "15550783881", "506914307656634"
R, OTHER = "16505551234", "16505550000"
START = 1_800_000_000
W = 600
HOUR, DAY = 3600, 86400
BIZ = "RESTRICTED_BIZ_INITIATED_MESSAGING"
REPLIES = "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"


class World:
    def __init__(self, policy: Policy, *, limit: int | None = 2, fail_mode: FailMode = FailMode.CLOSED, **facets):
        self.clock_now = START + 100
        self.store = FakeLimitStore()
        self.number = NumberState(PNID, WABA, DISPLAY, scope_key(policy, PNID, PORTFOLIO), PORTFOLIO,
                                  quality=Quality.GREEN, **facets)
        self.store.add(self.number, limit, "TIER_UNLIMITED" if limit is None else str(limit))
        self.checker = LimitChecker(self.store, Settings(policy=policy, fail_mode=fail_mode),
                                    clock=lambda: self.clock_now)

    def ask(self, recipient: str = R, message: str = "template", **extra) -> dict:
        return self.checker.handle({"phone_number_id": PNID, "recipient": recipient, "message": message, **extra})

    def release(self, recipient: str = R, reference: str = "send-1") -> dict:
        return self.checker.handle(
            {"action": "release", "phone_number_id": PNID, "recipient": recipient, "reference": reference}
        )

    def open_window(self, recipient: str = R) -> None:
        self.store.windows[(PNID, recipient)] = self.clock_now + HOUR

    def fill(self, count: int) -> None:
        for i in range(count):
            assert self.ask(f"1650000{i:04d}")["decision"] == "ALLOWED_NEW_RECIPIENT"


@pytest.fixture(params=[Policy.PER_NUMBER, Policy.PORTFOLIO], ids=["per-number", "portfolio"])
def policy(request) -> Policy:
    return request.param


def scenario_new(world):
    return world.ask()


def scenario_repeat_same_bucket(world):
    world.ask()
    return world.ask()


def scenario_repeat_newer_bucket(world):
    world.ask()
    world.clock_now += W
    return world.ask()


def scenario_service_window(world):
    world.fill(2)  # the limit is reached: replies still go
    world.open_window()
    return world.ask(message="session")


def scenario_unlimited(world):
    return world.ask()


def scenario_limit_reached(world):
    world.fill(2)
    return world.ask()


def scenario_window_closed(world):
    return world.ask(message="session")


def scenario_plain(world):
    return world.ask()


def scenario_unknown_number(world):
    return world.checker.handle({"phone_number_id": "999", "recipient": R, "message": "template"})


def scenario_invalid(world):
    return world.ask(message="marketing")


def _with_template(*readings):
    def scenario(world):
        entries = {entry_key(START + i, f"k{i}"): r.encode() for i, r in enumerate(readings)}
        world.store.templates[(WABA, ("order_confirmation", "en_us"))] = TemplateState(
            WABA, "order_confirmation", "en_US", status=fold(entries)[0])
        return world.ask(template={"name": "order_confirmation", "language": "en-US"})
    scenario.__name__ = f"scenario_template_{readings[-1].event.lower()}"
    return scenario


scenario_template_paused = _with_template(StatusReading("PAUSED", "FIRST_PAUSE"))
scenario_template_disabled = _with_template(StatusReading("DISABLED"))
scenario_template_rejected = _with_template(StatusReading("REJECTED"))


def scenario_marketing_to_cooled_person(world):
    world.store.cooldowns[(f"portfolio:{PORTFOLIO}", R)] = world.clock_now + 5 * HOUR
    return world.ask(category="marketing")


def scenario_pair_rate(world):
    world.store.pairs[(PNID, R)] = after_strike(PairState(), "wamid.1", world.clock_now - 1) or PairState()
    world.ask()  # Meta refused a send 1 s ago: back off 4^0 s
    world.store.pairs[(PNID, R)] = after_strike(world.store.pairs[(PNID, R)], "wamid.2", world.clock_now) or PairState()
    return world.ask()  # a repeat: 4^1 s


def scenario_store_down(world):
    world.store.down = True
    return world.ask()


def scenario_released(world):
    world.ask(reference="send-1")
    return world.release()


def scenario_nothing_to_release(world):
    world.ask(reference="send-1")
    world.ask(reference="send-2")  # a later send to R keeps R counted: send-1's slot is no longer its own
    return world.release()


BLOCKED_WABA = Health(CanSend.BLOCKED, (HealthEntity("WABA", WABA, CanSend.BLOCKED, (
    HealthError(141006, "There is an error with the payment method.", "Add a new payment method."),)),))


# (decision, scenario, World options, expected status, expected retry_after_seconds)
CASES = [
    ("ALLOWED_NEW_RECIPIENT", scenario_new, {}, "CONNECTED", None),
    ("ALLOWED_ALREADY_COUNTED", scenario_repeat_same_bucket, {}, "CONNECTED", None),
    ("ALLOWED_ALREADY_COUNTED", scenario_repeat_newer_bucket, {"flagged_at": START - HOUR}, "FLAGGED", None),
    ("ALLOWED_SERVICE_WINDOW", scenario_service_window, {}, "RESTRICTED", None),
    ("ALLOWED_UNLIMITED", scenario_unlimited, {"limit": None}, "CONNECTED", None),
    ("DENIED_LIMIT_REACHED", scenario_limit_reached, {}, "RESTRICTED", DAY + W - 100),
    ("DENIED_WINDOW_CLOSED", scenario_window_closed, {}, "CONNECTED", None),
    ("DENIED_BANNED", scenario_plain, {"banned": True, "connection": Connection.OFFLINE}, "BANNED", None),
    ("DENIED_PENDING", scenario_plain, {"connection": Connection.PENDING, "flagged_at": START}, "PENDING", None),
    ("DENIED_OFFLINE", scenario_plain, {"connection": Connection.OFFLINE, "restrictions": {BIZ: START + DAY}},
     "OFFLINE", None),
    ("DENIED_BLOCKED_BY_META", scenario_plain, {"health": BLOCKED_WABA, "flagged_at": START}, "BLOCKED", None),
    ("DENIED_ACCOUNT_RESTRICTED", scenario_plain, {"restrictions": {BIZ: START + 2 * HOUR}}, "RESTRICTED",
     2 * HOUR - 100),
    ("DENIED_SPAM_RATE_LIMITED", scenario_plain, {"hold": Hold(START, START + HOUR)}, "CONNECTED", HOUR - 100),
    ("DENIED_RECIPIENT_COOLDOWN", scenario_marketing_to_cooled_person, {}, "CONNECTED", 5 * HOUR),
    ("DENIED_UNKNOWN_NUMBER", scenario_unknown_number, {}, None, None),
    ("DENIED_TEMPLATE_PAUSED", scenario_template_paused, {}, "CONNECTED", 3 * HOUR - 100),
    ("DENIED_TEMPLATE_DISABLED", scenario_template_disabled, {}, "CONNECTED", None),
    ("DENIED_TEMPLATE_NOT_APPROVED", scenario_template_rejected, {}, "CONNECTED", None),
    ("DENIED_PAIR_RATE", scenario_pair_rate, {}, "CONNECTED", 4),
    ("INVALID_REQUEST", scenario_invalid, {}, None, None),
    ("DENIED_STORE_UNAVAILABLE", scenario_store_down, {}, None, None),
    ("ALLOWED_STORE_UNAVAILABLE", scenario_store_down, {"fail_mode": FailMode.OPEN}, None, None),
    ("RELEASED", scenario_released, {}, "CONNECTED", None),
    ("NOTHING_TO_RELEASE", scenario_nothing_to_release, {}, "CONNECTED", None),
]


@pytest.mark.parametrize(("decision", "scenario", "options", "status", "retry_after"), CASES,
                         ids=[f"{c[0]}-{c[1].__name__.removeprefix('scenario_')}" for c in CASES])
def test_every_decision_for_its_case(policy, decision, scenario, options, status, retry_after):
    # Given a number (limit 2 unless said otherwise) in the case's state
    world = World(policy, **options)
    # When the case's request is answered
    answer = scenario(world)
    # Then the decision, whether it allows, the status shown and the retry time are the case's
    assert answer["decision"] == decision, answer
    assert answer["allowed"] is Decision(decision).allowed
    assert answer["status"] == status, answer
    assert answer["retry_after_seconds"] == retry_after, answer
    assert answer["warnings"] == [], answer  # every answer carries the list, empty with nothing to say
    if decision in ("DENIED_UNKNOWN_NUMBER", "INVALID_REQUEST", "DENIED_STORE_UNAVAILABLE", "DENIED_BLOCKED_BY_META",
                    "DENIED_TEMPLATE_PAUSED", "DENIED_TEMPLATE_DISABLED", "DENIED_TEMPLATE_NOT_APPROVED",
                    "DENIED_PAIR_RATE",
                    "ALLOWED_STORE_UNAVAILABLE", "NOTHING_TO_RELEASE", "DENIED_SPAM_RATE_LIMITED",
                    "DENIED_RECIPIENT_COOLDOWN"):
        assert answer["error"], answer


def test_the_cases_cover_every_decision_code():
    assert {c[0] for c in CASES} == {d.value for d in Decision}


def test_the_limit_is_shared_by_the_portfolio_and_not_across_numbers():
    # Given two numbers of one portfolio, limit 2, under each policy
    for policy, second_allowed in ((Policy.PORTFOLIO, False), (Policy.PER_NUMBER, True)):
        world = World(policy)
        sibling = NumberState("106540352242923", WABA, DISPLAY, scope_key(policy, "106540352242923", PORTFOLIO),
                              PORTFOLIO)
        world.store.add(sibling, 2, "2")
        world.fill(2)
        # When the sibling sends to a new recipient
        answer = world.checker.handle({"phone_number_id": sibling.phone_number_id, "recipient": R,
                                       "message": "template"})
        # Then it shares the first number's count only under the portfolio policy
        assert answer["allowed"] is second_allowed, (policy, answer)


def test_a_limit_reached_frees_when_the_oldest_bucket_ends_24_hours_later(policy):
    world = World(policy)
    world.fill(2)
    denied = world.ask()
    # 24 h after the end of the bucket of the first sends, the slot frees, not a second earlier
    world.clock_now += denied["retry_after_seconds"] - 1
    assert world.ask()["decision"] == "DENIED_LIMIT_REACHED"
    world.clock_now += 1
    assert world.ask()["decision"] == "ALLOWED_NEW_RECIPIENT"


def test_a_dry_run_answers_without_counting(policy):
    world = World(policy)
    assert world.ask(dry_run=True)["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert world.store.counters[world.number.scope].used == 0 and not world.store.counted
    world.fill(2)
    assert world.ask(dry_run=True)["decision"] == "DENIED_LIMIT_REACHED"


def test_a_batch_answers_each_recipient_in_order(policy):
    world = World(policy)
    world.open_window(OTHER)
    answer = world.checker.handle({"phone_number_id": PNID, "message": "template",
                                   "recipients": [R, OTHER, "16505550001", "16505550002", R]})
    assert [r["decision"] for r in answer["results"]] == [
        "ALLOWED_NEW_RECIPIENT", "ALLOWED_SERVICE_WINDOW", "ALLOWED_NEW_RECIPIENT", "DENIED_LIMIT_REACHED",
        "ALLOWED_NEW_RECIPIENT",
    ]
    assert (answer["decision"], answer["allowed_count"], answer["denied_count"]) == ("MIXED", 4, 1)


@pytest.mark.parametrize("fail_mode", [None, FailMode.CLOSED])
def test_every_batch_result_carries_warnings(policy, fail_mode):
    world = World(policy)
    world.store.down = fail_mode is not None
    answer = world.checker.handle({"phone_number_id": PNID, "message": "template", "recipients": [R, OTHER, R]})
    assert answer["warnings"] == []
    assert [r["warnings"] for r in answer["results"]] == [[], [], []]
