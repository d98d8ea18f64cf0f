"""The layer stays readable in one sitting: no store module over 300 lines (the generated schema names
aside), no function over 50 lines. The complexity limit is ruff's C90 in the gates."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers/numberguard/numberguard"
GENERATED = {"schema_names.py"}


def test_no_store_module_is_over_300_lines():
    long = {p.relative_to(PACKAGE).as_posix(): n for p in sorted((PACKAGE / "store").rglob("*.py"))
            if p.name not in GENERATED and (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert not long, f"store modules over 300 lines (split by aggregate): {long}"


def test_no_function_in_the_layer_is_over_50_lines():
    long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 50:
                    long[f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno} {node.name}"] = length
    assert not long, f"functions over 50 lines (split into steps): {long}"
