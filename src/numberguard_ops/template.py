"""Reads template.yaml: the one list of tables, functions and settings (local mode and tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class TemplateError(ValueError):
    """template.yaml says something local mode cannot run; the message names the resource."""


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


_selected: Path | None = None


def select(path: Path | None) -> None:
    """Read another template file from now on (`numberguard local --template`, as `sam local --template`)."""
    global _selected
    _selected = Path(path).resolve() if path else None


def load(path: Path | None = None) -> dict:
    return _load(Path(path or _selected or TEMPLATE))


@lru_cache(maxsize=4)
def _load(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CFN tags
    except OSError as err:
        raise TemplateError(f"cannot read {path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise TemplateError(f"{path} is not a YAML template: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources: not a SAM template")
    doc["__dir__"] = str(path.parent)  # CodeUri is relative to the template's folder
    return doc


# The account, region and stack name local mode shows in ARNs (the ones `sam local` uses).
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "numberguard"
_SUFFIXES = ("Table", "Topic", "Bucket", "Queue")
# The property that names each kind of resource when the template names it itself.
_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SSM::Parameter": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
}


def local_name(logical_id: str, prefix: str = STACK_NAME) -> str:
    """NumbersTable → numberguard-numbers, NotificationTopic → numberguard-notification."""
    base = logical_id
    for suffix in _SUFFIXES:
        if base.endswith(suffix) and base != suffix:
            base = base[: -len(suffix)]
            break
    return f"{prefix}-{base.lower()}"


def resources(kind: str, template: dict | None = None) -> dict[str, dict]:
    template = template or load()
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def table_definitions(template: dict | None = None) -> list[dict]:
    """CreateTable arguments (plus TTL) for every AWS::DynamoDB::Table of the template."""
    tables = []
    resolver = Resolver(template)
    for logical_id, res in active_resources("AWS::DynamoDB::Table", resolver).items():
        props = res["Properties"]
        spec: dict[str, Any] = {
            "TableName": resolver.physical_name(logical_id),
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
    """Create the template's tables that do not exist yet (returns their names); give the TTL the template
    names to a table of an earlier data folder that lacks it."""
    existing = set(client.list_tables().get("TableNames", []))
    created = []
    for table in table_definitions(template):
        name, ttl = table["create"]["TableName"], table["ttl_attribute"]
        if name in existing:
            if ttl and client.describe_time_to_live(TableName=name)["TimeToLiveDescription"].get(
                    "TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                client.update_time_to_live(TableName=name, TimeToLiveSpecification={"AttributeName": ttl,
                                                                                    "Enabled": True})
            continue
        client.create_table(**table["create"])
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={"AttributeName": ttl, "Enabled": True})
        created.append(name)
    return created


_PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::StackName": STACK_NAME,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
}
_NO_VALUE = object()


class Resolver:
    """CloudFormation's intrinsic functions over template.yaml, with local names and ARNs.

    `!Ref` answers what CloudFormation answers for each resource type (a table's name, a topic's
    ARN, a bucket's name, a queue's URL), `!GetAtt X.Arn` the ARN, parameters their default unless
    `overrides` gives another value.
    """

    def __init__(self, template: dict | None = None, overrides: dict[str, str] | None = None):
        self.template = template or load()
        self.overrides = dict(overrides or {})

    # ---- names ----------------------------------------------------------------------------------

    def resource(self, logical_id: str) -> dict:
        try:
            return self.template["Resources"][logical_id]
        except KeyError:
            raise TemplateError(f"template.yaml refers to unknown {logical_id}") from None

    def physical_name(self, logical_id: str) -> str:
        res = self.resource(logical_id)
        prop = _NAME_PROPERTY.get(res["Type"])
        given = (res.get("Properties") or {}).get(prop) if prop else None
        if given is not None:
            value = self.resolve(given)
            if isinstance(value, str) and value:
                return value
        return local_name(logical_id)

    def arn(self, logical_id: str) -> str:
        kind = self.resource(logical_id)["Type"]
        name = self.physical_name(logical_id)
        region, account = REGION, ACCOUNT_ID
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{region}:{account}:{name}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{region}:{account}:{name}"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"arn:aws:lambda:{region}:{account}:function:{logical_id}"
        if kind == "AWS::SSM::Parameter":
            return f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"
        if kind == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{region}:{account}:log-group:{name}:*"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{account}:role/{name}"
        return f"arn:aws:local:{region}:{account}:{logical_id}"

    def ref(self, name: str) -> Any:
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        params = self.template.get("Parameters", {})
        if name in params:
            if name in self.overrides:
                return str(self.overrides[name])
            if "Default" not in params[name]:
                raise TemplateError(f"parameter {name} has no Default: local mode needs one")
            default = params[name]["Default"]
            return ",".join(map(str, default)) if isinstance(default, list) else str(default)
        kind = self.resource(name)["Type"]
        if kind == "AWS::SNS::Topic":
            return self.arn(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{self.physical_name(name)}"
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return name  # local mode serves functions under their logical ids
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resource(logical_id)["Type"]
        if attribute == "Arn" or (kind == "AWS::SNS::Topic" and attribute == "TopicArn"):
            return self.arn(logical_id)
        if attribute in ("TopicName", "QueueName", "Name"):
            return self.physical_name(logical_id)
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        if attribute in ("DomainName", "RegionalDomainName"):
            return f"{self.physical_name(logical_id)}.s3.amazonaws.com"
        raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not known to local mode")

    # ---- conditions and intrinsic functions ------------------------------------------------------

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"template.yaml refers to unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    def active(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false (CloudFormation does not create it)."""
        name = self.resource(logical_id).get("Condition")
        return True if name is None else self.condition(name)

    def resolve(self, value: Any) -> Any:  # noqa: C901 - one branch per CloudFormation intrinsic, read as a table
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                delimiter, items = arg
                return delimiter.join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                delimiter, text = arg
                return str(self.resolve(text)).split(delimiter)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in arg)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not known to local mode")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template.get("Resources", {}):
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)


def function_environment(logical_id: str, template: dict | None = None,
                         overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a function gets on AWS, with local names and ARNs and the parameters' defaults."""
    resolver = Resolver(template, overrides)
    doc = resolver.template
    env = dict(doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    props = doc["Resources"][logical_id]["Properties"]
    env.update(props.get("Environment", {}).get("Variables", {}))
    resolved = {k: resolver.resolve(v) for k, v in env.items()}
    return {k: str(v) for k, v in resolved.items() if v is not _NO_VALUE}


def functions(template: dict | None = None) -> dict[str, dict]:
    """Logical id → {code_uri, handler} of every AWS::Serverless::Function."""
    doc = template or load()
    return {
        logical_id: {"code_uri": Path(doc.get("__dir__", ROOT)) / res["Properties"]["CodeUri"],
                     "handler": res["Properties"]["Handler"]}
        for logical_id, res in resources("AWS::Serverless::Function", doc).items()
    }


# ---- what local mode serves, read from the template's resource types ------------------------------


def active_resources(kind: str, resolver: Resolver) -> dict[str, dict]:
    return {k: v for k, v in resources(kind, resolver.template).items() if resolver.active(k)}


@dataclass(frozen=True)
class Route:
    """An API event of a function: API Gateway sends METHOD PATH to it as a proxy event."""

    function: str
    method: str  # GET, POST, … or ANY
    path: str  # /webhook, /items/{id}, /{proxy+}
    payload_version: str  # "1.0" (Api, REST API) or "2.0" (HttpApi)


@dataclass(frozen=True)
class Schedule:
    function: str
    expression: str  # rate(5 minutes)
    source: str  # where the template says it


@dataclass(frozen=True)
class TopicSubscription:
    function: str
    topic: str  # logical id of a topic of the template, or the ARN of a topic from outside it


def api_routes(resolver: Resolver) -> list[Route]:
    routes = []
    for logical_id, res in active_resources("AWS::Serverless::Function", resolver).items():
        for event in (res["Properties"].get("Events") or {}).values():
            kind = event.get("Type")
            if kind not in ("Api", "HttpApi"):
                continue
            props = resolver.resolve(event.get("Properties") or {})
            method = str(props.get("Method", "ANY")).upper()
            path = props.get("Path", "/$default" if kind == "HttpApi" else None)
            if not path:
                raise TemplateError(f"{logical_id}: an Api event needs a Path")
            version = "1.0" if kind == "Api" else str(props.get("PayloadFormatVersion", "2.0"))
            routes.append(Route(logical_id, "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                                path, version))
    return routes


def schedules(resolver: Resolver) -> list[Schedule]:
    """Schedule and ScheduleV2 events of functions, and Scheduler schedules / Events rules that target one."""
    found = []
    fns = active_resources("AWS::Serverless::Function", resolver)
    for logical_id, res in fns.items():
        for name, event in (res["Properties"].get("Events") or {}).items():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                props = resolver.resolve(event.get("Properties") or {})
                if props.get("State", "ENABLED") == "DISABLED" or props.get("Enabled") is False:
                    continue
                expression = props.get("Schedule") or props.get("ScheduleExpression")
                found.append(Schedule(logical_id, str(expression), f"{logical_id}.Events.{name}"))
    arns = {resolver.arn(fn): fn for fn in fns}
    for kind, targets_of in (("AWS::Scheduler::Schedule", lambda p: [p.get("Target") or {}]),
                             ("AWS::Events::Rule", lambda p: p.get("Targets") or [])):
        for logical_id, res in active_resources(kind, resolver).items():
            props = resolver.resolve(res.get("Properties") or {})
            if props.get("State", "ENABLED") != "ENABLED" or not props.get("ScheduleExpression"):
                continue
            for target in targets_of(props):
                if target.get("Arn") in arns:
                    found.append(Schedule(arns[target["Arn"]], str(props["ScheduleExpression"]), logical_id))
    return found


def topic_subscriptions(resolver: Resolver) -> list[TopicSubscription]:
    """Topics that deliver to a function: SNS events of functions, and AWS::SNS::Subscription resources
    with protocol lambda (e.g. End User Messaging Social's topic, when its parameter is set)."""
    subs = []
    fns = active_resources("AWS::Serverless::Function", resolver)
    for logical_id, res in fns.items():
        for event in (res["Properties"].get("Events") or {}).values():
            if event.get("Type") == "SNS":
                topic = (event.get("Properties") or {}).get("Topic")
                if isinstance(topic, dict) and "Ref" in topic and topic["Ref"] in resolver.template["Resources"]:
                    if resolver.active(topic["Ref"]):
                        subs.append(TopicSubscription(logical_id, topic["Ref"]))
                elif topic is not None:
                    subs.append(TopicSubscription(logical_id, str(resolver.resolve(topic))))
    arns = {resolver.arn(fn): fn for fn in fns}
    names = set(fns)
    topics = {resolver.arn(t): t for t in active_resources("AWS::SNS::Topic", resolver)}
    for res in active_resources("AWS::SNS::Subscription", resolver).values():
        props = resolver.resolve(res.get("Properties") or {})
        if str(props.get("Protocol", "")).lower() != "lambda":
            continue
        endpoint = str(props.get("Endpoint", ""))
        function = arns.get(endpoint) or (endpoint if endpoint in names else None)
        topic = str(props.get("TopicArn", ""))
        if function and topic:
            subs.append(TopicSubscription(function, topics.get(topic, topic)))
    return subs


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days|second|seconds)\s*\)$")
_UNIT = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """rate(5 minutes) → 300. Local mode runs rates only (a cron needs a calendar, not a timer)."""
    match = _RATE.match(expression.strip())
    if not match or int(match.group(1)) <= 0:
        raise TemplateError(f"{expression!r} is not a rate(N minutes|hours|days) expression")
    return int(match.group(1)) * _UNIT[match.group(2).rstrip("s")]


def secure_parameters(resolver: Resolver) -> dict[str, str]:
    """SSM parameter names the functions read secrets from: env var → parameter name.

    A function variable ending in `_PARAMETER`, or one that refers to a template parameter of
    type AWS::SSM::Parameter::Name, names an SSM parameter (SecureString on AWS, made by the operator).
    """
    params = resolver.template.get("Parameters", {})
    found: dict[str, str] = {}
    for logical_id in active_resources("AWS::Serverless::Function", resolver):
        env = dict(resolver.template.get("Globals", {}).get("Function", {}).get("Environment", {})
                   .get("Variables", {}))
        env.update(resolver.template["Resources"][logical_id]["Properties"].get("Environment", {})
                   .get("Variables", {}))
        for var, raw in env.items():
            ssm_typed = isinstance(raw, dict) and params.get(raw.get("Ref"), {}).get("Type") == \
                "AWS::SSM::Parameter::Name"
            if not (var.endswith("_PARAMETER") or ssm_typed):
                continue
            value = resolver.resolve(raw)
            secrets_manager = ("arn:aws:secretsmanager:", "secretsmanager:")
            if isinstance(value, str) and value and not value.startswith(secrets_manager):
                found[var] = value
    return found
