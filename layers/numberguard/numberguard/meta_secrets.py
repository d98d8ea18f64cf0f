"""The Meta app secret and the webhook verify token: read from SSM SecureString (or Secrets
Manager) through Powertools parameters, cached for a few minutes, never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

CACHE_SECONDS = 300


class SecretUnavailable(RuntimeError):
    """A secret could not be read (a retry may succeed)."""


class Secrets(Protocol):
    def app_secret(self) -> str: ...
    def verify_token(self) -> str: ...


_bounded: list[object] = []  # the providers made here (Powertools' own would wait 60 s a read)


def _bound(kind: str) -> None:
    """Powertools' default provider of `kind` ("ssm" or "secrets") on a client whose calls end inside
    the webhook's Timeout (budgets.WEBHOOK_SSM): a slow read answers 503, never a Lambda timeout.
    It stays Powertools' default, so `parameters.clear_caches()` still forgets what it read."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    from numberguard.budgets import WEBHOOK_SSM

    if DEFAULT_PROVIDERS.get(kind) not in _bounded:
        provider = (SSMProvider if kind == "ssm" else SecretsProvider)(boto_config=WEBHOOK_SSM.config())
        DEFAULT_PROVIDERS[kind] = provider
        _bounded.append(provider)


def _fetch(name: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        if name.startswith("arn:aws:secretsmanager:") or name.startswith("secretsmanager:"):
            _bound("secrets")
            value = parameters.get_secret(name.removeprefix("secretsmanager:"), max_age=CACHE_SECONDS)
        else:
            _bound("ssm")
            value = parameters.get_parameter(name, decrypt=True, max_age=CACHE_SECONDS)
    except Exception as err:  # GetParameterError, throttling, network: all mean "not now"
        raise SecretUnavailable(f"could not read secret {name!r}: {type(err).__name__}") from None
    if not value:
        raise SecretUnavailable(f"secret {name!r} is empty")
    return str(value)


@dataclass(frozen=True)
class ParameterSecrets:
    app_secret_name: str
    verify_token_name: str

    @classmethod
    def from_env(cls) -> ParameterSecrets:
        return cls(
            os.environ.get("APP_SECRET_PARAMETER", "/numberguard/meta-app-secret"),
            os.environ.get("VERIFY_TOKEN_PARAMETER", "/numberguard/webhook-verify-token"),
        )

    def app_secret(self) -> str:
        return _fetch(self.app_secret_name)

    def verify_token(self) -> str:
        return _fetch(self.verify_token_name)

    def __repr__(self) -> str:  # names only, never values
        return f"ParameterSecrets({self.app_secret_name!r}, {self.verify_token_name!r})"


@dataclass(frozen=True)
class MetaAccessToken:
    """The Graph API access token (SSM SecureString `MetaAccessTokenParameter`), read when a sync runs."""

    parameter_name: str

    @classmethod
    def from_env(cls) -> MetaAccessToken:
        return cls(os.environ.get("META_ACCESS_TOKEN_PARAMETER", "/numberguard/meta-access-token"))

    def __call__(self) -> str:
        return _fetch(self.parameter_name)

    def __repr__(self) -> str:  # the name only, never the value
        return f"MetaAccessToken({self.parameter_name!r})"
