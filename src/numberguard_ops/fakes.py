"""In-memory stand-ins for the layer's outside services, behind the same interfaces (`Publisher`,
`ReceiptQueue`, `Secrets`). They live here, not in the Lambda layer: nothing deployed uses them.
`simulate`, the bench and the tests do."""

from __future__ import annotations

from dataclasses import dataclass, field

from numberguard.notify.publisher import Notification
from numberguard.notify.receipts import BATCH, Receipt


@dataclass
class FakePublisher:
    """Keeps what was published; can be told to fail (fault injection)."""

    sent: list[Notification] = field(default_factory=list)
    fail_next: int = 0

    def publish(self, notification: Notification) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("fake SNS is down")
        self.sent.append(notification)

    def types(self) -> list[str]:
        return [n.type for n in self.sent]


@dataclass
class FakeReceiptQueue:
    """What a fake topic delivered (`deliver` each copy SNS would hand the queue; leave one out for a lost or
    late copy), what the outbox took and deleted, and how long it waited."""

    waiting: list[Receipt] = field(default_factory=list)
    deleted: list[Receipt] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)

    def deliver(self, notification_id: str) -> None:
        self.waiting.append(Receipt(f"handle-{len(self.waiting) + len(self.deleted)}", notification_id))

    def receive(self, wait_seconds: int) -> list[Receipt]:
        self.waits.append(wait_seconds)
        taken, self.waiting = self.waiting[:BATCH], self.waiting[BATCH:]
        return taken

    def delete(self, receipts: list[Receipt]) -> None:
        self.deleted += receipts


@dataclass(frozen=True)
class StaticSecrets:
    """Fixed values (simulate, the bench, tests)."""

    secret: str
    token: str

    def app_secret(self) -> str:
        return self.secret

    def verify_token(self) -> str:
        return self.token

    def __repr__(self) -> str:
        return "StaticSecrets(***)"
