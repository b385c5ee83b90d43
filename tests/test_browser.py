"""The published site in a real browser (Debian's headless Chromium, driven by selenium).

Every published page of the shared run is opened at 1400 and 320 pixels wide and printed to PDF (A4), in one
browser. At each width, with every ``details`` element opened (the charts' tables): axe-core 4 finds no
violation of WCAG 2.0, 2.1 and 2.2 A and AA; no text is under 12 pixels, the charts' SVG text as drawn included;
at 320 pixels the page does not scroll sideways (tables and charts scroll in their own boxes). Every link
resolves to a published page and, with a fragment, to an element of it. On paper no table's caption or header
row is left alone at a page's foot (read from the PDF's structure tree), and a report prints on at most 20 pages;
every page weighs at most 1.5 MB. Screenshots and the PDF of one report go to ``test-artifacts/``.

Skipped when Chromium or axe-core is missing, except in CI (``REQUIRE_BROWSER=1``, set by ``.ci/run``, which
installs both). axe-core is read from ``$AXE_CORE_JS``, else from where ``.ci/run`` installs it
(``npm install --prefix /tmp/toolkit-axe-core axe-core@4``).
"""

import base64
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
import pytest
from conftest import RUN_FORCES

from toolkit.config import PROJECT_ROOT, TEMPLATES_DIR
from toolkit.forces import get_force
from toolkit.publish.markup import html_table
from toolkit.publish.site import DOWNLOADS

pytestmark = pytest.mark.notebook
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
FORCES = RUN_FORCES  # the shared run (conftest)
DOWNLOADS_NAMED = {file for file, _ in DOWNLOADS}
AXE_DEFAULT = Path(tempfile.gettempdir()) / "toolkit-axe-core" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1400, 320)
SMALLEST_TEXT_PX = 12


def _missing(what: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {what}")
    pytest.skip(what)


def _chromium() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def axe() -> str:
    path = Path(os.environ.get("AXE_CORE_JS") or AXE_DEFAULT)
    if not path.is_file():
        _missing(f"axe-core is not at {path} (npm install --prefix {AXE_DEFAULT.parents[2]} axe-core@4)")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    found = _chromium()
    if found is None:
        _missing("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
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
        "--hide-scrollbars",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site(run):
    """The shared run's published folder (conftest)."""
    result, folder = run
    assert result.ok
    return folder / "reports"


# What a page is made of, read in the browser once per width: its links and ids, its images, its headings and
# tables, the text under 12 px (the charts' SVG text at the size it is drawn), whether the page scrolls sideways.
_SURVEY = r"""
document.querySelectorAll("details").forEach(d => { d.open = true; });
const visible = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
const small = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  if (!node.textContent.trim() || !el || !visible(el)) continue;
  const size = parseFloat(getComputedStyle(el).fontSize);
  if (size < arguments[0]) small.push([el.tagName, size, node.textContent.trim().slice(0, 60)]);
}
const charts = Array.from(document.querySelectorAll("img.chart")).map(img => {
  const svg = atob(img.src.split(",")[1]);
  const sizes = Array.from(svg.matchAll(/font(?:-size)?:\s*([0-9.]+)px/g), m => parseFloat(m[1]));
  const box = svg.match(/viewBox="([^"]*)"/)[1].split(/\s+/).map(Number);
  const shown = img.getBoundingClientRect().width;
  return [img.alt.slice(0, 60), Math.min(...sizes) * shown / box[2], img.complete && img.naturalWidth > 0];
});
const root = document.documentElement;
return {
  lang: root.lang,
  viewport: (document.querySelector("meta[name=viewport]") || {}).content || "",
  title: document.title,
  links: Array.from(document.querySelectorAll("a[href]"), a => a.getAttribute("href")),
  ids: Array.from(document.querySelectorAll("[id]"), e => e.id),
  headings: Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"),
    h => [Number(h.tagName[1]), h.textContent.trim()]),
  tables: Array.from(document.querySelectorAll("table"), t => [!!t.caption && !!t.caption.textContent.trim(),
    Array.from(t.querySelectorAll("th")).every(th => ["col", "row"].includes(th.getAttribute("scope")))]),
  printedTables: Array.from(document.querySelectorAll("table")).filter(t => !t.closest("details")).length,
  small: small,
  charts: charts,
  sideways: root.scrollWidth - root.clientWidth,
  firstFocus: (document.querySelector("a[href], button, [tabindex='0']") || {}).className || "",
};
"""

_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(r => done(r.violations.map(v => [v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(" "))])))
  .catch(e => done([["axe-error", String(e), []]]));
"""


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


_PDF_OBJECT = re.compile(rb"(\d+) 0 obj\s*<<(.*?)>>\s*(?:endobj|stream)", re.S)


def _find_tables_broken_after_their_heads(pdf: bytes) -> tuple[int, list[list[int]]]:
    """How many tables a tagged PDF (Chromium's ``generateTaggedPDF``) holds, and the page each of its head's
    parts starts on (caption, header rows, first row of figures) for every table whose head is not on the page
    its first row of figures starts: one left alone at a page's foot.

    Chromium writes the PDF's structure tree uncompressed: each element names its type (``/S /Caption``), its
    children (``/K``: elements, or marked content on the page ``/Pg``), so the page each part is drawn on can be
    read without a PDF library.
    """
    objects = {int(number): body for number, body in _PDF_OBJECT.findall(pdf)}

    def entry(body: bytes, key: bytes) -> tuple[list[int], bool]:
        found = re.search(rb"/" + key + rb"\s*(\[[^\]]*\]|\d+ 0 R|\d+)", body)
        text = found.group(1) if found else b""
        return [int(n) for n in re.findall(rb"(\d+) 0 R", text)], bool(
            re.search(rb"\d", re.sub(rb"\d+ 0 R", b"", text))
        )

    def kind(number: int) -> str | None:
        found = re.search(rb"/StructElem.*?/S /(\w+)", objects.get(number, b""), re.S)
        return found.group(1).decode() if found else None

    order = []

    def walk(number: int) -> None:
        for kid in entry(objects[number], b"Kids")[0]:
            walk(kid) if b"/Type /Pages" in objects[kid] else order.append(kid)

    walk(next(n for n, body in objects.items() if b"/Type /Pages" in body and b"/Parent" not in body))
    page = {number: index + 1 for index, number in enumerate(order)}

    def pages(number: int) -> set[int]:
        kids, marked = entry(objects[number], b"K")
        drawn_on = entry(objects[number], b"Pg")[0]
        found = {page[drawn_on[0]]} if marked and drawn_on else set()
        return found.union(*(pages(kid) for kid in kids if kind(kid)))

    def rows(number: int):
        for kid in entry(objects[number], b"K")[0]:
            if kind(kid) == "TR":
                yield kid
            elif kind(kid) in ("THead", "TBody", "TFoot"):
                yield from rows(kid)

    tables, broken = [n for n in objects if kind(n) == "Table"], []
    for table in tables:
        head = [kid for kid in entry(objects[table], b"K")[0] if kind(kid) == "Caption"]
        for row in rows(table):
            head.append(row)
            if any(kind(cell) == "TD" and pages(cell) for cell in entry(objects[row], b"K")[0]):
                break  # the first row of figures (a header row holds only headers, or empty cells)
        starts = [min(pages(part)) for part in head if pages(part)]
        if len(set(starts)) > 1:
            broken.append(starts)
    return len(tables), broken


def _print(browser) -> bytes:
    """The page in the browser printed to PDF as its stylesheet says (A4), tagged with its structure."""
    printed = browser.execute_cdp_cmd(
        "Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True, "generateTaggedPDF": True}
    )
    return base64.b64decode(printed["data"])


@pytest.fixture(scope="module")
def surveys(browser, site, axe):
    """Every published page at each width: what :data:`_SURVEY` reads, axe's violations, console errors; the
    PDF's page count. One browser for all of it; screenshots and one report's PDF saved as artifacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    pages = sorted(site.glob("*.html"))
    found = {}
    for width in WIDTHS:
        browser.set_window_size(width, 1000)
        for page in pages:
            browser.get_log("browser")  # drop anything from the previous page
            browser.get(page.as_uri())
            assert browser.execute_script("return document.readyState") == "complete"
            survey = browser.execute_script(_SURVEY, SMALLEST_TEXT_PX)
            survey["errors"] = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
            browser.execute_script(axe)
            survey["violations"] = browser.execute_async_script(_AXE_RUN, WCAG_TAGS)
            browser.save_screenshot(str(ARTIFACTS / f"{page.stem}-{width}.png"))
            if width == WIDTHS[0]:
                pdf = _print(browser)
                survey["pdf_pages"] = _pdf_pages(pdf)
                survey["pdf_tables"], survey["pdf_broken"] = _find_tables_broken_after_their_heads(pdf)
                if page.name == "west-midlands.html":
                    (ARTIFACTS / "west-midlands.pdf").write_bytes(pdf)
            found[(page.name, width)] = survey
    return found


def test_every_page_at_both_widths_has_no_axe_violation_and_no_console_error(surveys, site):
    names = {page.name for page in site.glob("*.html")}
    assert names == {"index.html", "national-overview.html", *(f"{get_force(c).slug}.html" for c in FORCES)}
    assert set(surveys) == {(name, width) for name in names for width in WIDTHS}
    for (name, width), survey in surveys.items():
        assert survey["violations"] == [], (name, width, survey["violations"])
        assert survey["errors"] == [], (name, width)


def test_every_page_is_in_british_english_for_any_screen_with_a_skip_link_first(surveys):
    for (name, _), survey in surveys.items():
        assert survey["lang"] == "en-GB", name
        assert "width=device-width" in survey["viewport"], name
        assert survey["title"], name
        assert "govuk-skip-link" in survey["firstFocus"], name  # the first thing the keyboard reaches
        assert survey["links"][0] == "#main-content", name


def test_headings_go_down_one_level_at_a_time_and_every_table_has_a_caption_and_scoped_headers(surveys):
    for (name, _), survey in surveys.items():
        levels = [level for level, _ in survey["headings"]]
        assert levels[0] == 1 and levels.count(1) == 1, (name, survey["headings"][:3])
        skipped = [(a, b) for a, b in zip(survey["headings"], survey["headings"][1:], strict=False) if b[0] > a[0] + 1]
        assert not skipped, (name, skipped)
        assert survey["tables"] and all(caption and scoped for caption, scoped in survey["tables"]), name


def test_no_text_is_under_12_pixels_and_no_page_scrolls_sideways_at_320_pixels(surveys):
    charts = 0
    for (name, width), survey in surveys.items():
        assert survey["small"] == [], (name, width, survey["small"][:5])
        for alt, smallest, loaded in survey["charts"]:
            assert loaded, (name, alt)
            assert smallest >= SMALLEST_TEXT_PX - 0.01, (name, width, alt, smallest)
            charts += 1
        if width == 320:
            assert survey["sideways"] <= 0, (name, survey["sideways"])  # only tables and charts scroll, in boxes
    report = surveys[("west-midlands.html", 320)]
    # rate funnel, grade mix, grading caterpillar, known risks, harm by first response,
    # officer spread, supervisory review, interviews, time to return, trend, and the problem profile's four
    assert len(report["charts"]) == 14
    assert len(surveys[("national-overview.html", 320)]["charts"]) == 2  # grading and categorisation caterpillars
    assert charts == 2 * sum(len(surveys[(n, 320)]["charts"]) for n, w in surveys if w == 320)


def test_every_link_resolves_to_a_published_page_and_an_element_of_it(surveys, site):
    ids = {name: set(survey["ids"]) for (name, width), survey in surveys.items() if width == WIDTHS[0]}
    for (name, width), survey in surveys.items():
        if width != WIDTHS[0]:
            continue
        for href in survey["links"]:
            parts = urlsplit(href)
            assert not parts.scheme and not parts.netloc, (name, href)  # nothing leaves the folder
            target = parts.path or name
            assert (site / target).is_file(), (name, href)
            if target in DOWNLOADS_NAMED:  # a file of figures, not a page
                continue
            assert target in ids, (name, href)
            if parts.fragment:
                assert unquote(parts.fragment) in ids[target], (name, href)
    report = surveys[("west-midlands.html", WIDTHS[0])]["links"]
    assert {"index.html", "national-overview.html"} <= set(report)
    # West Midlands' comparator group has no other force of the run: Dyfed-Powys's and Lincolnshire's are linked
    # where they are each other's comparators; every report links its contents to its own sections.
    contents = [h for h in report if h.startswith("#") and h != "#main-content"]
    assert len(contents) >= 10
    overview = surveys[("national-overview.html", WIDTHS[0])]["links"]
    assert {f"{get_force(c).slug}.html" for c in FORCES} <= set(overview)  # the overview links every report
    index = surveys[("index.html", WIDTHS[0])]["links"]
    assert {f"{get_force(c).slug}.html" for c in FORCES} | {"national-overview.html"} <= set(index)
    assert DOWNLOADS_NAMED <= set(index)  # the spreadsheets, metrics.csv, data_quality.csv and findings.json


def test_a_report_prints_on_numbered_a4_pages(surveys):
    for (name, width), survey in surveys.items():
        if width == WIDTHS[0]:
            assert survey["pdf_pages"] >= 1, name
    pdf = (ARTIFACTS / "west-midlands.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and _pdf_pages(pdf) == surveys[("west-midlands.html", WIDTHS[0])]["pdf_pages"]
    # A4 is 595 x 842 points.
    boxes = {tuple(round(float(x)) for x in box.split()) for box in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)}
    assert boxes == {(0, 0, 595, 842)}
    assert (ARTIFACTS / "index-1400.png").stat().st_size > 10_000


def _sweep_page() -> str:
    """A page in the site's shell of 40 small tables with two-line captions, each after a space 7 pixels taller
    than the last's: on paper their heads fall at every height of an A4 page, its foot among them."""
    shell = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    page = shell.get_template("page.html.j2").module
    rows = [(f"Row {n}", [f"{n}", f"{n * 2}"]) for n in (1, 2, 3)]
    tables = "".join(
        f"<div style='height: {40 + 7 * i}px'></div>"
        + html_table(rows, f"Table {i}: {CAPTION}", ["", "First", "Second"])
        for i in range(SWEEP_TABLES)
    )
    return (
        f"<!DOCTYPE html><html lang='en-GB'><head>{page.head('Tables on paper', '')}</head><body>"
        f"{page.body_start('')}<h1>Tables on paper</h1>{tables}{page.body_end('')}</body></html>"
    )


SWEEP_TABLES = 40
CAPTION = "a caption long enough to take two lines, as many of a report's do, " * 2


def test_on_paper_no_table_caption_or_header_row_is_left_alone_at_a_page_foot(browser, surveys, tmp_path):
    """A table's caption and header rows start on the page its first row of figures does: on every published
    page, and on a page of tables whose heads fall at every height of a page. The stylesheet without its rules on
    tables left a caption and header row alone at a page's foot there; with its header row's rules alone, the
    caption."""
    for (name, width), survey in surveys.items():
        if width == WIDTHS[0]:
            # Every table printed is read from the PDF (a chart's table, in its details element, is not printed).
            assert survey["pdf_tables"] == survey["printedTables"] > 0, name
            assert survey["pdf_broken"] == [], (name, survey["pdf_broken"])
    sweep = tmp_path / "sweep.html"
    sweep.write_text(_sweep_page(), encoding="utf-8")
    browser.get(sweep.as_uri())
    pdf = _print(browser)
    assert _pdf_pages(pdf) >= 5  # the heads' heights go round a page several times
    assert _find_tables_broken_after_their_heads(pdf) == (SWEEP_TABLES, [])


def test_a_report_prints_on_at_most_so_many_a4_pages(surveys):
    """A report's charts and tables print at a readable size with nothing oversized: the small extract's
    reports printed on 16 to 18 A4 pages when this was written."""
    for code in FORCES:
        assert surveys[(f"{get_force(code).slug}.html", WIDTHS[0])]["pdf_pages"] <= MOST_PAGES_PRINTED, code


MOST_PAGES_PRINTED = 20


def test_every_published_page_weighs_under_a_phone_s_limit(site):
    """Every page, charts and stylesheet inlined, is at most 1.5 MB: a force report of the demo is 0.72 MB."""
    sizes = {page.name: page.stat().st_size for page in site.glob("*.html")}
    assert len(sizes) == len(FORCES) + 2
    assert max(sizes.values()) <= HEAVIEST_PAGE_BYTES, sizes


HEAVIEST_PAGE_BYTES = 1_500_000


def test_the_index_sorts_by_a_column_and_reads_without_script(browser, site, surveys):
    """The sorting script is optional: without it the table is there as written, forces in order."""
    browser.set_window_size(1400, 1000)
    browser.get((site / "index.html").as_uri())
    order = "return Array.from(document.querySelectorAll('#forces tbody tr'), r => r.dataset.force);"
    written = browser.execute_script(order)
    assert len(written) == len(FORCES)
    browser.execute_script("document.querySelectorAll('#forces thead button')[2].click();")  # episodes
    episodes = browser.execute_script(
        "return Array.from(document.querySelectorAll('#forces tbody tr'), r => Number(r.cells[2].dataset.sort));"
    )
    assert episodes == sorted(episodes)
    browser.execute_script("document.querySelectorAll('#forces thead button')[2].click();")
    assert browser.execute_script("return document.querySelectorAll('#forces thead th')[2].ariaSort") == "descending"
    html = (site / "index.html").read_text(encoding="utf-8")
    table = html[html.index('<div id="forces">') : html.index("</table>")]
    assert "<button" not in table  # the buttons are the script's: the page as written has none
