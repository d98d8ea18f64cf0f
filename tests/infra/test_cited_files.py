"""The docs and the template's comments cite files that exist: a reader who follows a path finds it.

A path in a fenced code block is an example (an error message naming a missing file), not a citation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Citations are written from the reader's place: the repository, the layer's package, its store, the ops package.
BASES = [ROOT, ROOT / "layers/numberguard/numberguard", ROOT / "layers/numberguard/numberguard/store",
         ROOT / "layers/numberguard", ROOT / "src/numberguard_ops", ROOT / "src", ROOT / "functions", ROOT / "docs"]
CITED = re.compile(r"(?<![\w./-])((?:[\w-]+/)+[\w-]+\.(?:py|md|yaml|json|toml|txt|in))\b")
DOCUMENTS = ["template.yaml", "README.md",
             *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


def _citations(text: str):
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            for match in CITED.finditer(line):
                yield number, match.group(1)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_cited_file_exists(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    missing = [f"{document}:{number}: {path}" for number, path in _citations(text)
               if not any((base / path).exists() for base in BASES)]
    assert not missing, "cited files that do not exist:\n" + "\n".join(missing)
