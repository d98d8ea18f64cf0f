"""Registering numbers and reading them back (operator commands, the intake, the evaluator)."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, PutError

from numberguard.config import Settings
from numberguard.domain.tiers import MessagingLimit
from numberguard.store.models import LimitModel, NumberModel, models_for


class AlreadyRegistered(ValueError):
    pass


@dataclass(frozen=True)
class Registered:
    number: NumberModel
    limit: LimitModel
    limit_was_shared: bool  # the scope already had a counter (portfolio policy): its limit was kept


class RegistryStore:
    def __init__(self, settings: Settings):
        models = models_for(settings)
        self.Number = models.number
        self.Limit = models.limit

    def register_number(self, *, phone_number_id: str, waba_id: str, display_phone_number: str,
                        portfolio_id: str | None, scope: str, limit: MessagingLimit, connection: str, quality: str,
                        now: int) -> Registered:
        number = self.Number(phone_number_id, waba_id=waba_id, display_phone_number=display_phone_number,
                             portfolio_id=portfolio_id, scope=scope, connection=connection, quality=quality,
                             registered_at=now, updated_at=now)
        try:
            number.save(condition=self.Number.pk.does_not_exist())
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                raise AlreadyRegistered(f"phone_number_id {phone_number_id} is already registered") from None
            raise
        counter = self.Limit(scope, limit=-1 if limit.limit is None else limit.limit, tier=limit.tier, used=0,
                             buckets={}, updated_at=now)
        try:
            counter.save(condition=self.Limit.scope.does_not_exist())
            shared = False
        except PutError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise
            shared = True
        # The scope knows its numbers (the evaluator announces a portfolio's changes to each of them).
        counter = self.Limit(scope)
        counter.update(actions=[self.Limit.numbers.add({phone_number_id})])
        counter.refresh(consistent_read=True)
        return Registered(number, counter, shared)

    def get_number(self, phone_number_id: str) -> NumberModel | None:
        try:
            return self.Number.get(phone_number_id, consistent_read=True)
        except DoesNotExist:
            return None

    def get_limit(self, scope: str) -> LimitModel | None:
        try:
            return self.Limit.get(scope, consistent_read=True)
        except DoesNotExist:
            return None

    def list_numbers(self) -> list[NumberModel]:
        # Numbers share the table with other item kinds; only numbers carry a display number.
        found = self.Number.scan(self.Number.pk.exists() & self.Number.display_phone_number.exists())
        return sorted(found, key=lambda n: n.pk)

    def number_ids(self) -> list[str]:
        return [n.pk for n in self.list_numbers()]

    def ensure_scope(self, scope: str, limit: MessagingLimit, phone_number_id: str, now: int) -> None:
        """The scope's counter and its membership, for a number whose registration was cut short
        (idempotent: an existing counter keeps its limit and usage)."""
        counter = self.Limit(scope, limit=-1 if limit.limit is None else limit.limit, tier=limit.tier, used=0,
                             buckets={}, updated_at=now)
        try:
            counter.save(condition=self.Limit.scope.does_not_exist())
        except PutError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise
        self.Limit(scope).update(actions=[self.Limit.numbers.add({phone_number_id})])
