"""The notification outbox: history entries still unpublished are published again, once per claim.

Every change is written to the history before it is published (usecases/facets.py). When the publish
fails, or the writer dies between the two, the entry stays in the history table's sparse Outbox index.
Each evaluator run first takes the receipts of what SNS accepted (notify/receipts.py) and marks those
entries published: a publish whose answer was lost, or whose mark failed, is not sent again. Then it
takes the entries whose grace is over, claims each one with a conditional update (two runs at once:
one wins, the other skips it), publishes it and takes it out of the index.

What is left of at-least-once: a copy that reaches the receipt queue later than the outbox's grace
(SNS delivers to SQS in well under a second), and SNS's own delivery to each subscriber. Subscribers
can deduplicate on the stable `id` of the document (also the `notification_id` message attribute).
"""

from __future__ import annotations

import json
from collections import Counter

from numberguard.domain.records import OutboxEntry
from numberguard.notify.messages import notification_from_document
from numberguard.notify.publisher import Publisher
from numberguard.notify.receipts import RECEIPT_WAIT_SECONDS, Receipt, ReceiptQueue
from numberguard.observability import logger
from numberguard.usecases.ports import HistoryPort

# A claimed entry is not taken again for this long (a publish with the SDK's bounded retries fits).
OUTBOX_LEASE_SECONDS = 60
# Receipts taken per run at most (SQS gives 10 a call); the rest wait for the next run.
MAX_RECEIPTS_PER_RUN = 2_000


class Outbox:
    def __init__(self, history: HistoryPort, publisher: Publisher, receipts: ReceiptQueue | None = None):
        self.history = history
        self.publisher = publisher
        self.receipts = receipts

    def drain(self, now: int, counts: Counter) -> int:
        due = self.history.unpublished(now)
        delivered, complete = self._take_receipts(due, counts)
        if not complete:  # receipts still queued may cover these entries: publish them next run
            counts["outbox_waits_for_receipts"] += len(due) - len(delivered)
            due = []
        published = 0
        for item in due:
            pnid, sk = item.phone_number_id, item.sort_key
            if item.id in delivered:
                continue  # SNS has it: marked published from its receipt
            if item.outbox_at is None or not self.history.claim_unpublished(pnid, sk, item.outbox_at,
                                                                             now + OUTBOX_LEASE_SECONDS):
                counts["outbox_taken_elsewhere"] += 1
                continue
            try:
                notification = notification_from_document(json.loads(item.document))
            except (ValueError, KeyError) as err:  # a damaged entry: keep it for people, never block the rest
                logger.error("outbox entry unreadable", extra={"phone_number_id": pnid, "sk": sk, "error": str(err)})
                counts["outbox_unreadable"] += 1
                self.history.mark_entry_published(pnid, sk, published=False)
                continue
            try:
                self.publisher.publish(notification)
            except Exception:  # still unpublished: the next run after the lease tries again
                logger.exception("outbox publish failed", extra={"notification_id": notification.id})
                counts["outbox_publish_failed"] += 1
                continue
            self.history.mark_entry_published(pnid, sk)
            published += 1
        counts["outbox_published"] += published
        return published

    def _take_receipts(self, due: list[OutboxEntry], counts: Counter) -> tuple[set[str], bool]:
        """Marks published every outbox entry SNS already took (due or still in its grace); returns
        their ids, and whether the queue was read to its end. Receipts are deleted only after the
        marks, so a crash here loses none."""
        if self.receipts is None:
            return set(), True
        taken: list[Receipt] = []
        complete = False
        while len(taken) < MAX_RECEIPTS_PER_RUN:
            batch = self.receipts.receive(0)
            if not batch and due:  # about to publish again: a long poll makes sure no receipt is missed
                batch = self.receipts.receive(RECEIPT_WAIT_SECONDS)
            if not batch:
                complete = True
                break
            taken += batch
        if not taken:
            return set(), complete
        ids = {r.notification_id for r in taken if r.notification_id}
        counts["receipts_taken"] += len(taken)
        counts["receipts_unreadable"] += len(taken) - sum(1 for r in taken if r.notification_id)
        delivered = set()
        # Usually empty: an entry is in the outbox only while its publish is under way or failed.
        for item in (self.history.unpublished(None) if ids else []):
            entry_id = item.id
            if entry_id in ids:
                self.history.mark_entry_published(item.phone_number_id, item.sort_key)
                delivered.add(entry_id)
        counts["outbox_already_delivered"] += len(delivered)
        self.receipts.delete(taken)
        return delivered, complete
