"""The index page that links every force's report, and the README that says what the folder holds.

Rendered from a Jinja2 template with autoescaping on: every value is escaped,
whatever file it came from. The banner at the top (the run's status, and any
synthetic-data notice) is the one every page shows, made and escaped by
:func:`toolkit.publish.markup.describe_run_status`.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pandas as pd

from toolkit.config import TEMPLATES_DIR
from toolkit.forces import NATIONAL, describe_coverage, get_force, list_forces
from toolkit.publish.disclosure import SUPPRESSED, format_figure, publish_tables, published_threshold
from toolkit.publish.markup import (
    INDEX_PAGE,
    SITE_NAME,
    Cell,
    Link,
    describe_breadcrumbs,
    describe_footer,
    describe_run_status,
    describe_running_header,
    describe_status_words,
    describe_synthetic_data,
    html_table,
)
from toolkit.store import write_atomically

__all__ = ["DOWNLOADS", "README_TEMPLATE", "build_index_rows", "describe_index_table", "write_index", "write_readme"]

# What each published file is; the repository's reports/README.md is a copy of it.
README_TEMPLATE = TEMPLATES_DIR / "reports-README.md"

# The publication set's files of figures, as the index offers them for download (README_TEMPLATE says more).
DOWNLOADS = (
    ("tables.ods", "Every published table, as an OpenDocument spreadsheet (ODS)"),
    ("tables.xlsx", "Every published table, as an Excel workbook (XLSX)"),
    ("metrics.csv", "Every published figure, one per row, as CSV"),
    ("data_quality.csv", "The data-quality scorecard, as CSV"),
    ("findings.json", "Every finding, as JSON"),
)

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _figure(summary: pd.DataFrame, code: str, area: str, metric: str) -> pd.Series:
    rows = summary[(summary["force_code"] == code) & (summary["area"] == area) & (summary["metric"] == metric)]
    return rows.iloc[0]


def _text(row: pd.Series, decimals: int) -> str:
    return format_figure(row["value"], bool(row["suppressed"]), decimals)


def build_index_rows(
    shown: pd.DataFrame, reports: dict[str, Path], failures: dict[str, str], findings: list[dict] | None = None
) -> list[dict]:
    """One row per force in the run: name, link (when written), headline figures, status.

    ``shown`` is the summary after disclosure control (:func:`toolkit.publish.disclosure.suppress_volume_summary`).
    """
    judged = pd.DataFrame(findings or [], columns=["force_code", "judgement"])
    counts = judged.groupby(["force_code", "judgement"]).size()
    rows = []
    for code in sorted(set(reports) | set(failures)):
        force = get_force(code)
        rate = _figure(shown, code, "force", "rate_per_1000_children")
        rows.append(
            {
                "code": code,
                "name": force.official_name,
                "href": reports[code].name if code in reports else None,
                "episodes": _text(_figure(shown, code, "force", "episodes"), 0),
                "children": _text(_figure(shown, code, "force", "children"), 0),
                "rate": _text(rate, 1),
                # withheld with the rate it goes with, and said so, as the rate is; blank only where never computed
                "interval": SUPPRESSED
                if rate["suppressed"]
                else ""
                if pd.isna(rate["lower"])
                else f"{format_figure(rate['lower'], False, 1)} to {format_figure(rate['upper'], False, 1)}",
                "failed": code in failures,
                "concerns": int(counts.get((code, "cause_of_concern"), 0)),
                "improvements": int(counts.get((code, "area_for_improvement"), 0)),
                "good_practice": int(counts.get((code, "good_practice"), 0)),
            }
        )
    return rows


def _count(value: str) -> float | str:
    """A figure of the index as a number to sort by (withheld or empty: none, sorted first)."""
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return ""


def describe_index_table(rows: list[dict], threshold: int) -> str:
    """The index's table of forces (:func:`build_index_rows`): a row each, a link to each written report.

    A force with a cause of concern says so in words, and its row is marked (``data-concern``); every cell
    carries the number it sorts by (``data-sort``), for the index's optional sorting script. A withheld
    cell is explained beneath the table, with the run's disclosure ``threshold``.

    Examples
    --------
    >>> row = {"code": "E1", "name": "Kent Police", "href": "kent.html", "episodes": "1,204", "children": "[c]",
    ...        "rate": "3.2", "interval": "3.0 to 3.4", "failed": False, "concerns": 2, "improvements": 0,
    ...        "good_practice": 1}
    >>> table = describe_index_table([row], 5)
    >>> "<tr class='govuk-table__row' data-force='E1' data-concern='yes'>" in table, "2 causes of concern" in table
    (True, True)
    >>> "<a class='govuk-link' href='kent.html'>Kent Police</a>" in table, "data-sort='1204.0'" in table
    (True, True)
    """
    body = []
    for row in rows:
        name = Link(row["name"], row["href"]) if row["href"] else f"{row['name']} (report failed)"
        concerns = row["concerns"]
        said = "None" if not concerns else f"{concerns} cause{'s' if concerns > 1 else ''} of concern"
        cells = [
            row["code"],
            *(Cell(row[key], {"data-sort": _count(row[key])}) for key in ("episodes", "children", "rate")),
            row["interval"],
            Cell(said, {"data-judgement": "cause_of_concern", "data-sort": concerns}),
            Cell(row["improvements"], {"data-judgement": "area_for_improvement", "data-sort": row["improvements"]}),
            Cell(row["good_practice"], {"data-judgement": "good_practice", "data-sort": row["good_practice"]}),
        ]
        attributes = {"data-force": row["code"], **({"data-concern": "yes"} if concerns else {})}
        body.append((name, cells, attributes))
    columns = ["Force", "Code", "Episodes", "Children", "Per 1,000 children", "95% interval"]
    columns += ["Causes of concern", "Areas for improvement", "Good practice"]
    caption = (
        "One report per force. Rates are episodes per 1,000 resident children aged 0-17 with 95% intervals "
        "(exact Poisson below 10 episodes, Byar from 10). A force with a cause of concern says so, and its row is "
        "marked at the left."
    )
    return html_table(body, caption, columns, threshold)


def write_index(
    out_dir: Path,
    summary: pd.DataFrame,
    reports: dict[str, Path],
    failures: dict[str, str],
    run: dict,
    findings: list[dict] | None = None,
    overview: Path | None = None,
) -> Path:
    """Write ``index.html`` listing every force of the run, linking each written report."""
    threshold = published_threshold(run)
    shown = publish_tables({"summary": summary}, run)["summary"]
    national = _figure(shown, NATIONAL, "national", "rate_per_1000_children")
    left_out = [get_force(code).official_name for code in filter(None, national["leaves_out"].split(";"))]
    rows = build_index_rows(shown, reports, failures, findings)
    covered = run.get("forces_covered", [f.code for f in list_forces()])
    page = _ENVIRONMENT.get_template("index.html.j2").render(
        title=SITE_NAME,
        running_header=describe_running_header(f"{SITE_NAME}: {describe_status_words(run)}"),
        header=describe_run_status(run, "England and Wales or any real police force")
        + describe_breadcrumbs([(SITE_NAME, None)]),
        footer=describe_footer(run),
        coverage=describe_coverage(covered),
        table=describe_index_table(rows, threshold),
        left_out=", ".join(left_out),
        overview=overview.name if overview else None,
        downloads=DOWNLOADS,
        run=run,
        national_episodes=_text(_figure(shown, NATIONAL, "national", "episodes"), 0),
        national_rate=_text(national, 1),
        failures=len(failures),
        threshold=threshold,
    )
    target = Path(out_dir) / INDEX_PAGE
    write_atomically(target, page)
    return target


def write_readme(out_dir: Path, run: dict | None = None) -> Path:
    """Write ``README.md`` into a publication set: what each of its files is, and if its data are synthetic.

    Examples
    --------
    >>> import tempfile
    >>> write_readme(Path(tempfile.mkdtemp())).read_text().startswith("# reports/")
    True
    >>> write_readme(Path(tempfile.mkdtemp()), {"synthetic": True}).read_text().splitlines()[2][:45]
    '**Synthetic data: not about any real force.**'
    """
    target = Path(out_dir) / "README.md"
    text = README_TEMPLATE.read_text(encoding="utf-8")
    if run is not None and run.get("synthetic") is True:
        headline, notice = describe_synthetic_data("any real force", "in this folder")
        title, rest = text.split("\n", 1)
        text = f"{title}\n\n**{headline}** {notice}\n{rest}"
    write_atomically(target, text)
    return target
