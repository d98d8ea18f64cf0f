"""The refusal settings a stack is deployed with: sensible defaults, and a wrong value named at start-up
(ConfigError naming the variable), never a check that guesses."""

from __future__ import annotations

import pytest
from numberguard.config import ConfigError, Settings


def test_the_defaults_hold_an_hour_and_leave_the_pair_rate_guard_off():
    settings = Settings.from_env({})
    assert (settings.spam_hold_minutes, settings.pair_rate_guard) == (60, False)


@pytest.mark.parametrize(("value", "guard"), [("on", True), (" ON ", True), ("off", False)])
def test_the_pair_rate_guard_reads_on_or_off_in_any_case(value, guard):
    assert Settings.from_env({"PAIR_RATE_GUARD": value}).pair_rate_guard is guard


@pytest.mark.parametrize(("name", "value"), [
    ("SPAM_HOLD_MINUTES", "soon"), ("SPAM_HOLD_MINUTES", "0"), ("SPAM_HOLD_MINUTES", "-5"),
    ("PAIR_RATE_GUARD", "yes"), ("PAIR_RATE_GUARD", ""),
])
def test_a_wrong_value_is_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
