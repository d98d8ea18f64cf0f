"""Generates store/schema_names.py from the pynamodb models of store/models/.

The functions' stores must not import pynamodb (cold start), yet the models are the one definition of
every item's attributes; so the names the raw stores use are generated from the models.
`python -m numberguard_ops.schema` (or `make schema`) rewrites the module; `--check` only says whether it
is current (tests/unit/test_schema_names.py fails when it is not).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numberguard.store
from numberguard.store.models import ITEM_KINDS
from pynamodb.indexes import Index
from pynamodb.models import Model

TARGET = Path(numberguard.store.__file__).parent / "schema_names.py"
COMMAND = "make schema"

HEADER = f'''"""Every item kind's attribute names, key attributes, DynamoDB types, TTL and index names, for the
stores that call DynamoDB directly (they must not import pynamodb: cold start).

Generated from store/models/ by `{COMMAND}` (python -m numberguard_ops.schema); do not edit.
"""

from __future__ import annotations

from typing import ClassVar, Final


class ItemKind:
    """What every item kind below has: its key attributes and each attribute's DynamoDB type."""

    HASH_KEY: ClassVar[str]
    RANGE_KEY: ClassVar[str | None] = None
    TYPES: ClassVar[dict[str, str]]
'''


def _keys(attributes: dict) -> tuple[str, str | None]:
    hash_key = next(a.attr_name for a in attributes.values() if a.is_hash_key)
    range_key = next((a.attr_name for a in attributes.values() if a.is_range_key), None)
    return hash_key, range_key


def _item_kind(name: str, model: type[Model]) -> list[str]:
    attributes = model.get_attributes()
    hash_key, range_key = _keys(attributes)
    ttl = model._ttl_attribute()
    lines = ["", "", f"class {name}(ItemKind):",
             f'    """{model.__name__} (table {model.Meta.table_name})."""', "",
             f'    HASH_KEY = "{hash_key}"']
    if range_key:
        lines.append(f'    RANGE_KEY = "{range_key}"')
    if ttl is not None:
        lines.append(f'    TTL: Final = "{ttl.attr_name}"')
    for index in _indexes(model):
        lines.append(f'    {_constant(index.Meta.index_name)}: Final = "{index.Meta.index_name}"')
    lines.append("    TYPES = {")
    lines += _packed([f'"{a.attr_name}": "{a.attr_type}",' for a in attributes.values()], indent=8)
    lines.append("    }")
    lines += [f'    {python_name}: Final = "{a.attr_name}"' for python_name, a in attributes.items()]
    return lines


def _packed(entries: list[str], indent: int, width: int = 116) -> list[str]:
    """Entries joined into lines of at most `width` characters (keeps the module short)."""
    lines: list[str] = []
    for entry in entries:
        if lines and len(lines[-1]) + 1 + len(entry) <= width:
            lines[-1] += " " + entry
        else:
            lines.append(" " * indent + entry)
    return lines


def _indexes(model: type[Model]) -> list[Index]:
    return sorted(model._indexes.values(), key=lambda i: i.Meta.index_name)


def _constant(index_name: str) -> str:
    """ByWaba → BY_WABA."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(index_name)).upper()


def _index(index: Index) -> list[str]:
    hash_key, range_key = _keys(index.Meta.attributes)
    lines = ["", "", f"class {index.Meta.index_name}Index:",
             f'    """Global secondary index {index.Meta.index_name}."""', "",
             f'    NAME: Final = "{index.Meta.index_name}"', f'    HASH_KEY: Final = "{hash_key}"']
    if range_key:
        lines.append(f'    RANGE_KEY: Final = "{range_key}"')
    return lines


def render() -> str:
    """The module's text, from the models as they are now."""
    lines = [HEADER.rstrip("\n")]
    indexes: dict[str, list[str]] = {}
    for name, model in ITEM_KINDS.items():
        lines += _item_kind(name, model)
        for index in _indexes(model):
            rendered = _index(index)
            if indexes.setdefault(index.Meta.index_name, rendered) != rendered:
                raise ValueError(f"two models define index {index.Meta.index_name} with different keys")
    for name in sorted(indexes):
        lines += indexes[name]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m numberguard_ops.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the module is not current; write nothing")
    args = parser.parse_args(argv)
    text = render()
    current = TARGET.read_text() if TARGET.exists() else ""
    if args.check:
        if current != text:
            print(f"{TARGET.name} is out of date with store/models/: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text)
        print(f"wrote {TARGET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
