"""The published site in a real browser (Debian's headless Chromium, driven by selenium).

Skipped when no Chromium is installed, except in CI (``REQUIRE_BROWSER=1``, set by
``.ci/run``, which installs it). Screenshots go to ``test-artifacts/``.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import RUN_FORCES

from toolkit.config import PROJECT_ROOT

pytestmark = pytest.mark.notebook
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
FORCES = RUN_FORCES  # the shared run (conftest)


def _chromium() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser():
    found = _chromium()
    if found is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but chromium and chromedriver are not installed")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site(run):
    """The shared run's published folder (conftest)."""
    result, folder = run
    assert result.ok
    return folder / "reports"


def _open(browser, page: Path) -> list[dict]:
    browser.get_log("browser")  # drop anything from the previous page
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def _check_images(browser) -> int:
    images = browser.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt]);")
    for complete, width, alt in images:
        assert complete and width > 0, alt
    return len(images)


def test_index_and_reports_load_cleanly_with_every_image_and_link(browser, site):
    ARTIFACTS.mkdir(exist_ok=True)
    errors = _open(browser, site / "index.html")
    assert errors == []
    links = browser.execute_script("return Array.from(document.links).map(a => a.href);")
    assert len(links) == len(FORCES) + 1  # and the national overview
    browser.save_screenshot(str(ARTIFACTS / "index.png"))
    for link in links:
        assert link.startswith("file://")
        page = Path(link.removeprefix("file://"))
        assert page.is_file() and page.parent == site
        assert _open(browser, page) == []
        assert browser.title  # the report has a title
        shown = _check_images(browser)
        if page.name == "west-midlands.html":
            # rate funnel, grade mix, grading caterpillar, known risks, harm by first response,
            # officer spread, supervisory review, interviews, time to return, trend, and the problem profile's four
            assert shown == 14
            browser.save_screenshot(str(ARTIFACTS / "west-midlands.png"))
        if page.name == "national-overview.html":
            assert shown == 2  # grading and categorisation caterpillars
            browser.save_screenshot(str(ARTIFACTS / "national-overview.png"))
        inner = browser.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'));")
        assert all(href.startswith("#") for href in inner if href)  # reports link only within themselves
    assert (ARTIFACTS / "index.png").stat().st_size > 10_000
