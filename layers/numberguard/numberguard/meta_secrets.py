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


def _fetch(name: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        if name.startswith("arn:aws:secretsmanager:") or name.startswith("secretsmanager:"):
            value = parameters.get_secret(name.removeprefix("secretsmanager:"), max_age=CACHE_SECONDS)
        else:
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

