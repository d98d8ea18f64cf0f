"""Turns a Change into a Notification: a JSON document for machines and a short text for people.

Everything a notification says is derived from its JSON document, so the outbox can publish a stored
history entry again, word for word, after a failed publish.
"""

from __future__ import annotations

from datetime import UTC, datetime

from numberguard.domain.changes import Change
from numberguard.domain.check import iso
from numberguard.domain.evaluation import FLAG_OUTCOME_AFTER
from numberguard.domain.templates import TemplateRef
from numberguard.notify.publisher import Notification

# What it means and what to do, per type (the email's middle lines).
_GUIDANCE = {
    "STATUS_CHANGED": (
        "The number's status decides what it may send.",
        "Check the number in numberguard (numberguard numbers show) and in WhatsApp Manager.",
    ),
    "QUALITY_CHANGED": (
        "Quality reflects how recipients received recent messages (blocks, reports); Low flags the number.",
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
        "The number is close to its messaging limit for the moving 24 hours; at 100 % new recipients are denied.",
        "Slow business-initiated sends or spread them over more numbers; replies in open windows still go.",
    ),
    "UPGRADE_ELIGIBLE": (
        "The number meets Meta's criteria for the next tier; Meta decides and announces the upgrade.",
        "Nothing to do: keep quality up. numberguard applies the new limit when Meta reports it.",
    ),
    "ACCOUNT_RESTRICTED": (
        "Meta restricts what the WhatsApp Business Account may send; numberguard denies those sends until expiry.",
        "Review the account in Business Support Home and the policy notice Meta sent.",
    ),
    "HEALTH_CHANGED": (
        "Meta's health status says whether the number, its WABA and its business may send: BLOCKED denies every "
        "send from the number, LIMITED allows sends with Meta's advice as warnings.",
        "Follow Meta's advice in WhatsApp Manager; numberguard follows Meta's next read.",
    ),
    "META_ACCESS_FAILED": (
        "numberguard cannot read Meta's current state (limits, quality, health): it keeps what it knew and "
        "still applies webhooks, but missed changes are not corrected until access works again.",
        "Put a valid Graph API access token in the MetaAccessTokenParameter SSM parameter (a system user token "
        "with whatsapp_business_management).",
    ),
    "NUMBER_ON_HOLD": (
        "Meta refused a send from this number with error 131048 (spam rate limit): too many of its recent messages "
        "were blocked or flagged as spam. numberguard denies its business-initiated sends "
        "(DENIED_SPAM_RATE_LIMITED) until the hold ends; replies inside open service windows still go.",
        "Stop campaigns from this number (do not retry them), review what recipients blocked or reported, and watch "
        "its quality and health in WhatsApp Manager before resuming.",
    ),
    "META_ACCESS_RESTORED": (
        "numberguard reads Meta's state again; what changed during the outage is applied on this run.",
        "Nothing to do.",
    ),
}

_STATUS_MEANS = {
    "FLAGGED": (
        "Quality is Low. The number still sends within its limit but cannot move up a tier; if quality is not "
        "Medium or High again by day 7, the limit drops one tier.",
        "Pause or slow marketing sends from this number and review what recipients blocked or reported.",
    ),
    "RESTRICTED": (
        "The number has used its whole messaging limit for the moving 24 hours: new recipients are denied; "
        "replies inside open service windows still go.",
        "Hold business-initiated sends to new recipients (or use another number) until slots free.",
    ),
    "BANNED": (
        "Meta disabled the WhatsApp Business Account: numberguard denies every send from its numbers.",
        "Appeal in Business Support Home; numberguard resumes when Meta reinstates the account.",
    ),
    "BLOCKED": (
        "Meta says the number, its WABA or its business cannot send (its health status, or a send Meta refused with "
        "131042, 368 or 131031): numberguard denies every send from it (DENIED_BLOCKED_BY_META).",
        "Fix what Meta names (payment method, policy restriction, locked account) in WhatsApp Manager or Business "
        "Support Home; numberguard lifts the block on Meta's word (a successful send, a reinstatement, a Graph read).",
    ),
    "CONNECTED": (
        "The number is back to normal: it may send within its messaging limit.",
        "Nothing to do; resume paused sends within the limit.",
    ),
}


def _day(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def document_of(change: Change, number: dict) -> dict:
    return dict(change.detail) | {
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


def notice_document(change: Change, waba_id: str) -> dict:
    """A notice about a WABA or the Graph token: published once, `waba_id` set, `phone_number_id` null."""
    return dict(change.detail) | {
        "id": change.id, "type": change.type, "phone_number_id": None, "display_phone_number": None,
        "waba_id": waba_id, "scope": None, "from": change.before, "to": change.after, "reason": change.reason,
        "at": iso(change.at), "severity": change.severity,
    }


def notification_for(change: Change, number: dict) -> Notification:
    return notification_from_document(document_of(change, number))


def notification_from_document(document: dict) -> Notification:
    if document["type"] == TEMPLATE_STATUS_CHANGED:
        email, subject = template_email_text(document), template_subject(document)
    else:
        email, subject = email_text(document), subject_of(document)
    return Notification(
        id=document["id"], type=document["type"], severity=document["severity"], document=document,
        email=email, subject=subject,
    )


# ---- templates: a notice about a WABA's template, published once (phone_number_id null) ----------------

TEMPLATE_STATUS_CHANGED = "TEMPLATE_STATUS_CHANGED"


def template_document(change: Change, waba_id: str, template: TemplateRef, template_id: str | None,
                      until: int | None) -> dict:
    """The JSON document of a template's change (`change.phone_number_id` is its history subject)."""
    return {
        "id": change.id,
        "type": TEMPLATE_STATUS_CHANGED,
        "phone_number_id": None,
        "display_phone_number": None,
        "waba_id": waba_id,
        "scope": None,
        "from": change.before,
        "to": change.after,
        "reason": change.reason,
        "at": iso(change.at),
        "severity": change.severity,
        "template_name": template.name,
        "template_language": template.language,
        "template_id": template_id,
        "until": None if until is None else iso(until),
    }


def _template_who(document: dict) -> str:
    return f"template {document['template_name']!r} ({document['template_language']}) of WABA {document['waba_id']}"


def template_subject(document: dict) -> str:
    return f"numberguard: {_template_who(document)}: {document.get('to') or '-'}"


def _template_next(to: str) -> tuple[str, str]:
    """(what Meta does next, what to do) after a template's change to `to`."""
    edit = ("Edit the template (content, audience, opt-ins) and move traffic to another approved template "
            "meanwhile; numberguard denies sends naming it (DENIED_TEMPLATE_*) so none is wasted.")
    if to.startswith("PAUSED (pacing"):
        return ("Meta holds it until it is unpaused (in WhatsApp Manager or by Meta); it does not end by itself.",
                "Unpause it in WhatsApp Manager when ready, or use another template; numberguard allows it again "
                "when Meta reports it approved.")
    if to.startswith("PAUSED (as Meta's template list"):
        return ("Meta's template list shows it paused (a read does not say which pause, nor its end); numberguard "
                "holds it until a read or a webhook says it is approved again.", edit)
    if to.startswith("PAUSED (first"):
        return ("If its quality stays low after the pause, Meta pauses it again for 6 hours; a third time it is "
                "disabled for good (error 132016).", edit)
    if to.startswith("PAUSED"):
        return ("If its quality stays low, Meta disables it for good next time (error 132016).", edit)
    if to == "DISABLED":
        return ("It stays disabled: only Meta can reinstate it (after an appeal or an edit).",
                "Move its traffic to another template; create a new one if needed, or appeal in WhatsApp Manager.")
    if to == "quality RED":
        return ("Meta may pause it: 3 hours the first time, 6 hours the second, disabled the third.", edit)
    return ("It may be sent again; numberguard allows sends naming it.", "Resume the sends that used it.")


def template_email_text(document: dict) -> str:
    until = f" until {document['until']}" if document.get("until") else ""
    happened = (f"{_template_who(document)} changed from {document.get('from') or 'unknown'} to "
                f"{document.get('to') or 'unknown'}{until} at {document['at']} ({document['reason']}).")
    meta_next, todo = _template_next(document.get("to") or "")
    return "\n".join([
        f"What happened: {happened}",
        f"What Meta does next: {meta_next}",
        f"What to do: {todo}",
        "When it is re-evaluated: on every template webhook from Meta; a timed pause ends by itself at its time.",
        f"Notification id: {document['id']} (the same id on any repeat of this notification).",
    ])


def _who(document: dict) -> str:
    if not document.get("phone_number_id"):
        return f"WABA {document.get('waba_id') or '-'}"
    display = document.get("display_phone_number")
    return f"+{display}" if display and not display.startswith("+") else display or document["phone_number_id"]


def _words(kind: str) -> str:
    return kind.replace("_", " ").lower()


def subject_of(document: dict) -> str:
    subject = f"numberguard: {_who(document)} {_words(document['type'])}"
    if document.get("from") or document.get("to"):
        subject += f" ({document.get('from') or '-'} → {document.get('to') or '-'})"
    return subject


def _happened(document: dict) -> str:
    kind, before, after = document["type"], document.get("from"), document.get("to")
    subject = _who(document)
    if document.get("phone_number_id"):
        subject += f" (phone_number_id {document['phone_number_id']})"
    when, why = document["at"], document["reason"]
    if kind == "USAGE_WARNING":
        return f"{subject} reached {after} of its messaging limit at {when} ({why})."
    if kind == "UPGRADE_ELIGIBLE":
        return f"{subject} meets the criteria to move from {before} to {after} since {when} ({why})."
    if kind == "FLAG_OUTCOME":
        return f"{subject}: the 7-day Flagged evaluation ended at {when}: {before} → {after} ({why})."
    if kind in ("META_ACCESS_FAILED", "META_ACCESS_RESTORED"):
        return f"{subject}: {why} (at {when})."
    if kind == "HEALTH_CHANGED" and document.get("error"):
        return f"{subject}: Meta's health status changed from {before} to {after} at {when}: " \
               f"{document['error'].rstrip('.')}."
    if kind == "ACCOUNT_RESTRICTED":
        return f"{subject}: the account's restrictions changed at {when} from {before or 'none'} to " \
               f"{after or 'none'} ({why})."
    change = f" from {before} to {after}" if before or after else ""
    return f"{subject}: {_words(kind)}{change} at {when} ({why})."


def _meaning(document: dict) -> tuple[str, str]:
    kind, before, after = document["type"], document.get("from") or "", document.get("to") or ""
    if kind == "STATUS_CHANGED" and after in _STATUS_MEANS:
        return _STATUS_MEANS[after]
    means, todo = _GUIDANCE.get(kind, ("", "Check the number in numberguard."))
    if kind == "LIMIT_CHANGED" and "unlimited" in before and "unlimited" not in after:
        means += (" numberguard did not count recipients while the number was unlimited (Meta did), so it counts"
                  " the new limit as used for the next 24 hours: it never sends above what Meta allows.")
    if kind == "FLAG_OUTCOME" and "lowered" not in after:
        means = "The flag is settled and the tier is unchanged: the number is Connected again."
        todo = "Nothing to do; keep quality Medium or High."
    if kind == "HEALTH_CHANGED" and document.get("possible_solution"):
        todo = f"Meta says: {document['possible_solution']}"
    if kind == "USAGE_WARNING" and after.startswith("95"):
        todo = "Stop new business-initiated sends now unless they matter more than the ones that follow; " + todo
    return means, todo


def _re_evaluated(document: dict) -> str:
    kind, after = document["type"], document.get("to") or ""
    if kind == "STATUS_CHANGED" and after == "FLAGGED":
        at = _epoch(document["at"]) + FLAG_OUTCOME_AFTER
        return (f"numberguard decides the outcome on {_day(at)} (day 7), or earlier if Meta reports the number "
                "unflagged or a new limit.")
    if kind == "STATUS_CHANGED" and after == "RESTRICTED":
        return "numberguard checks on every scheduled run and tells you as soon as slots free."
    if kind == "FLAG_OUTCOME":
        return "This flag is settled; a new Low rating starts a new 7-day evaluation."
    if kind == "USAGE_WARNING":
        return ("numberguard checks usage on every scheduled run; it warns again for this level at the earliest "
                "24 hours from now.")
    if kind == "UPGRADE_ELIGIBLE":
        return ("Meta usually raises the tier within 24 hours (6 hours for a business portfolio); numberguard "
                "applies the new limit when Meta reports it and does not announce this tier again.")
    if kind in ("HEALTH_CHANGED", "META_ACCESS_FAILED"):
        return "numberguard reads Meta's state again on every Meta sync run (MetaSyncRate) and on every webhook."
    if kind == "NUMBER_ON_HOLD":
        return (f"The hold ends at {document.get('until') or 'its end'} by itself; each further 131048 extends it, "
                "and a refusal after it ended begins (and announces) a new one.")
    if kind == "ACCOUNT_RESTRICTED":
        return "numberguard lifts each restriction at its expiry and tells you, or earlier if Meta reports it lifted."
    return "numberguard re-evaluates the number on its next scheduled run and on every webhook from Meta."


def email_text(document: dict) -> str:
    means, todo = _meaning(document)
    return "\n".join([
        f"What happened: {_happened(document)}",
        f"What it means: {means}",
        f"What to do: {todo}",
        f"When it is re-evaluated: {_re_evaluated(document)}",
        f"Notification id: {document['id']} (the same id on any repeat of this notification).",
    ])
