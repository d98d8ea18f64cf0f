"""What a store's conditional write did, named (the use cases branch on these, never on strings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class MoveResult(StrEnum):
    MOVED = "moved"  # counter and records moved together
    STALE = "stale"  # a record no longer sits in the bucket it was read in: nothing written, re-read
    COUNTER = "counter"  # an old bucket of the counter holds fewer than moved from it (a batch moved them)
    CONFLICT = "conflict"  # another transaction held an item: retry


@dataclass(frozen=True)
class Moved:
    result: MoveResult
    stale: frozenset[str] = field(default_factory=frozenset)  # with STALE: the recipients that moved meanwhile


class ReleaseResult(StrEnum):
    RELEASED = "released"  # the record un-counted and its slot given back, together
    NOT_THAT_SLOT = "not_that_slot"  # the record is not that reference's slot (any more)
    FOLDED = "folded"  # the bucket had freed already: only the record was cleared
