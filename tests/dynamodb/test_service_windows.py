"""Service windows of a batch on DynamoDB Local: read in one BatchGetItem per 100, grown in one
transaction per 100, and never shortened, whatever was stored, read stale or written meanwhile."""

from __future__ import annotations

import random
import threading

import pytest

from tests.dynamodb.conftest import CallCounter

pytestmark = pytest.mark.dynamodb

PNID = "106540352242922"
NOW = 1_800_000_000
DAY = 86_400


def user(i: int) -> str:
    return f"1650{i:07d}"


def stored(stack, windows) -> list[int | None]:
    from numberguard.store import keys

    out = []
    for pnid, recipient, *_ in windows:
        item = stack.client.get_item(TableName=stack.settings.recipients_table,
                                     Key=keys.window_key(pnid, recipient), ConsistentRead=True).get("Item")
        out.append(int(item["service_window_until"]["N"]) if item else None)
    return out


@pytest.fixture
def store(ddb_stack):
    from numberguard.wiring import build

    return build(ddb_stack.settings).stores.windows


def counted(store) -> CallCounter:
    counter = CallCounter()
    store.client.meta.events.register("before-call.dynamodb", counter)
    return counter


def test_a_batch_grows_each_window_to_its_latest_and_never_shortens_one(ddb_stack, store):
    # 100 users without a window, 100 with a shorter one, 50 with a longer one.
    windows = [(PNID, user(i), NOW + DAY, NOW) for i in range(250)]
    for i in range(100, 250):
        ddb_stack.open_window(PNID, user(i), NOW + (DAY - 60 if i < 200 else DAY + 60))
    counter = counted(store)
    opened = store.open_windows(windows, NOW)
    assert opened == [True] * 200 + [False] * 50
    assert stored(ddb_stack, windows) == [NOW + DAY] * 200 + [NOW + DAY + 60] * 50
    assert counter.calls.count("BatchGetItem") == 3 and counter.calls.count("TransactWriteItems") == 2
    assert counter.total == 5  # not one call per window
    counter.reset()
    assert store.open_windows(windows, NOW) == [False] * 250  # Meta's retry: read, nothing to write
    assert counter.calls == ["BatchGetItem"] * 3


def test_windows_grown_after_a_stale_read_are_not_shortened(ddb_stack, store, monkeypatch):
    windows = [(PNID, user(i), NOW + DAY, NOW) for i in range(120)]
    longer = set(range(0, 120, 7))
    for i in longer:
        ddb_stack.open_window(PNID, user(i), NOW + DAY + 60)
    monkeypatch.setattr(store, "_windows_stored", lambda _windows: {})  # as if read before those writes
    opened = store.open_windows(windows, NOW)
    assert opened == [i not in longer for i in range(120)]
    assert stored(ddb_stack, windows) == [NOW + DAY + (60 if i in longer else 0) for i in range(120)]


def test_concurrent_batches_leave_each_window_at_the_latest_of_them(ddb_stack, store):
    rng = random.Random(11)
    users = [user(i) for i in range(150)]
    batches = [[(PNID, u, NOW + rng.randrange(DAY), NOW) for u in users] for _ in range(6)]
    errors: list[BaseException] = []

    def run(batch):
        try:
            store.open_windows(batch, NOW)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = [max(b[i][2] for b in batches) for i in range(len(users))]
    assert stored(ddb_stack, batches[0]) == expected


def test_two_windows_or_fewer_are_plain_conditional_updates(ddb_stack, store):
    counter = counted(store)
    assert store.open_windows([(PNID, user(1), NOW + DAY, NOW), (PNID, user(2), NOW + DAY, NOW)], NOW) == [True, True]
    assert counter.calls == ["UpdateItem", "UpdateItem"]
