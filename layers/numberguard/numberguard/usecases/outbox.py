"""The notification outbox: history entries still unpublished are published again, once per claim.

Every change is written to the history before it is published (usecases/facets.py). When the publish
fails, or the writer dies between the two, the entry stays in the history table's sparse Outbox index.
Each evaluator run takes the entries whose grace is over, claims each one with a conditional update
(two runs at once: one wins, the other skips it), publishes it and takes it out of the index.

SNS publishing is at-least-once by nature: a run that dies after SNS accepted a message but before
the entry left the index publishes it again after the lease. Subscribers deduplicate on the stable
`id` of the document (also the `notification_id` message attribute).
"""

from __future__ import annotations

import json
from collections import Counter

from numberguard.notify.messages import notification_from_document
from numberguard.notify.publisher import Publisher
from numberguard.observability import logger
from numberguard.store import codec
from numberguard.store.state import StateStore

# A claimed entry is not taken again for this long (a publish with the SDK's bounded retries fits).
OUTBOX_LEASE_SECONDS = 60


class Outbox:
    def __init__(self, state: StateStore, publisher: Publisher):
        self.state = state
        self.publisher = publisher

    def drain(self, now: int, counts: Counter) -> int:
        published = 0
        for item in self.state.unpublished(now):
            pnid, sk = codec.s(item, "phone_number_id"), codec.s(item, "sk")
            if not self.state.claim_unpublished(pnid, sk, codec.n(item, "outbox_at"), now + OUTBOX_LEASE_SECONDS):
                counts["outbox_taken_elsewhere"] += 1
                continue
            try:
                notification = notification_from_document(json.loads(codec.s(item, "document", "{}")))
            except (ValueError, KeyError) as err:  # a damaged entry: keep it for people, never block the rest
                logger.error("outbox entry unreadable", extra={"phone_number_id": pnid, "sk": sk, "error": str(err)})
                counts["outbox_unreadable"] += 1
                self.state.mark_entry_published(pnid, sk, published=False)
                continue
            try:
                self.publisher.publish(notification)
            except Exception:  # still unpublished: the next run after the lease tries again
                logger.exception("outbox publish failed", extra={"notification_id": notification.id})
                counts["outbox_publish_failed"] += 1
                continue
            self.state.mark_entry_published(pnid, sk)
            published += 1
        counts["outbox_published"] += published
        return published
