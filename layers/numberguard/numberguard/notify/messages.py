"""Turns a Change into a Notification: a JSON document for machines and a short text for people."""

from __future__ import annotations

from numberguard.domain.changes import Change
from numberguard.domain.check import iso
from numberguard.notify.publisher import Notification

# What it means and what to do, per type (the email's middle lines).
_GUIDANCE = {
    "STATUS_CHANGED": (
        "The number's status decides what it may send.",
        "Check the number in numberguard (numberguard numbers show) and in WhatsApp Manager.",
    ),
    "QUALITY_CHANGED": (
        "Quality reflects how recipients received recent messages; Low flags the number.",
        "If quality dropped, pause campaigns to this audience and review template content and opt-ins.",
    ),
    "LIMIT_CHANGED": (
        "The number may message this many unique recipients in a moving 24 hours; the limit check uses it now.",
        "Adjust campaign sizes to the new limit.",
    ),
    "FLAG_OUTCOME": (
        "Seven days after a Low rating the tier is kept (quality recovered) or lowered one step.",
        "If the tier was lowered, plan sends for the lower limit; quality must stay Medium or High to grow again.",
    ),
    "USAGE_WARNING": (
        "The number is close to its messaging limit for the moving 24 hours.",
        "Slow business-initiated sends or spread them over more numbers; replies in open windows still go.",
    ),
    "UPGRADE_ELIGIBLE": (
        "The number meets the criteria for the next tier; Meta decides and announces the upgrade.",
        "Nothing to do: keep quality up. numberguard applies the new limit when Meta reports it.",
    ),
    "ACCOUNT_RESTRICTED": (
        "The WhatsApp Business Account is restricted by Meta.",
        "Review the account in Business Support Home; numberguard denies the restricted sends until it expires.",
    ),
}


def notification_for(change: Change, number: dict) -> Notification:
    document = {
        "id": change.id,
        "type": change.type,
        "phone_number_id": change.phone_number_id,
        "display_phone_number": number.get("display_phone_number"),
        "waba_id": number.get("waba_id"),
        "scope": change.scope or number.get("scope"),
        "from": change.before,
        "to": change.after,
        "reason": change.reason,
        "at": iso(change.at),
        "severity": change.severity,
    }
    means, todo = _GUIDANCE.get(change.type, ("", "Check the number in numberguard."))
    who = number.get("display_phone_number") or change.phone_number_id
    subject = f"numberguard: {who} {change.type.replace('_', ' ').lower()}"
    if change.before or change.after:
        subject += f" ({change.before or '-'} → {change.after or '-'})"
    lines = [
        f"What happened: {who} ({change.phone_number_id}) {change.type.replace('_', ' ').lower()}"
        + (f" from {change.before} to {change.after}" if change.before or change.after else "")
        + f" at {iso(change.at)} ({change.reason}).",
        f"What it means: {means}",
        f"What to do: {todo}",
        "numberguard re-evaluates the number on its next scheduled run and on every webhook from Meta.",
    ]
    return Notification(
        id=change.id, type=change.type, severity=change.severity, document=document, email="\n".join(lines),
        subject=subject,
    )
