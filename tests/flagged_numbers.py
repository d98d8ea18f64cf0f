"""Numbers flagged by Meta, ready for the evaluator's day-7 outcome (shared by moto and DynamoDB Local tests)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from numberguard import wiring
from numberguard.domain.events import QualityUpdate
from numberguard.domain.facetlog import entry_key

from numberguard_ops.fakes import FakePublisher

WABA = "102290129340398"
DAY = 86_400


def pnid(i: int) -> str:
    return f"1065403522{i:05d}"


def display(i: int) -> str:
    return f"1555078{i:04d}"


def flag_numbers(stack, count: int, publisher: FakePublisher | None = None) -> None:
    """`count` numbers on TIER_10K flagged now (Meta's FLAGGED); the even ones read Medium on day 3.
    What the intake announces goes to `publisher` (a fake: this is the set-up, not what is tested)."""
    parts = wiring.build(stack.settings, clock=wiring.now, publisher=publisher or FakePublisher())
    facets, intake = parts.facets, parts.intake
    at = int(stack.clock())

    def flagged(i: int) -> None:
        stack.register(phone_number_id=pnid(i), display_phone_number=display(i), tier="TIER_10K", quality="GREEN")
        intake.apply([QualityUpdate(WABA, at, f"flag-{i}", display(i), "FLAGGED")])

    with ThreadPoolExecutor(4) as pool:  # numbers of their own: no shared item, so moto stays exact too
        list(pool.map(flagged, range(count)))
    reading = at + 3 * DAY
    for i in range(0, count, 2):
        _, value, latest_at, _ = facets.log(pnid(i), "quality", entry_key(reading, "reading"), "YELLOW",
                                            lambda: "RED")
        facets.stores.numbers.set_facet(pnid(i), "quality", {"quality": value}, (), latest_at)


def expected(count: int) -> Counter:
    """The notifications of the day-7 outcomes: every number Connected again, the odd ones one tier lower."""
    return Counter({"FLAG_OUTCOME": count, "STATUS_CHANGED": count, "LIMIT_CHANGED": count // 2})


def outcome_state(count: int) -> dict[str, tuple]:
    """(flagged_at, tier) per number as stored (in the tables the environment names)."""
    show = wiring.parts().numbers.show

    return {pnid(i): (show(pnid(i))["flagged_at"], show(pnid(i))["tier"]) for i in range(count)}


def expected_state(count: int) -> dict[str, tuple]:
    return {pnid(i): (None, "TIER_10K" if i % 2 == 0 else "TIER_1K") for i in range(count)}
