"""`numberguard numbers add | list | show`: register and describe the phone numbers numberguard guards."""

from __future__ import annotations

import argparse
import time
from typing import Any

from numberguard.domain.status import Connection, Quality, quality_spellings
from numberguard.domain.tiers import TIER_LIMITS

from numberguard_ops.cli.common import (
    EXIT_OK,
    CliError,
    Commands,
    Parents,
    Parser,
    open_store,
    print_json,
    spelled,
    store_call,
    upper_choice,
)

STATUSES = tuple(c.value for c in Connection)
QUALITIES = quality_spellings()  # Meta's GREEN/YELLOW/RED and the High/Medium/Low spellings
TIERS = tuple(TIER_LIMITS)


def add_parsers(commands: Commands, parents: Parents) -> None:
    numbers = commands.add_parser("numbers", help="register and describe phone numbers",
                                  description="Register and describe the phone numbers numberguard guards.")
    actions = numbers.add_subparsers(dest="numbers_command", metavar="ACTION", parser_class=Parser)
    actions.required = True

    add = actions.add_parser("add", parents=[parents.store], help="register a phone number and its tier",
                             description="Register a phone number with its current messaging limit tier.")
    add.add_argument("--phone-number-id", required=True, help="Meta's phone number id (digits)")
    add.add_argument("--waba-id", required=True, help="the WhatsApp Business Account id (digits)")
    add.add_argument("--display-phone-number", required=True, help="the number as people dial it, e.g. +15550783881")
    add.add_argument("--tier", required=True,
                     help=f"current messaging limit: {', '.join(TIERS)}, or a whole number of recipients")
    add.add_argument("--portfolio-id", help="business portfolio id (required by the portfolio policy)")
    add.add_argument("--status", type=upper_choice(STATUSES), default=Connection.CONNECTED.value,
                     help=f"connection status: {spelled(STATUSES)} (default %(default)s)")
    add.add_argument("--quality", type=upper_choice(QUALITIES), default=Quality.UNKNOWN.value,
                     help=f"quality rating: {spelled([q.value for q in Quality])} (default %(default)s, until Meta "
                          "reports it)")
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", parents=[parents.store], help="list the registered numbers")
    listing.set_defaults(handler=cmd_list)

    from numberguard_ops.cli.meta import add_import

    add_import(actions, parents)

    show = actions.add_parser("show", parents=[parents.store], help="show one number")
    show.add_argument("phone_number_id", help="Meta's phone number id")
    show.add_argument("--recipient", metavar="ID",
                      help="also show this person's pair rate with the number: Meta's 131056 backoff and, with "
                           "PairRateGuard on, the tokens left (a phone number, a BSUID or a parent BSUID)")
    show.set_defaults(handler=cmd_show)


def display(digits: str | None) -> str:
    return f"+{digits}" if digits and not digits.startswith("+") else (digits or "-")


def limit_text(number: dict[str, Any]) -> str:
    if number.get("tier") is None:
        return "no limit counter"
    if number.get("limit") is None:
        return f"{number['tier']} (unlimited)"
    return f"{number['tier']} ({number['limit']:,} unique recipients per moving 24 h)"


def _limit_cell(number: dict[str, Any]) -> str:
    if number.get("limit") is not None:
        return f"{number['limit']:,}"
    return "unlimited" if number.get("tier") else "-"


def _number_lines(number: dict[str, Any]) -> list[str]:
    flagged = number.get("flagged_at")
    flagged_text = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(flagged)) if flagged else "no"
    return [
        f"{number['phone_number_id']}  {display(number['display_phone_number'])}",
        f"  WABA          {number['waba_id']}",
        f"  portfolio     {number.get('portfolio_id') or '-'}",
        f"  connection    {number['connection']}",
        f"  banned        {'yes' if number.get('banned') else 'no'}",
        f"  quality       {number['quality']}",
        f"  flagged       {flagged_text}",
        f"  limit         {limit_text(number)}",
        f"  counted in    {number['scope']}",
        *_refusal_lines(number),
    ]


def _refusal_lines(number: dict[str, Any]) -> list[str]:
    """What Meta's refusals left: the hold (131048), the WABA's block, the people in marketing cooldown."""
    def at(epoch: int | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else "-"

    hold, block = number.get("hold_until"), number.get("meta_block")
    held = f"until {at(hold)} (131048: business-initiated sends denied)" if hold and hold > time.time() else "no"
    blocked = f"{block} since {at(number.get('meta_block_at'))} (every send denied)" if block else "no"
    return [
        f"  on hold       {held}",
        f"  blocked       {blocked}",
        f"  cooldowns     {number.get('cooldowns_24h', 0)} people refused a marketing message (131049) in 24 h",
    ]


def _pair_view(parts: Any, number: dict[str, Any], recipient: str, now: int) -> dict[str, Any]:
    """One person's pair with the number as the check reads it: the person key its bucket lives under
    (the recipient's, or its linked person's), Meta's 131056 backoff over every id of the person and,
    with PairRateGuard on, the bucket's tokens (DESIGN §3 row 6)."""
    from numberguard.domain.check import RecipientView, pair_of
    from numberguard.domain.pairrate import CAPACITY, next_token_at
    from numberguard.domain.people import link_space

    space = link_space(number.get("portfolio_id"), number["waba_id"])
    link = parts.people_store.links(space, [recipient]).get(recipient)
    person = link.person if link is not None else None
    ids = sorted(person.ids) if person is not None and recipient in person.ids else [recipient]
    states = parts.pair_store.get_many(number["phone_number_id"], ids)
    key, pair = pair_of(recipient, person, {i: RecipientView(pair=s) for i, s in states.items()})
    found, guard = pair.backoff(), parts.settings.pair_rate_guard
    return {
        "recipient": recipient, "person_key": key, "ids": ids,
        "backoff_until": pair.backoff_until(now),
        "backoff_exponent": found.exponent if found is not None and found.until > now else None,
        "refusals_131056": len(pair.strikes),
        "pair_rate_guard": guard,
        "tokens": pair.tokens(now) if guard else None, "capacity": CAPACITY,
        "next_token_at": next_token_at(pair.tat, now) if guard else None,
    }


def _pair_lines(pair: dict[str, Any]) -> list[str]:
    def at(epoch: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))

    who = pair["recipient"] + (f" (person {pair['person_key']}: {', '.join(pair['ids'])})"
                               if len(pair["ids"]) > 1 else "")
    until = pair["backoff_until"]
    backoff = (f"until {at(until)} (Meta's 131056: 4^{pair['backoff_exponent']} s after its latest refusal)"
               if until else f"none ({pair['refusals_131056']} refusals 131056 kept)")
    if not pair["pair_rate_guard"]:
        tokens = "PairRateGuard off (no tokens spent; Meta's backoff still denies)"
    else:
        tokens = f"{pair['tokens']} of {pair['capacity']} (one back every 6 s)"
        tokens += f"; the next at {at(pair['next_token_at'])}" if pair["next_token_at"] else ""
    return [f"  pair with     {who}", f"  pair backoff  {backoff}", f"  pair tokens   {tokens}"]


def cmd_add(args: argparse.Namespace) -> int:
    from numberguard.usecases.numbers import NumberRegistration
    from numberguard.wiring import build

    settings, where, hint = open_store(args)
    registration = NumberRegistration(
        phone_number_id=args.phone_number_id,
        waba_id=args.waba_id,
        display_phone_number=args.display_phone_number,
        tier=args.tier,
        portfolio_id=args.portfolio_id,
        connection=args.status,
        quality=args.quality,
    )
    number = store_call(where, hint, build(settings).numbers.register, registration, int(time.time()))
    if args.json:
        print_json(number)
        return EXIT_OK
    print(f"Registered {number['phone_number_id']} ({display(number['display_phone_number'])}) in {where}: "
          f"{number['connection']}, quality {number['quality']}, {limit_text(number)}, counted in {number['scope']}"
          + (" (the portfolio's existing limit was kept)" if number.get("limit_was_shared") else "") + ".")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from numberguard.wiring import build

    settings, where, hint = open_store(args)
    numbers = store_call(where, hint, build(settings).numbers.list_all)
    if args.json:
        print_json(numbers)
        return EXIT_OK
    if not numbers:
        print(f"No numbers registered in {where}. Add one with: numberguard numbers add --phone-number-id ID "
              "--waba-id ID --display-phone-number +1... --tier TIER_1K")
        return EXIT_OK
    rows = [("PHONE NUMBER ID", "DISPLAY", "WABA", "CONNECTION", "QUALITY", "TIER", "LIMIT", "SCOPE")]
    for n in numbers:
        status = "BANNED" if n.get("banned") else n["connection"]
        rows.append((n["phone_number_id"], display(n["display_phone_number"]), n["waba_id"], status,
                     n["quality"], n.get("tier") or "-", _limit_cell(n), n["scope"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from numberguard.wiring import build

    recipient = _recipient(args.recipient)
    settings, where, hint = open_store(args)
    parts = build(settings)
    number = store_call(where, hint, parts.numbers.show, args.phone_number_id)
    if number is None:
        raise CliError(f"phone_number_id {args.phone_number_id} is not registered in {where} "
                       "(numberguard numbers list shows the registered numbers)")
    now = int(time.time())
    number["cooldowns_24h"] = store_call(where, hint, parts.refusals.cooled_since, args.phone_number_id,
                                         now - 24 * 3600)
    if recipient is not None:
        number["pair"] = store_call(where, hint, _pair_view, parts, number, recipient, now)
    if args.json:
        print_json(number)
    else:
        print("\n".join(_number_lines(number) + (_pair_lines(number["pair"]) if recipient is not None else [])))
    return EXIT_OK


def _recipient(value: str | None) -> str | None:
    """--recipient checked by the forms the check uses (None: not asked)."""
    from numberguard.domain.people import InvalidId, recipient_id

    if value is None:
        return None
    try:
        return recipient_id(value, "--recipient")
    except InvalidId as err:
        raise CliError(str(err)) from None
