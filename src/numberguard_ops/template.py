"""Reads template.yaml: the one list of tables, functions and settings (local mode and tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: _tag(loader, suffix, node))


@lru_cache(maxsize=4)
def load(path: Path = TEMPLATE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CFN tags


def local_name(logical_id: str, prefix: str = "numberguard") -> str:
    """NumbersTable → numberguard-numbers (the names the settings default to)."""
    base = logical_id[: -len("Table")] if logical_id.endswith("Table") else logical_id
    return f"{prefix}-{base.lower()}"


def resources(kind: str, template: dict | None = None) -> dict[str, dict]:
    template = template or load()
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def table_definitions(template: dict | None = None) -> list[dict]:
    """CreateTable arguments (plus TTL) for every AWS::DynamoDB::Table of the template."""
    tables = []
    for logical_id, res in resources("AWS::DynamoDB::Table", template).items():
        props = res["Properties"]
        spec: dict[str, Any] = {
            "TableName": local_name(logical_id),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        ttl = props.get("TimeToLiveSpecification")
        tables.append({"create": spec, "ttl_attribute": ttl["AttributeName"] if ttl else None})
    return tables


def create_tables(client, template: dict | None = None) -> list[str]:
    """Create the template's tables that do not exist yet; returns their names."""
    existing = set(client.list_tables().get("TableNames", []))
    created = []
    for table in table_definitions(template):
        name = table["create"]["TableName"]
        if name in existing:
            continue
        client.create_table(**table["create"])
        if table["ttl_attribute"]:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": table["ttl_attribute"], "Enabled": True}
            )
        created.append(name)
    return created


def _resolve(value: Any, template: dict) -> Any:
    if isinstance(value, dict) and "Ref" in value:
        ref = value["Ref"]
        if ref in template.get("Parameters", {}):
            return str(template["Parameters"][ref].get("Default", ""))
        if ref in template["Resources"]:
            return local_name(ref)
        raise KeyError(f"template.yaml refers to unknown {ref}")
    return value


def function_environment(logical_id: str, template: dict | None = None) -> dict[str, str]:
    """The environment a function gets on AWS, with local table names and parameter defaults."""
    template = template or load()
    env = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    props = template["Resources"][logical_id]["Properties"]
    env.update(props.get("Environment", {}).get("Variables", {}))
    return {k: str(_resolve(v, template)) for k, v in env.items()}


def functions(template: dict | None = None) -> dict[str, dict]:
    """Logical id → {code_uri, handler} of every AWS::Serverless::Function."""
    return {
        logical_id: {"code_uri": ROOT / res["Properties"]["CodeUri"], "handler": res["Properties"]["Handler"]}
        for logical_id, res in resources("AWS::Serverless::Function", template).items()
    }
