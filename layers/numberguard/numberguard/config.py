"""Typed settings, read once from the environment (the template sets them on each function)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from numberguard.domain.refusals import DEFAULT_HOLD_MINUTES, hold_seconds
from numberguard.domain.tiers import Policy, parse_policy
from numberguard.domain.window import Window


class FailMode(StrEnum):
    CLOSED = "closed"  # store unreachable → deny (default: sending above the limit fails silently)
    OPEN = "open"  # store unreachable → allow, for senders who prefer delivery over the guard


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    numbers_table: str = "numberguard-numbers"
    recipients_table: str = "numberguard-recipients"
    limits_table: str = "numberguard-limits"
    history_table: str = "numberguard-history"
    policy: Policy = Policy.PER_NUMBER
    bucket_minutes: int = 10
    fail_mode: FailMode = FailMode.CLOSED
    # PairRateGuard: each allowed check spends a token of its (number, person) bucket (45, one per 6 s).
    pair_rate_guard: bool = False
    # Set in local mode and tests (DynamoDB Local); empty on AWS.
    dynamodb_endpoint: str | None = None
    region: str = "us-east-1"
    archive_bucket: str = "numberguard-archive"
    notification_topic_arn: str | None = None
    # The queue SNS copies each notification to: the outbox's proof that SNS took a message.
    notification_receipt_queue_url: str | None = None
    # The Meta sync's Graph API (local mode points it at its double).
    meta_graph_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v24.0"
    # Meta's 131048 (spam rate limit): business-initiated sends held this long after each refusal.
    spam_hold_minutes: int = DEFAULT_HOLD_MINUTES

    @property
    def window(self) -> Window:
        return Window(self.bucket_minutes * 60)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        try:
            bucket_minutes = int(env.get("BUCKET_MINUTES", "10"))
            Window(bucket_minutes * 60)
        except ValueError as err:
            raise ConfigError(f"BUCKET_MINUTES: {err}") from None
        try:
            policy = parse_policy(env.get("LIMIT_POLICY", "per-number"))
        except ValueError as err:
            raise ConfigError(f"LIMIT_POLICY: {err}") from None
        try:
            spam_hold_minutes = int(env.get("SPAM_HOLD_MINUTES", str(DEFAULT_HOLD_MINUTES)))
            hold_seconds(spam_hold_minutes)
        except ValueError as err:
            raise ConfigError(f"SPAM_HOLD_MINUTES: {err}") from None
        try:
            fail_mode = FailMode(env.get("FAIL_MODE", "closed").strip().lower())
        except ValueError:
            raise ConfigError(f"FAIL_MODE must be 'closed' or 'open', got {env.get('FAIL_MODE')!r}") from None
        guard = env.get("PAIR_RATE_GUARD", "off").strip().lower()
        if guard not in ("on", "off"):
            raise ConfigError(f"PAIR_RATE_GUARD must be 'on' or 'off', got {env.get('PAIR_RATE_GUARD')!r}")
        return cls(
            numbers_table=env.get("NUMBERS_TABLE", cls.numbers_table),
            recipients_table=env.get("RECIPIENTS_TABLE", cls.recipients_table),
            limits_table=env.get("LIMITS_TABLE", cls.limits_table),
            history_table=env.get("HISTORY_TABLE", cls.history_table),
            policy=policy,
            bucket_minutes=bucket_minutes,
            fail_mode=fail_mode,
            pair_rate_guard=guard == "on",
            dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            archive_bucket=env.get("ARCHIVE_BUCKET", cls.archive_bucket),
            notification_topic_arn=env.get("NOTIFICATION_TOPIC_ARN") or None,
            notification_receipt_queue_url=env.get("NOTIFICATION_RECEIPT_QUEUE_URL") or None,
            meta_graph_url=env.get("META_GRAPH_URL") or cls.meta_graph_url,
            meta_graph_version=env.get("META_GRAPH_VERSION") or cls.meta_graph_version,
            spam_hold_minutes=spam_hold_minutes,
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
