"""Key layout of the tables (one place, so the webhook intake and the check agree)."""


def counted_key(scope: str, recipient: str) -> dict:
    # Hash key per (scope, recipient): spreads a scope's recipients over partitions.
    return {"pk": {"S": f"c#{scope}#{recipient}"}}


def window_key(phone_number_id: str, recipient: str) -> dict:
    # Service windows belong to a (business number, user) pair, whatever the limit scope.
    return {"pk": {"S": f"w#{phone_number_id}#{recipient}"}}


def number_key(phone_number_id: str) -> dict:
    return {"pk": {"S": phone_number_id}}


def scope_key(scope: str) -> dict:
    return {"scope": {"S": scope}}


def link_key(space: str, person_id: str) -> dict:
    # One item per (link space, id): a portfolio's (or WABA's) people, read with the check's records.
    return {"pk": {"S": f"l#{space}#{person_id}"}}
