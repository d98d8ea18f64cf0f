"""Given a week of a number's life (the flagged-downgrades scenario, simulated), when the report page is
opened in headless Chromium, then it shows the number's status, quality, tier, usage gauge, 24 h chart and
status timeline, from the page alone (nothing fetched). The screenshot is kept in test-artifacts/."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile

import pytest

from numberguard_ops.cli import main
from tests.conftest import EVENTS, ROOT

pytestmark = pytest.mark.e2e
ARTIFACTS = ROOT / "test-artifacts"


def chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium package")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout,
        )


@pytest.fixture(scope="module")
def page():
    ARTIFACTS.mkdir(exist_ok=True)
    html = ARTIFACTS / "report.html"
    code = main(["simulate", str(EVENTS / "scenarios" / "flagged-downgrades.json"), "--html", str(html)])
    assert code == 0
    return html


def test_the_page_is_self_contained(page):
    text = page.read_text()
    # Nothing is loaded from anywhere: no script, stylesheet link, image or font URL (the SVG namespace is a name).
    assert "<script" not in text and "<link" not in text and "<img" not in text and "@import" not in text
    assert not re.search(r"""(src|href)=["'](https?:)?//""", text)
    assert not re.search(r"url\(", text)


def test_chromium_renders_the_report_with_its_content(page):
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "numberguard: 1 number" in html
    card = re.search(r'<section class="card" id="n106540352242922" data-status="(\w+)"', html)
    assert card and card.group(1) == "CONNECTED"
    assert "+15550783881" in html and "TIER_1K" in html and "quality Low" in html
    assert 'aria-label="usage 36% (360 / 1,000)"' in html  # the gauge: the sends of the last hours
    assert html.count('<svg class="usage"') == 1 and "peak 60 per hour" in html
    timeline = re.search(r'<svg class="timeline".*?</svg>', html, re.S).group(0)
    shown = re.findall(r"<title>(\w+) from", timeline)
    assert shown == ["FLAGGED", "CONNECTED", "RESTRICTED", "CONNECTED"]  # flagged as it was registered
    assert "flag outcome: quality still Low on day 7" in html


def test_chromium_screenshot_is_kept_as_a_test_artifact(page):
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    run = chromium(f"--screenshot={shot}", "--window-size=1200,1100", "--hide-scrollbars", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 1100)
    assert len(data) > 20_000  # a drawn page, not a blank one
