"""A (business number, person) pair's send rate: Meta's 131056 refusals and the PairRateGuard bucket.

One item per pair, `p#<phone_number_id>#<person key>` in the recipients table (PairModel in
store/models.py; the rules in domain/pairrate.py). The check reads it with the recipient's other
records (store/limits.py, no extra call) and takes a token with one conditional UpdateItem (`take`);
the intake adds Meta's refusals (`strike`: read, then a write conditional on what was read). Every
write pushes `expires_at` out, so an idle pair is expired by TTL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.pairrate import INTERVAL, PAIR_TTL_SECONDS, PairState, Take, after_strike, backoff
from numberguard.store import codec, dynamo, keys
from numberguard.store.dynamo import StoreUnavailable
from numberguard.store.schema_names import PairItem as P


def pair_from_item(item: dict | None) -> PairState:
    """A pair item → the domain's state (no item: a full bucket and no refusal)."""
    if not item:
        return PairState()
    return PairState(tat=codec.n(item, P.tat), strikes=codec.int_map(item, P.strikes),
                     version=codec.n(item, P.strikes_version, 0) or 0)


def _n(value: int) -> dict:
    return {"N": str(value)}


class PairStore:
    def __init__(self, client: Any, table: str):
        self.client = client
        self.table = table

    def get(self, phone_number_id: str, person_key: str) -> PairState:
        reply = self.client.get_item(TableName=self.table, Key=keys.pair_key(phone_number_id, person_key),
                                     ConsistentRead=True)
        return pair_from_item(reply.get("Item"))

    def get_many(self, phone_number_id: str, person_keys: Iterable[str]) -> dict[str, PairState]:
        """The pairs of one number with these person keys that have an item (BatchGetItem, 100 per call)."""
        wanted = {keys.pair_key(phone_number_id, k)[P.HASH_KEY]["S"]: k for k in person_keys}
        found = dynamo.batch_get(self.client, [(self.table, {P.HASH_KEY: {"S": pk}}) for pk in wanted])
        return {wanted[pk]: pair_from_item(item) for item in found.get(self.table, [])
                if (pk := codec.s(item, P.HASH_KEY)) in wanted}

    def take(self, phone_number_id: str, person_key: str, plan: Take) -> tuple[bool, int | None]:
        """Take one token as `plan` says: (True, tat after) or (False, tat as it stands: plan again)."""
        values = {":now": _n(plan.now), ":exp": _n(plan.now + PAIR_TTL_SECONDS)}
        if plan.fresh:
            update = f"SET {P.tat} = :new, {P.expires_at} = :exp"
            condition = f"attribute_not_exists({P.tat}) OR {P.tat} < :now"
            values[":new"] = _n(plan.new_tat)
        else:
            update = f"SET {P.tat} = {P.tat} + :step, {P.expires_at} = :exp"
            condition = f"{P.tat} BETWEEN :now AND :ceiling"
            values.update({":step": _n(INTERVAL), ":ceiling": _n(plan.ceiling)})
        if plan.claim:  # never twice: the SDK's retry of a take that landed fails here and finds its claim below
            update += f", {P.claim} = :claim"
            condition = f"({condition}) AND (attribute_not_exists({P.claim}) OR {P.claim} <> :claim)"
            values[":claim"] = {"S": plan.claim}
        try:
            reply = dynamo.retry_conflicts(lambda: self.client.update_item(
                TableName=self.table, Key=keys.pair_key(phone_number_id, person_key), UpdateExpression=update,
                ConditionExpression=condition, ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ), "a pair item stayed locked by other writes")
        except ClientError as err:
            if dynamo.condition_failed(err):
                item = err.response.get("Item") or {}
                # The SDK retried a take whose reply was lost: the item holds our own write (the token is ours).
                return bool(plan.claim) and codec.s(item, P.claim) == plan.claim, codec.n(item, P.tat)
            raise
        return True, codec.n(reply.get("Attributes") or {}, P.tat)

    def strike(self, phone_number_id: str, person_key: str, wamid: str, at: int, now: int) -> bool:
        """Add Meta's 131056 refusal of message `wamid` at `at`; False when it was known (or too old).

        Read, fold in the domain, write conditional on the strikes' version and the bucket as read (a
        check may take a token meanwhile: then read again). The write is one UpdateItem: a fault before
        it leaves nothing, after it the whole refusal.
        """
        key = keys.pair_key(phone_number_id, person_key)
        for attempt in range(1, dynamo.Budget.CONTENDED_WRITE + 1):
            state = self.get(phone_number_id, person_key)
            new = after_strike(state, wamid, at)
            if new is None:
                return False
            try:
                self.client.update_item(TableName=self.table, Key=key, **_strike_write(state, new, now))
                return True
            except ClientError as err:
                if not dynamo.condition_failed(err):
                    raise
            dynamo.backoff(attempt)
        raise StoreUnavailable("a pair item stayed too contended to record Meta's pair-rate refusal")


def _strike_write(state: PairState, new: PairState, now: int) -> dict:
    """The UpdateItem arguments that turn the pair read as `state` into `new` (strikes, tat, backoff)."""
    found = backoff(new.strikes)
    values: dict[str, dict] = {
        ":strikes": {"M": {wamid: _n(at) for wamid, at in new.strikes.items()}},
        ":version": _n(new.version), ":tat": _n(new.tat or 0), ":exp": _n(now + PAIR_TTL_SECONDS),
        ":until": _n(found.until if found else 0),
    }
    conditions = []
    if state.version:
        conditions.append(f"{P.strikes_version} = :seen")
        values[":seen"] = _n(state.version)
    else:
        conditions.append(f"attribute_not_exists({P.strikes_version})")
    if state.tat is None:
        conditions.append(f"attribute_not_exists({P.tat})")
    else:
        conditions.append(f"{P.tat} = :seen_tat")
        values[":seen_tat"] = _n(state.tat)
    return {
        "UpdateExpression": (f"SET {P.strikes} = :strikes, {P.strikes_version} = :version, {P.tat} = :tat, "
                             f"{P.backoff_until} = :until, {P.expires_at} = :exp"),
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeValues": values,
    }
