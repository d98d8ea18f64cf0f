"""Small helpers between DynamoDB's typed JSON and plain values (the hot path skips ORMs)."""

from __future__ import annotations

from typing import Any


def s(item: dict, name: str, default: str | None = None) -> str | None:
    value = item.get(name)
    return value["S"] if value and "S" in value else default


def n(item: dict, name: str, default: int | None = None) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else default


def b(item: dict, name: str, default: bool = False) -> bool:
    value = item.get(name)
    return bool(value["BOOL"]) if value and "BOOL" in value else default


def int_map(item: dict, name: str) -> dict[str, int]:
    value = item.get(name)
    if not value or "M" not in value:
        return {}
    return {k: int(v["N"]) for k, v in value["M"].items() if "N" in v}


def av(value: Any) -> dict:
    """Plain value → attribute value."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {k: av(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__}")
