"""The layer ships exactly the packages the tests run: the lock is generated from requirements.in and
the test virtualenv, and no other pin of the project disagrees with it."""

from __future__ import annotations

from numberguard_ops import layer_lock
from tests.infra.conftest import project_path


def test_the_lock_is_what_make_layer_lock_writes_from_the_installed_versions():
    # Then it is requirements.in and everything it needs on Lambda, at the versions installed here
    assert layer_lock.LOCK.read_text() == layer_lock.lock_text(), "layer lock out of date: run `make layer-lock`"


def test_no_other_pin_of_the_project_disagrees_with_the_lock():
    lock = layer_lock.read_pins(layer_lock.LOCK)
    for name in ("requirements-run.txt", "requirements-dev.txt", "layers/numberguard/requirements.in"):
        for package, (version, _) in layer_lock.read_pins(project_path(name)).items():
            if package in lock:
                assert version == lock[package][0], f"{name} pins {package}=={version}, the layer {lock[package][0]}"


def test_the_tests_install_the_lock_itself():
    lines = [line.strip() for line in project_path("requirements-run.txt").read_text().splitlines()]
    assert "-r layers/numberguard/requirements.txt" in lines


def test_the_sdk_ships_whole_or_not_at_all_and_no_extra_ships_unused_code():
    lock = layer_lock.read_pins(layer_lock.LOCK)
    assert ("boto3" in lock) == ("botocore" in lock), "boto3 and botocore ship together or neither"
    assert all(not extras for _, extras in lock.values()), "an extra ships code no handler imports"
    assert "aws-xray-sdk" not in lock, "no Tracer exists: the X-Ray SDK has no caller"
