"""checkov's skips: stack-wide ones in .checkov.yaml with their reasons once in docs/security.md,
one resource's inline in template.yaml with its reason there."""

from __future__ import annotations

import re

import yaml

from tests.infra.conftest import project_path

ROW = re.compile(r"^\|\s*(CKV2?_[A-Z]+_\d+)\s*\|([^|]+)\|(.+)\|\s*$")


def configured_skips() -> list[str]:
    return yaml.safe_load(project_path(".checkov.yaml").read_text())["skip-check"]


def documented_skips() -> dict[str, str]:
    section = project_path("docs/security.md").read_text().split("## checkov: skipped checks", 1)[1]
    found = {}
    for line in section.split("\n## ", 1)[0].splitlines():
        m = ROW.match(line.strip())
        if m:
            assert m.group(1) not in found, f"{m.group(1)} is explained twice in docs/security.md"
            found[m.group(1)] = " ".join(m.group(3).split())
    return found


def inline_skips(sam: dict) -> list[tuple[str, str, str]]:
    return [(skip["id"], name, " ".join(skip.get("comment", "").split()))
            for name, res in sam["Resources"].items()
            for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", [])]


def test_every_stack_wide_skip_is_explained_once_in_the_security_doc():
    configured, documented = configured_skips(), documented_skips()
    assert len(configured) == len(set(configured)), "a check is listed twice in .checkov.yaml"
    assert set(configured) == set(documented), (
        f"skipped but not explained: {sorted(set(configured) - set(documented))}; "
        f"explained but not skipped: {sorted(set(documented) - set(configured))}")
    assert all(len(why) >= 40 for why in documented.values())


def test_a_resource_skip_has_its_reason_inline_and_is_not_also_stack_wide(sam):
    stack_wide = set(configured_skips())
    for check, name, why in inline_skips(sam):
        assert len(why) >= 20, f"{name} skips {check} without a written reason"
        assert check not in stack_wide, f"{name} skips {check} again, which .checkov.yaml skips for the stack"
