"""Meta's pair-rate refusals (131056) → the (number, person) pair's backoff (DESIGN §3, row 6).

A failed status with error 131056 says: too many messages from this number to this person in a short
time. The intake records it on the pair's item under the person's key (store/pairs.py), whatever
PairRateGuard says; the check denies every send to the person (any of its linked ids) with
DENIED_PAIR_RATE until the backoff ends (domain/pairrate.py). Either webhook generation (a phone
`recipient_id`, a `recipient_user_id`), any order, duplicates harmless: the backoff is a function of
the set of refusals, keyed by message id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from numberguard.domain import events as ev
from numberguard.domain.people import key_of, kind_of, link_space
from numberguard.usecases.ports import NumberPort, PairPort, PeopleFolds

PAIR_RATE_HIT = 131056


class PairStrikes:
    def __init__(self, pairs: PairPort, people: PeopleFolds | None, numbers: NumberPort, clock: Callable[[], float]):
        self.pairs = pairs
        self.people = people  # links: the person's key (None: every id is its own person)
        self.numbers = numbers  # a number's portfolio and WABA: where its links live
        self.clock = clock

    def apply(self, events: Iterable[ev.MessageStatus], counts: Counter) -> None:
        """Record each 131056 refusal on its pair (after the batch's links are written)."""
        refused = [e for e in events if e.status.lower() == "failed" and PAIR_RATE_HIT in e.error_codes]
        if not refused:
            return
        now = int(self.clock())
        spaces: dict[str, str] = {}
        for event in sorted(refused, key=lambda e: (e.at, e.dedup_key)):
            ids = sorted({i for i in (event.recipient, event.recipient_user_id, event.recipient_parent_user_id,
                                      *event.linked) if i and kind_of(i) is not None})
            if not ids:
                counts["pair_rate_no_person"] += 1  # a group, or no id Meta showed
                continue
            if event.phone_number_id not in spaces:
                spaces[event.phone_number_id] = self._space(event)
            key = self._key(spaces[event.phone_number_id], ids)
            added = self.pairs.strike(event.phone_number_id, key, event.wamid, event.at, now)
            counts["pair_rate_backoff" if added else "pair_rate_backoff_unchanged"] += 1

    def _space(self, event: ev.MessageStatus) -> str:
        number = self.numbers.get(event.phone_number_id)
        return link_space(number.portfolio_id, number.waba_id) if number else link_space(None, event.waba_id)

    def _key(self, space: str, ids: list[str]) -> str:
        """The person's key: from its link when Meta linked the ids, else the best of the ids shown."""
        if self.people is not None:
            for link in self.people.links(space, ids).values():
                if link.person is not None:
                    return link.person.key
        return key_of(ids)
