"""`numberguard usage` and the report label each row of the 24 h histogram by the hour it spans:
the newest row ends now and the oldest starts 24 h back (a row labelled by its start read as an
hour behind)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from numberguard.domain.window import DAY_SECONDS, Window

from numberguard_ops.report import usage_chart_svg
from numberguard_ops.views import HOURS, NumberView, hourly_counts, usage_lines

NOW = int(datetime(2026, 11, 24, 21, 35, 20, tzinfo=UTC).timestamp())
WINDOW = Window(600)


def hhmm(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M")


def view(hourly: list[int]) -> NumberView:
    return NumberView(phone_number_id="106540352242922", display_phone_number="15550783881",
                      waba_id="102290129340398", scope="N#106540352242922", status="CONNECTED",
                      connection="CONNECTED", banned=False, quality="GREEN", flagged_at=None, tier="TIER_1K",
                      limit=1000, used=sum(hourly), hourly=hourly, next_free_at=None, now=NOW)


def rows(lines: list[str]) -> list[tuple[str, str, int]]:
    found = [re.fullmatch(r"  (\d\d:\d\d)-(\d\d:\d\d)  #* *(\d+)", line) for line in lines]
    return [(m.group(1), m.group(2), int(m.group(3))) for m in found if m]


def test_the_newest_row_ends_now_and_the_oldest_starts_24_hours_back():
    # One recipient sent to just now, three 23 h 50 min ago.
    buckets = {WINDOW.bucket_of(NOW - 60): 1, WINDOW.bucket_of(NOW - DAY_SECONDS + 600): 3}
    found = rows(usage_lines(view(hourly_counts(WINDOW, buckets, NOW))))
    assert len(found) == HOURS
    assert found[-1] == ("20:35", "21:35", 1)  # the last hour, ending at the current time
    assert found[0] == (hhmm(NOW - DAY_SECONDS), hhmm(NOW - DAY_SECONDS + 3600), 3)
    assert found[0][:2] == ("21:35", "22:35")
    assert all(a[1] == b[0] for a, b in itertools.pairwise(found))  # contiguous spans


def test_the_header_says_which_end_is_now():
    header = next(line for line in usage_lines(view([0] * HOURS)) if "last 24 h" in line)
    assert "oldest first" in header and "the last row ends now" in header


def test_the_reports_chart_names_each_bars_span_and_ends_at_now():
    svg = usage_chart_svg(view([0] * (HOURS - 1) + [5]))
    assert "<title>20:35-21:35 UTC: 5 recipients</title>" in svg
    assert "<title>21:35-22:35 UTC: 0 recipients</title>" in svg  # the oldest bar, 24 h back
    assert ">now</text>" in svg
    assert ":00 UTC" not in svg  # no bar is labelled by a full hour it does not span
