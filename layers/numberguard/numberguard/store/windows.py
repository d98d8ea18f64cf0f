"""Service windows per (business number, user) (recipients table), written by the intake, read by the check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from numberguard.store import codec, dynamo, keys
from numberguard.store.dynamo import StoreUnavailable
from numberguard.store.items import RECORD_TTL_SECONDS
from numberguard.store.schema_names import WindowItem

W = WindowItem

# Service windows of a batch: read first (one BatchGetItem per 100) from this many (number, user)
# pairs on, then written up to this many per transaction (1: one conditional UpdateItem each).
BATCH_WINDOWS_FROM = 3
WINDOWS_PER_TRANSACTION = 100

WindowWish = tuple[str, str, int, int]  # (phone_number_id, recipient, open until, the message's time)


class WindowStore:
    def __init__(self, client: Any, recipients_table: str):
        self.client = client
        self.table = recipients_table

    def open_window(self, phone_number_id: str, recipient: str, until: int, at: int, now: int) -> bool:
        """Extend the (number, user) service window to `until` for a message at `at`; never shortens it.

        Nor opens it when the user id was retired at or after `at` (a `system` change left a tombstone):
        that message was the id's previous user's, whose window moved to the new ids.
        """
        for attempt in range(1, dynamo.Budget.CONTENDED_WRITE + 1):
            try:
                self.client.update_item(**self._window_update(phone_number_id, recipient, until, at, now))
                return True
            except ClientError as err:
                if dynamo.condition_failed(err):
                    return False
                # A batch's transaction holds the item (another delivery of the same user's window).
                if dynamo.code(err) != dynamo.TRANSACTION_CONFLICT:
                    raise
                dynamo.backoff(attempt)
        raise StoreUnavailable("a service window stayed locked by other deliveries' transactions")

    def open_windows(self, windows: list[WindowWish], now: int) -> list[bool]:
        """open_window for many (number, user, until, at), distinct pairs; True where the window grew.

        One eventually consistent BatchGetItem per 100 windows drops those already open as far (a
        retried POST writes nothing); the rest are written with the same conditional update,
        WINDOWS_PER_TRANSACTION per TransactWriteItems. A stale read only shows an older, shorter
        window (they never shrink), so it can cost a write, never skip a needed one; the condition
        still decides each write, so a window is never shortened whatever runs meanwhile.
        """
        if len(windows) < BATCH_WINDOWS_FROM:
            return [self.open_window(*wish, now) for wish in windows]
        stored = self._windows_stored(windows)
        opened = [False] * len(windows)
        todo = [i for i, (pnid, recipient, until, _at) in enumerate(windows)
                if stored.get((pnid, recipient), 0) < until]
        for start in range(0, len(todo), WINDOWS_PER_TRANSACTION):
            chunk = todo[start:start + WINDOWS_PER_TRANSACTION]
            for i, grew in zip(chunk, self._open_window_chunk([windows[i] for i in chunk], now), strict=True):
                opened[i] = grew
        return opened

    def _windows_stored(self, windows: list[WindowWish]) -> dict[tuple[str, str], int]:
        """service_window_until of each (number, user) that has one (eventually consistent)."""
        found = dynamo.batch_get(self.client, [(self.table, keys.window_key(pnid, r)) for pnid, r, *_ in windows],
                                 consistent=False, projection=f"{W.pk}, {W.service_window_until}")
        return {keys.parse_window_pk(codec.s(item, W.pk) or ""): codec.n(item, W.service_window_until, 0) or 0
                for item in found.get(self.table, [])}

    def _open_window_chunk(self, windows: list[WindowWish], now: int) -> list[bool]:
        """One transaction of open_window's updates; windows that another write already opened as
        far come back by name in the cancellation reasons, and the rest is tried again."""
        if len(windows) == 1:
            return [self.open_window(*windows[0], now)]
        result: dict[int, bool] = {}
        pending = list(range(len(windows)))
        for attempt in range(1, dynamo.Budget.TRANSACTION + 1):
            if not pending:
                break
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Update": self._window_update(*windows[i], now)} for i in pending])
                result.update(dict.fromkeys(pending, True))
                pending = []
            except ClientError as err:
                if dynamo.code(err) not in (dynamo.TRANSACTION_CANCELED, dynamo.TRANSACTION_CONFLICT):
                    raise
                reasons = dynamo.cancellation_reasons(err)
                failed = {i for n, i in enumerate(pending) if dynamo.failed_at(reasons, n)}
                if failed:  # the transaction wrote nothing: try the others again
                    result.update(dict.fromkeys(failed, False))
                    pending = [i for i in pending if i not in failed]
                else:
                    dynamo.backoff(attempt)
        for i in pending:  # still contended: one by one, as a single delivery writes them
            result[i] = self.open_window(*windows[i], now)
        return [result[i] for i in range(len(windows))]

    def _window_update(self, phone_number_id: str, recipient: str, until: int, at: int, now: int) -> dict:
        return {
            "TableName": self.table,
            "Key": keys.window_key(phone_number_id, recipient),
            "UpdateExpression": f"SET {W.service_window_until} = :u, {W.expires_at} = :exp",
            "ConditionExpression": (f"(attribute_not_exists({W.service_window_until}) "
                                    f"OR {W.service_window_until} < :u) "
                                    f"AND (attribute_not_exists({W.retired_at}) OR {W.retired_at} < :at)"),
            "ExpressionAttributeValues": {":u": {"N": str(until)}, ":at": {"N": str(at)},
                                          ":exp": {"N": str(max(until, now) + RECORD_TTL_SECONDS)}},
        }

    def move(self, phone_number_id: str, retired: Iterable[str], current: Iterable[str], at: int, now: int,
             opened_by: int | None = None) -> int:
        """A `system` change at `at`: the retired ids' windows with this number move to the current ids
        (returns their until), and each retired id keeps a tombstone instead: no window, `retired_at`,
        kept until no message from before `at` could open one (open_window's condition). `opened_by`
        (Meta's retry of a change): only windows ending by then move, so a window the old number's next
        user opened after the change stays theirs. A later retirement's tombstone is never moved back."""
        retired, current = sorted(set(retired)), sorted(set(current))
        found = dynamo.batch_get(self.client, [(self.table, keys.window_key(phone_number_id, i)) for i in retired])
        ends = [codec.n(item, W.service_window_until, 0) or 0 for item in found.get(self.table, [])]
        until = max((end for end in ends if opened_by is None or end <= opened_by), default=0)
        if until > now:
            for i in current:
                self.open_window(phone_number_id, i, until, at, now)
        # Once per id: a tombstone of this change or a later one stands, and on a retry a window that
        # began after the change (the next user's) is left open.
        condition = f"(attribute_not_exists({W.retired_at}) OR {W.retired_at} < :at)"
        values = {":at": {"N": str(at)}, ":exp": {"N": str(at + RECORD_TTL_SECONDS)}}
        if opened_by is not None:
            condition += f" AND (attribute_not_exists({W.service_window_until}) OR {W.service_window_until} <= :by)"
            values[":by"] = {"N": str(opened_by)}
        for i in retired:
            try:
                self.client.update_item(
                    TableName=self.table, Key=keys.window_key(phone_number_id, i),
                    UpdateExpression=f"SET {W.retired_at} = :at, {W.expires_at} = :exp REMOVE {W.service_window_until}",
                    ConditionExpression=condition, ExpressionAttributeValues=values)
            except ClientError as err:
                if not dynamo.condition_failed(err):
                    raise
        return until
