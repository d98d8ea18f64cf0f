"""`numberguard simulate SCENARIO`: the real use cases on a fake clock over a scenario file.

Runs in this process on moto (DynamoDB, SNS, SQS, S3: no servers, no AWS). The intake, the limit
check and the evaluator are the layer's own, built as the functions build them but with a clock
the scenario moves; notifications go through the real SNS publisher to a topic with a queue
subscribed, and are read back into the timeline.

A scenario (JSON):

    {"description": "...", "policy": "per-number", "start": "2026-11-02T09:00:00Z", "until": "8d",
     "evaluator_every": "1h",
     "numbers": [{"phone_number_id": "...", "waba_id": "...", "display_phone_number": "...",
                  "tier": "TIER_10K", "quality": "GREEN", "portfolio_id": null}],
     "steps": [
        {"at": "0d", "quality": "FLAGGED"},                       Meta's phone_number_quality_update
        {"at": "3d", "quality": "UNFLAGGED", "current_limit": "TIER_1K"},
        {"at": "1d", "sends": {"per_hour": 400, "hours": 24, "recipients": "new"}},
        {"at": "2d", "webhook": "events/webhooks/quality-flagged.json"},   a raw body through the webhook intake
        {"at": "1h", "template": {"name": "order_confirmation", "language": "en_US", "event": "PAUSED",
                                  "title": "FIRST_PAUSE", "description": "... until Nov 2 at 1:00 PM UTC"}},
                                                                  Meta's message_template_status_update
        {"at": "1h", "template": {"name": "order_confirmation", "language": "en_US", "quality": "RED"}},
        {"at": "7d1h", "check": {"recipient": "16505551234", "template": {"name": "...", "language": "en_US"},
                                 "expect": {"decision": "DENIED_TEMPLATE_PAUSED", "retry_after_seconds": 10740}}},
        {"at": "2h", "refusal": {"code": 131048, "recipient": "16505551234"}}   Meta's failed status with that code
     ],
     "expect": {"<phone_number_id>": {"status": "CONNECTED", "tier": "TIER_1K", "limit": 1000},
                "notifications": {"include": ["FLAG_OUTCOME"], "exclude": ["LIMIT_CHANGED"]}}}

`at` is an offset from `start` (`3d`, `7d1h`, `90m`); `number` in a step picks one of several numbers
(default: the first). `expect` is checked at the end, a check's `expect` (fields of its answer) at the
check: simulate exits 1 when one does not hold.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from numberguard.webhooks import sign

from numberguard_ops import template

DAY = 86400
_OFFSET = re.compile(r"(\d+)\s*([dhms])")
_UNIT = {"d": DAY, "h": 3600, "m": 60, "s": 1}
SIM_APP_SECRET = "simulate-app-secret"  # noqa: S105 - signs the scenario's webhooks inside this process


class ScenarioError(ValueError):
    """The scenario file is wrong; the message names the step and field."""


def parse_offset(text: Any, where: str) -> int:
    if isinstance(text, int | float):
        return int(text)
    value = str(text).replace(" ", "").lower()
    if not value or _OFFSET.sub("", value):
        raise ScenarioError(f"{where}: {text!r} is not an offset like 3d, 7d1h, 90m")
    return sum(int(n) * _UNIT[u] for n, u in _OFFSET.findall(value))


def parse_time(text: str, where: str) -> int:
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not an ISO time like 2026-11-02T09:00:00Z") from None


class Clock:
    def __init__(self, now: int):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now


@dataclass
class Row:
    at: int
    kind: str  # step, sends, check, notification, evaluator, end, expect
    text: str
    data: dict = field(default_factory=dict)


@dataclass
class Result:
    scenario: str
    start: int
    rows: list[Row]
    final: dict[str, dict]
    failures: list[str]
    html: str | None = None  # the report page as of the scenario's end

    def as_dict(self) -> dict:
        return {"scenario": self.scenario, "start": self.start, "final": self.final, "failures": self.failures,
                "timeline": [{"at": r.at, "kind": r.kind, "text": r.text, **r.data} for r in self.rows]}


def load_scenario(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path} is not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScenarioError(f"{path} is not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("numbers"), list) or not doc["numbers"]:
        raise ScenarioError(f"{path}: a scenario is a JSON object with a non-empty \"numbers\" list")
    if not isinstance(doc.get("steps", []), list):
        raise ScenarioError(f"{path}: \"steps\" must be a list")
    doc["_path"] = str(path)
    return doc


def _stamp(at: int, start: int) -> str:
    offset = at - start
    day = offset // DAY
    clock = datetime.fromtimestamp(at, UTC).strftime("%H:%M")
    return f"day {day} {clock}" if offset >= 0 else f"{clock}"


class Simulation:
    def __init__(self, scenario: dict):
        self.scenario = scenario
        self.name = scenario.get("name") or Path(scenario.get("_path", "scenario")).stem
        self.start = parse_time(scenario.get("start", "2026-11-02T09:00:00Z"), "start")
        self.until = self.start + parse_offset(scenario.get("until", "8d"), "until")
        self.evaluator_every = parse_offset(scenario.get("evaluator_every", "1h"), "evaluator_every")
        if self.evaluator_every <= 0:
            raise ScenarioError("evaluator_every must be positive")
        self.policy = scenario.get("policy", "per-number")
        if self.policy not in ("per-number", "portfolio"):
            raise ScenarioError(f"policy must be per-number or portfolio, got {self.policy!r}")
        self.clock = Clock(self.start)
        self.rows: list[Row] = []
        self.numbers = {str(n.get("phone_number_id")): n for n in scenario["numbers"]}
        self.first = next(iter(self.numbers))
        self._recipient_counter = 0
        self.notified: list[dict] = []
        self.check_failures: list[str] = []

    # ---- the embedded AWS ----------------------------------------------------------------------

    def run(self) -> Result:
        from moto import mock_aws

        saved = dict(os.environ)
        try:
            for key in list(os.environ):
                if key.startswith("AWS_ENDPOINT_URL") or key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                                                                 "DYNAMODB_ENDPOINT"):
                    os.environ.pop(key)
            os.environ.update({"AWS_ACCESS_KEY_ID": "simulate", "AWS_SECRET_ACCESS_KEY": "simulate",
                               "AWS_SESSION_TOKEN": "simulate", "AWS_REGION": template.REGION,
                               "AWS_DEFAULT_REGION": template.REGION, "POWERTOOLS_TRACE_DISABLED": "true",
                               "POWERTOOLS_METRICS_DISABLED": "true",
                               "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR")})
            with mock_aws():
                return self._run()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def _build(self) -> None:
        import boto3
        from numberguard import wiring
        from numberguard.config import Settings
        from numberguard.notify.publisher import SnsPublisher
        from numberguard.store.client import reset_clients

        from numberguard_ops import embedded_aws

        env = template.function_environment("LimitCheckFunction", overrides={"LimitPolicy": self.policy})
        env.pop("DYNAMODB_ENDPOINT", None)
        reset_clients()  # clients made outside this embedded AWS must not be reused inside it
        self.settings = Settings.from_env(env)
        template.create_tables(boto3.client("dynamodb"))
        made = embedded_aws.create_resources(None, embedded_aws.Secrets(SIM_APP_SECRET))
        topic = self.settings.notification_topic_arn
        if topic is None or topic not in made.topics.values():
            raise ScenarioError(f"template.yaml has no topic {topic}")
        self.queue = embedded_aws.subscribe_queue(None, topic, "numberguard-simulate")
        self.sqs = boto3.client("sqs")
        from numberguard_ops.fakes import StaticSecrets

        self.parts = wiring.build(self.settings, clock=self.clock, publisher=SnsPublisher(boto3.client("sns"), topic),
                                  secrets=StaticSecrets(SIM_APP_SECRET, "simulate-verify-token"))
        self.checker = self.parts.limit_checker
        self.intake = self.parts.intake
        self.evaluator = self.parts.evaluator
        self.receiver = self.parts.webhook_receiver
        if self.settings.archive_bucket not in made.buckets:  # before the webhook intake's bucket is in the template
            boto3.client("s3").create_bucket(Bucket=self.settings.archive_bucket)

    def _run(self) -> Result:
        steps = []  # read before anything is built: a wrong step is reported at once
        for index, step in enumerate(self.scenario.get("steps", [])):
            where = f"steps[{index}]"
            if not isinstance(step, dict):
                raise ScenarioError(f"{where} must be an object")
            steps.append((self.start + parse_offset(step.get("at", "0d"), f"{where}.at"), index, step))
        steps.sort(key=lambda s: (s[0], s[1]))
        self._build()
        self._register()
        self.next_evaluation = self.start + self.evaluator_every
        for at, index, step in steps:
            if at > self.until:
                break
            self._catch_up(at)
            self._step(at, index, step)
        self._catch_up(self.until)
        self.clock.now = self.until
        final = {pnid: self._state(pnid) for pnid in self.numbers}
        for pnid, state in final.items():
            self._row(self.until, "end", f"{self._who(pnid)} {state['status']} quality {state['quality']}, "
                      f"{state['tier']} limit {_limit(state['limit'])} (the check answers this)", state)
        failures = self.check_failures + self._expectations(final)
        for line in failures:
            self._row(self.until, "expect", f"NOT AS EXPECTED: {line}")
        if self.scenario.get("expect") and not failures:
            self._row(self.until, "expect", "as expected")
        return Result(self.name, self.start, self.rows, final, failures, self._report())

    def _report(self) -> str:
        from numberguard_ops import report, template_views
        from numberguard_ops.views import number_view

        views = [v for v in (number_view(self.parts, pnid, self.until) for pnid in self.numbers) if v is not None]
        templates = template_views.collect(self.parts, sorted({v.waba_id for v in views}), self.until)
        return report.render(views, self.until, f"simulated scenario {self.name}", templates)

    # ---- steps ---------------------------------------------------------------------------------

    def _register(self) -> None:
        from numberguard.usecases.numbers import NumberRegistration, RegistrationError

        for pnid, n in self.numbers.items():
            try:
                self.parts.numbers.register(
                    NumberRegistration(pnid, str(n.get("waba_id", "")), str(n.get("display_phone_number", "")),
                                       str(n.get("tier", "")), n.get("portfolio_id"), n.get("status", "CONNECTED"),
                                       n.get("quality", "GREEN")),
                    int(self.clock()))
            except RegistrationError as err:
                raise ScenarioError(f"numbers[{pnid}]: {err}".replace("--", "")) from None
            self._row(self.start, "step", f"{self._who(pnid)} registered: {n.get('tier')}, quality "
                      f"{n.get('quality', 'GREEN')}, policy {self.policy}")

    def _number(self, step: dict, where: str) -> dict:
        pnid = str(step.get("number", self.first))
        if pnid not in self.numbers:
            raise ScenarioError(f"{where}.number: {pnid} is not one of the scenario's numbers")
        return self.numbers[pnid] | {"phone_number_id": pnid}

    def _step(self, at: int, index: int, step: dict) -> None:
        where = f"steps[{index}]"
        self.clock.now = at
        kinds = [k for k in ("quality", "sends", "webhook", "check", "capability", "template", "refusal") if k in step]
        if len(kinds) != 1:
            raise ScenarioError(f"{where}: give exactly one of quality, sends, webhook, check, capability, template, "
                                "refusal")
        getattr(self, f"_{kinds[0]}")(at, step, where)
        self._drain(at)

    def _quality(self, at: int, step: dict, where: str) -> None:
        from numberguard.domain.events import QualityUpdate
        from numberguard.domain.tiers import LimitSpellingError, parse_limit

        number = self._number(step, where)
        event = str(step["quality"]).upper()
        try:
            current = parse_limit(step["current_limit"]) if step.get("current_limit") else None
        except LimitSpellingError as err:
            raise ScenarioError(f"{where}.current_limit: {err}") from None
        self.intake.apply([QualityUpdate(str(number["waba_id"]), at, f"simulate-{event}-{at}",
                                         str(number["display_phone_number"]).lstrip("+"), event, current)])
        extra = f" (current_limit {step['current_limit']})" if step.get("current_limit") else ""
        self._row(at, "step", f"{self._who(number['phone_number_id'])} Meta reports quality {event}{extra}")

    def _capability(self, at: int, step: dict, where: str) -> None:
        from numberguard.domain.events import CapabilityUpdate
        from numberguard.domain.tiers import LimitSpellingError, parse_limit

        number = self._number(step, where)
        try:
            limit = parse_limit(step["capability"])
        except LimitSpellingError as err:
            raise ScenarioError(f"{where}.capability: {err}") from None
        event = CapabilityUpdate(str(number["waba_id"]), at, f"simulate-capability-{at}", portfolio_limit=limit,
                                 per_phone_limit=limit)
        self.intake.apply([event])
        self._row(at, "step", f"WABA {number['waba_id']}: Meta reports the limit {step['capability']}")

    def _template(self, at: int, step: dict, where: str) -> None:
        """Meta's word about a template of the number's WABA (status event, or a quality score)."""
        from numberguard.domain.events import TemplateQuality, TemplateStatusUpdate
        from numberguard.domain.templates import KNOWN_EVENTS, Category, StatusReading, pause_end

        spec = step["template"]
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ScenarioError(f"{where}.template must be an object with a name")
        number = self._number(step, where)
        waba = str(number["waba_id"])
        name, language = spec["name"], str(spec.get("language", "en_US"))
        key = f"simulate-template-{at}-{where}"
        if "quality" in spec:
            quality = str(spec["quality"]).upper()
            self.intake.apply([TemplateQuality(waba, at, key, str(spec.get("id", "")), name, None, quality, language)])
            self._row(at, "step", f"WABA {waba}: Meta reports template {name} ({language}) quality {quality}")
            return
        event = str(spec.get("event", "")).upper()
        if event not in KNOWN_EVENTS:
            raise ScenarioError(f"{where}.template.event: {spec.get('event')!r} is not one of Meta's template events")
        title = str(spec["title"]).upper() if spec.get("title") else None
        until = pause_end(spec.get("description"), at) if event == "PAUSED" else None
        self.intake.apply([TemplateStatusUpdate(waba, at, key, spec.get("id"), name, language,
                                                StatusReading(event, title, until),
                                                Category.read(spec.get("category")))])
        said = f" {title}" if title else ""
        self._row(at, "step", f"WABA {waba}: Meta reports template {name} ({language}) {event}{said}",
                  {"number": number["phone_number_id"]})

    def _refusal(self, at: int, step: dict, where: str) -> None:
        """Meta refuses one of the number's sends: a failed status with the step's error code."""
        from numberguard.domain.events import MessageStatus

        spec = step["refusal"]
        code = spec.get("code") if isinstance(spec, dict) else None
        if not isinstance(code, int) or isinstance(code, bool):
            raise ScenarioError(f"{where}.refusal must be an object with an integer code (e.g. 131048)")
        number = self._number(step, where)
        recipient = str(spec.get("recipient", "16505551234"))
        wamid = f"wamid.simulate{at}{code}{recipient}"
        summary = self.intake.apply([MessageStatus(str(number["waba_id"]), at, f"{wamid}#failed",
                                                   number["phone_number_id"], recipient, wamid, "failed",
                                                   spec.get("reference"), (code,))])
        counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()) if not k.startswith("status_"))
        self._row(at, "step", f"{self._who(number['phone_number_id'])} Meta refuses a send to {recipient} with "
                  f"{code} ({counts})")

    def _sends(self, at: int, step: dict, where: str) -> None:
        spec = step["sends"]
        if not isinstance(spec, dict):
            raise ScenarioError(f"{where}.sends must be an object")
        number = self._number(spec | {"number": step.get("number", spec.get("number", self.first))}, where)
        try:
            per_hour, hours = int(spec.get("per_hour", 0)), int(spec.get("hours", 1))
        except (TypeError, ValueError):
            raise ScenarioError(f"{where}.sends: per_hour and hours must be whole numbers") from None
        if not 0 < per_hour <= 100_000 or not 0 < hours <= 24 * 31:
            raise ScenarioError(f"{where}.sends: per_hour 1..100000 and hours 1..744")
        pool = spec.get("recipients", "new")
        allowed = denied = 0
        decisions: dict[str, int] = {}
        last = {}
        for hour in range(hours):
            self._catch_up(at + hour * 3600)
            self.clock.now = at + hour * 3600
            recipients = [self._recipient(pool, where) for _ in range(per_hour)]
            for i in range(0, len(recipients), 1000):
                answer = self.checker.handle({"phone_number_id": number["phone_number_id"],
                                              "recipients": recipients[i:i + 1000],
                                              "message": spec.get("message", "template")}
                                             | ({"category": spec["category"]} if "category" in spec else {}))
                for result in answer.get("results") or [answer]:
                    decisions[result["decision"]] = decisions.get(result["decision"], 0) + 1
                    if result.get("allowed"):
                        allowed += 1
                    else:
                        denied += 1
                last = answer
        parts = ", ".join(f"{v} {k}" for k, v in sorted(decisions.items()))
        self._row(at, "sends", f"{self._who(number['phone_number_id'])} {per_hour}/h for {hours} h: {allowed} allowed, "
                  f"{denied} denied ({parts}); used {last.get('used')} of {_limit(last.get('limit'))}",
                  {"allowed": allowed, "denied": denied, "decisions": decisions})

    def _recipient(self, pool: Any, where: str) -> str:
        self._recipient_counter += 1
        if pool == "new":
            return f"1999{self._recipient_counter:08d}"
        match = re.fullmatch(r"pool:(\d+)", str(pool))
        if not match or int(match.group(1)) <= 0:
            raise ScenarioError(f"{where}.sends.recipients: 'new' or 'pool:N', got {pool!r}")
        return f"1888{self._recipient_counter % int(match.group(1)):08d}"

    def _webhook(self, at: int, step: dict, where: str) -> None:
        body = step["webhook"]
        if isinstance(body, str):
            path = Path(body) if Path(body).is_absolute() else template.ROOT / body
            try:
                raw = path.read_bytes()
            except OSError as err:
                raise ScenarioError(f"{where}.webhook: cannot read {body}: {err.strerror or err}") from None
            label = body
        else:
            raw, label = json.dumps(body).encode(), "inline body"
        if self.receiver is None:
            raise ScenarioError(f"{where}: webhook steps need the webhook intake (numberguard.webhooks), "
                                "which this build does not have yet; use a quality step")
        answer = self.receiver.receive(raw, sign(raw, SIM_APP_SECRET))
        self._row(at, "step", f"webhook {label} → {answer.status} {json.dumps(answer.body)[:120]}")

    def _check(self, at: int, step: dict, where: str) -> None:
        spec = step["check"] if isinstance(step["check"], dict) else {}
        number = self._number(spec | {"number": step.get("number", spec.get("number", self.first))}, where)
        payload = {"phone_number_id": number["phone_number_id"], "recipient": str(spec.get("recipient", "16505551234")),
                   "message": spec.get("message", "template"), "dry_run": bool(spec.get("dry_run"))}
        payload |= {k: spec[k] for k in ("template", "category") if k in spec}
        answer = self.checker.handle(payload)
        named = f" naming {spec['template'].get('name')}" if isinstance(spec.get("template"), dict) else ""
        retry = f", retry in {answer['retry_after_seconds']} s" if answer.get("retry_after_seconds") else ""
        self._row(at, "check", f"{self._who(number['phone_number_id'])} check{named} → {answer['decision']}{retry} "
                  f"(status {answer.get('status')}, {answer.get('tier')}, used {answer.get('used')} of "
                  f"{_limit(answer.get('limit'))})", {"answer": answer})
        for field_name, wanted in (spec.get("expect") or {}).items():
            if answer.get(field_name) != wanted:
                self.check_failures.append(f"{where} (check at {_stamp(at, self.start)}): {field_name} is "
                                           f"{answer.get(field_name)!r}, expected {wanted!r}")

    # ---- the evaluator and the notifications ---------------------------------------------------

    def _catch_up(self, now: int) -> None:
        """The evaluator's scheduled runs up to `now` (and within the scenario), in time order."""
        while self.next_evaluation <= min(now, self.until):
            self._evaluate(self.next_evaluation)
            self.next_evaluation += self.evaluator_every

    def _evaluate(self, at: int) -> None:
        self.clock.now = at
        summary = self.evaluator.run()
        if summary["changes"]:
            self._row(at, "evaluator", f"evaluator: {', '.join(summary['changes'])}", {"summary": summary})
        self._drain(at)

    def _drain(self, at: int) -> None:
        while True:
            reply = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                return
            for message in messages:
                envelope = json.loads(message["Body"])
                document = json.loads(envelope["Message"])
                self.notified.append(document)
                moved = f" {document.get('from') or '-'} → {document.get('to') or '-'}"
                self._row(at, "notification", f"notification {document['severity']} {document['type']}"
                          f"{moved}: {document['reason']}", {"document": document})
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    # ---- the end -------------------------------------------------------------------------------

    def _state(self, pnid: str) -> dict:
        answer = self.checker.handle({"phone_number_id": pnid, "recipient": "10000000000", "message": "template",
                                      "dry_run": True})
        return {k: answer.get(k) for k in ("status", "quality", "tier", "limit", "used")}

    def _expectations(self, final: dict[str, dict]) -> list[str]:
        expect = self.scenario.get("expect") or {}
        failures = []
        for pnid, wanted in expect.items():
            if pnid == "notifications":
                types = [d["type"] for d in self.notified]
                failures += [f"a {t} notification was expected" for t in wanted.get("include", []) if t not in types]
                failures += [f"no {t} notification was expected ({types.count(t)} sent)"
                             for t in wanted.get("exclude", []) if t in types]
                continue
            if pnid not in final:
                failures.append(f"expect names {pnid}, not one of the scenario's numbers")
                continue
            for key, value in wanted.items():
                if final[pnid].get(key) != value:
                    failures.append(f"{pnid} {key} is {final[pnid].get(key)!r}, expected {value!r}")
        return failures

    def _who(self, pnid: str) -> str:
        display = str(self.numbers[pnid].get("display_phone_number", pnid))
        return display if display.startswith("+") else f"+{display}"

    def _row(self, at: int, kind: str, text: str, data: dict | None = None) -> None:
        self.rows.append(Row(at, kind, text, data or {}))


def _limit(value: Any) -> str:
    return "unlimited" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def timeline_lines(result: Result) -> list[str]:
    lines = [f"scenario {result.scenario} (times from {datetime.fromtimestamp(result.start, UTC):%Y-%m-%d %H:%M} UTC)"]
    for row in result.rows:
        lines.append(f"{_stamp(row.at, result.start):<13} {row.text}")
    return lines


def simulate(path: Path) -> Result:
    return Simulation(load_scenario(path)).run()
