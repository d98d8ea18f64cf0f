"""When numberguard first received an update that carried no time (its arrival orders it).

One item per such update, keyed by its dedup key (which does not depend on the arrival, so a
redelivery finds the first delivery's item), written with `if_not_exists`: concurrent deliveries
agree on one first arrival without a read. Kept past Meta's 7 days of retries, then expired by TTL.
"""

from __future__ import annotations

from typing import Any

from numberguard.store import keys
from numberguard.store.schema_names import ArrivalItem

ARRIVAL_TTL_SECONDS = 8 * 24 * 3600  # Meta retries a delivery for up to 7 days


class ArrivalStore:
    def __init__(self, client: Any, table: str):
        self.client = client
        self.table = table

    def first_arrival(self, dedup_key: str, now: int) -> int:
        """The time the update with this dedup key first arrived (`now` when this is its first delivery)."""
        reply = self.client.update_item(
            TableName=self.table,
            Key=keys.arrival_key(dedup_key),
            UpdateExpression=(f"SET {ArrivalItem.first_at} = if_not_exists({ArrivalItem.first_at}, :now), "
                              f"{ArrivalItem.expires_at} = if_not_exists({ArrivalItem.expires_at}, :exp)"),
            ExpressionAttributeValues={":now": {"N": str(now)}, ":exp": {"N": str(now + ARRIVAL_TTL_SECONDS)}},
            ReturnValues="ALL_NEW",
        )
        return int(reply["Attributes"][ArrivalItem.first_at]["N"])

