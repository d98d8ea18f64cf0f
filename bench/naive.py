"""The naive peer: counts the scope's recipients of the moving 24 h on every check.

Given a fair schema: every send of a scope under one partition key, the send time as the sort key
(`<epoch seconds, 10 digits>#<recipient>`), so the window is one key-range Query, read strongly
consistent, paginated at 1 MB, projecting only the key. It keeps no counter: the number of unique
recipients is recomputed from the sends of the window each time, then the send is written with
one PutItem. (It is also not safe under concurrency: two checks may both see room. The bench
compares its cost only.)
"""

from __future__ import annotations

from numberguard.domain.window import DAY_SECONDS

TABLE = {
    "TableName": "naive-sends",
    "AttributeDefinitions": [{"AttributeName": "scope", "AttributeType": "S"},
                             {"AttributeName": "sent", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "scope", "KeyType": "HASH"}, {"AttributeName": "sent", "KeyType": "RANGE"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def send_item(scope: str, recipient: str, at: int) -> dict:
    return {"scope": {"S": scope}, "sent": {"S": f"{at:010d}#{recipient}"}}


class NaivePeer:
    def __init__(self, client, table: str):
        self.client = client
        self.table = table

    def recipients_in_window(self, scope: str, now: int) -> set[str]:
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "#s = :scope AND #t BETWEEN :since AND :until",
            "ExpressionAttributeNames": {"#s": "scope", "#t": "sent"},
            "ExpressionAttributeValues": {
                ":scope": {"S": scope},
                ":since": {"S": f"{now - DAY_SECONDS + 1:010d}"},
                ":until": {"S": f"{now:010d}~"},  # '~' sorts after '#<recipient>'
            },
            "ConsistentRead": True,
            "ProjectionExpression": "#t",
        }
        seen: set[str] = set()
        while True:
            page = self.client.query(**kwargs)
            seen.update(item["sent"]["S"].split("#", 1)[1] for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return seen
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def check(self, scope: str, recipient: str, limit: int, now: int) -> str:
        seen = self.recipients_in_window(scope, now)
        if recipient in seen:
            decision = "ALLOWED_ALREADY_COUNTED"
        elif len(seen) < limit:
            decision = "ALLOWED_NEW_RECIPIENT"
        else:
            return "DENIED_LIMIT_REACHED"
        self.client.put_item(TableName=self.table, Item=send_item(scope, recipient, now))
        return decision
