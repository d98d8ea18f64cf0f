"""Registering numbers and reading them back (operator commands, the intake, the evaluator)."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.condition import Condition

from numberguard.domain.tiers import MessagingLimit
from numberguard.store.models import LimitModel, NumberModel


class AlreadyRegistered(ValueError):
    pass


@dataclass(frozen=True)
class Registered:
    number: NumberModel
    limit: LimitModel
    limit_was_shared: bool  # the scope already had a counter (portfolio policy): its limit was kept


def register_number(
    *,
    phone_number_id: str,
    waba_id: str,
    display_phone_number: str,
    portfolio_id: str | None,
    scope: str,
    limit: MessagingLimit,
    connection: str,
    quality: str,
    now: int,
) -> Registered:
    number = NumberModel(
        phone_number_id,
        waba_id=waba_id,
        display_phone_number=display_phone_number,
        portfolio_id=portfolio_id,
        scope=scope,
        connection=connection,
        quality=quality,
        registered_at=now,
        updated_at=now,
    )
    try:
        number.save(condition=NumberModel.pk.does_not_exist())
    except PutError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise AlreadyRegistered(f"phone_number_id {phone_number_id} is already registered") from None
        raise
    counter = LimitModel(
        scope, limit=-1 if limit.limit is None else limit.limit, tier=limit.tier, used=0, buckets={}, updated_at=now
    )
    try:
        counter.save(condition=LimitModel.scope.does_not_exist())
        shared = False
    except PutError as err:
        if err.cause_response_code != "ConditionalCheckFailedException":
            raise
        shared = True
    # The scope knows its numbers (the evaluator announces a portfolio's changes to each of them).
    counter = LimitModel(scope)
    counter.update(actions=[LimitModel.numbers.add({phone_number_id})])
    counter.refresh(consistent_read=True)
    return Registered(number, counter, shared)


def get_number(phone_number_id: str) -> NumberModel | None:
    try:
        return NumberModel.get(phone_number_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_limit(scope: str) -> LimitModel | None:
    try:
        return LimitModel.get(scope, consistent_read=True)
    except DoesNotExist:
        return None


def list_numbers() -> list[NumberModel]:
    return sorted(NumberModel.scan(NumberModel.pk.exists() & _is_number()), key=lambda n: n.pk)


def _is_number() -> Condition:
    # Numbers share the table with other item kinds; only numbers carry a display number.
    return NumberModel.display_phone_number.exists()


def ensure_scope(scope: str, limit: MessagingLimit, phone_number_id: str, now: int) -> None:
    """The scope's counter and its membership, for a number whose registration was cut short (idempotent:
    an existing counter keeps its limit and usage)."""
    counter = LimitModel(
        scope, limit=-1 if limit.limit is None else limit.limit, tier=limit.tier, used=0, buckets={}, updated_at=now
    )
    try:
        counter.save(condition=LimitModel.scope.does_not_exist())
    except PutError as err:
        if err.cause_response_code != "ConditionalCheckFailedException":
            raise
    LimitModel(scope).update(actions=[LimitModel.numbers.add({phone_number_id})])
