"""Every checkov check skipped in template.yaml has the same written reason in docs/security.md."""

from __future__ import annotations

import re

from tests.infra.conftest import project_path

ROW = re.compile(r"^\|\s*(CKV2?_[A-Z]+_\d+)\s*\|([^|]+)\|(.+)\|\s*$")


def inline_skips(sam: dict) -> set[tuple[str, str, str]]:
    found = set()
    for name, res in sam["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found.add((skip["id"], name, " ".join(skip.get("comment", "").split())))
    return found


def documented_skips() -> set[tuple[str, str, str]]:
    found = set()
    for line in project_path("docs/security.md").read_text().splitlines():
        m = ROW.match(line.strip())
        if m:
            check, resources, why = m.group(1), m.group(2), " ".join(m.group(3).split())
            found.update((check, r.strip(), why) for r in resources.split(","))
    return found


def test_every_inline_skip_has_a_reason(sam):
    # Given the template's checkov skips, then each one says why
    missing = [(check, name) for check, name, why in inline_skips(sam) if len(why) < 20]
    assert not missing, f"skips without a written reason: {missing}"


def test_docs_and_template_list_the_same_skips_with_the_same_reasons(sam):
    inline, documented = inline_skips(sam), documented_skips()
    assert inline - documented == set(), "skipped in template.yaml but not (or differently) in docs/security.md"
    assert documented - inline == set(), "listed in docs/security.md but not skipped in template.yaml"
