"""What a force report shows: the notebook calls these, one per cell.

The report notebook holds no logic: it loads the prepared tables for one
force with :func:`load_force_report` and shows each section with a ``show_*``
or ``plot_*`` function. Every value that reaches HTML is escaped here, and
disclosure control is applied before anything is shown.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML

from toolkit.config import WORK_DIR
from toolkit.errors import ToolkitError
from toolkit.findings import JUDGEMENT_ORDER
from toolkit.findings.response import HIGH_GRADING_METRIC
from toolkit.findings.rulebook import support_statement
from toolkit.forces import NATIONAL, Force, describe_coverage, get_force, list_forces
from toolkit.linkage.borders import LINKAGE_TABLES
from toolkit.publish.disclosure import (
    SUPPRESSED,
    explain_withheld,
    format_count,
    format_figure,
    is_small_count,
    publish_findings,
    publish_tables,
    published_threshold,
    rests_on_small_count,
    withhold_parts,
)
from toolkit.publish.markup import (
    INDEX_PAGE,
    OVERVIEW_PAGE,
    SITE_NAME,
    Cell,
    describe_band,
    describe_breadcrumbs,
    describe_finding,
    describe_footer,
    describe_run_status,
    describe_running_header,
    describe_status_words,
    describe_unavailable,
    embed_chart,
    escape,
    findings_list,
    html_table,
    list_links,
    list_written_reports,
    name_report_page,
    notes,
    summary_list,
)
from toolkit.publish.plots import (
    plot_force_effects,
    plot_funnel,
    plot_grade_mix,
    plot_hour_weekday_heatmap,
    plot_monthly_trend,
    plot_return_curves,
    plot_share_bars,
    plot_shares_against,
)
from toolkit.stats.consistency import MIN_EPISODES
from toolkit.stats.funnel import MIN_FORCES_TO_COMPARE, describe_too_few_forces
from toolkit.stats.practice import GRADE_ORDER, PRACTICE_MEASURES
from toolkit.stats.profile import AGE_BANDS, NOT_KNOWN, REFERENCE_ETHNICITY, RESPONSE_OUTCOMES, WEEKDAYS
from toolkit.stats.quality import FIELD_LABELS, KEY_FIELDS
from toolkit.stats.tables import TABLE_NAMES
from toolkit.store import WorkFolder

__all__ = [
    "ForceReport",
    "load_prepared",
    "load_force_report",
    "show_page_head",
    "show_page_header",
    "show_page_footer",
    "show_title",
    "show_headline_table",
    "show_methods",
    "show_findings",
    "show_data_quality",
    "show_rate_funnel",
    "show_time_to_return",
    "show_repeats",
    "show_cross_border",
    "show_trend",
    "show_consistency",
    "show_judgements",
    "show_practice",
    "show_problem_profile",
    "show_grade_mix",
]

SMALL_POPULATION = 5000  # children: below this a per-child rate is unstable (City of London: 642)
_ROWS = [
    ("episodes", "Missing and absent episodes", 0),
    ("children", "Distinct children", 0),
    ("episodes_per_child", "Episodes per child", 2),
    ("rate_per_1000_children", "Episodes per 1,000 children (95% interval)", 1),
]


@dataclass(frozen=True)
class ForceReport:
    """The prepared figures one force's report shows.

    Every prepared table (:data:`toolkit.stats.tables.TABLE_NAMES`) is in
    ``tables`` and can be read as an attribute: ``report.practice`` is
    ``report.tables["practice"]``. The volume summary and the data-quality
    scorecard are held after disclosure control.

    Attributes
    ----------
    force : Force
    run : dict
        Parameters of the run that prepared the tables (extract date, input, threshold).
    findings : list of dict
        Findings for every force, after disclosure control.
    tables : dict of str to pandas.DataFrame
    history : list of dict
        What became of the previous run's serious findings of this force
        (:func:`toolkit.findings.history.compare_with_previous`); empty without one.
    """

    force: Force
    run: dict
    findings: list
    tables: dict
    history: list = dataclasses.field(default_factory=list)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(f"a force report has no table {name!r}; it has {', '.join(sorted(tables))}")

    @property
    def national_label(self) -> str:
        """What the national column is: England and Wales, or only the forces the extract covers."""
        covered = self.run.get("forces_covered")
        if covered is None or len(covered) == len(list_forces()):
            return "England and Wales"
        return f"All {len(covered)} forces in the extract" if len(covered) > 1 else "The force's own extract"

    @property
    def others_label(self) -> str:
        """The forces a force's own figure is tested against."""
        national = self.national_label
        return "the rest of England and Wales" if national == "England and Wales" else "the other forces in the extract"

    @property
    def comparable(self) -> bool:
        """Whether the extract covers enough forces to compare this one with the others."""
        covered = self.run.get("forces_covered")
        return covered is None or len(covered) >= MIN_FORCES_TO_COMPARE

    @property
    def area_labels(self) -> dict[str, str]:
        """Column labels of this force, its comparator group and the national figure."""
        return {"force": "This force", "comparators": "Comparator group", "national": self.national_label}

    @property
    def threshold(self) -> int:
        """The smallest count the run publishes."""
        return published_threshold(self.run)

    def figure(self, metric: str, area: str = "force") -> pd.Series:
        """One figure (a row of the summary) for this force, its comparators or nationally."""
        code = NATIONAL if area == "national" else self.force.code
        summary = self.tables["summary"]
        rows = summary[(summary["force_code"] == code) & (summary["area"] == area) & (summary["metric"] == metric)]
        if len(rows) != 1:
            raise ToolkitError(f"no single {metric!r} figure for {code} ({area}) in the prepared tables")
        return rows.iloc[0]


def load_prepared(data_dir: str | Path, names) -> tuple[dict, list[dict], dict[str, pd.DataFrame]]:
    """What a force report and the national overview read from the work folder, ready to publish.

    Parameters
    ----------
    data_dir : path-like
        The folder ``python -m toolkit run`` prepared (its ``--work`` folder).
    names : iterable of str
        The prepared tables needed.

    Returns
    -------
    run : dict
        The run parameters.
    findings : list of dict
        Every force's findings, after disclosure control.
    tables : dict of str to pandas.DataFrame
        The tables named; the volume summary and the data-quality scorecard
        after disclosure control, as the run's threshold sets it.

    Raises
    ------
    ToolkitError
        A needed file is missing.

    Notes
    -----
    The tables are read and published once per folder in a process (a warm
    kernel renders report after report from one folder), and again whenever
    one of their files, or the run parameters, is rewritten.
    """
    work = WorkFolder(data_dir or WORK_DIR)  # "" (the notebooks' default): the project's work folder
    names = list(names)
    work.require(["run", "findings", *names])
    run, tables = _read_published_tables(work, names)
    return run, publish_findings(work.read_json("findings"), published_threshold(run)), tables


# The published tables of the work folders read last, with what their files were on disk. A warm kernel
# renders report after report from one folder, and reading and publishing every table (pooling the
# comparator-group and national figures from the forces' published cells) takes a second: once a kernel,
# not once a report. A file rewritten since (a new file: the work folder writes by rename) is read again.
_PUBLISHED: dict[tuple, tuple[tuple, dict[str, pd.DataFrame]]] = {}
_PUBLISHED_FOLDERS = 4  # a run reads one folder (its reports, then its overview); tests read many


def _describe_files(work: WorkFolder, names: list[str]) -> tuple:
    """What each named file of the folder is on disk: a file replaced or rewritten since differs here."""
    described = []
    for name in names:
        status = work.file(name).stat()
        described.append((name, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns))
    return tuple(described)


def _read_published_tables(work: WorkFolder, names: list[str]) -> tuple[dict, dict[str, pd.DataFrame]]:
    """The run parameters, and the named tables after disclosure control (:func:`publish_tables`) under them,
    read and published once per folder until a file changes.

    Each call gets its own copies of the tables, so that nothing a report does to them reaches the next report.
    """
    key = (str(work.path.resolve()), tuple(names))
    files = _describe_files(work, ["run", *names])  # before reading: a file rewritten meanwhile is read again
    run = work.read_json("run")
    cached = _PUBLISHED.get(key)
    if cached is None or cached[0] != files:
        _PUBLISHED.pop(key, None)
        while len(_PUBLISHED) >= _PUBLISHED_FOLDERS:
            _PUBLISHED.pop(next(iter(_PUBLISHED)))  # the oldest
        published = publish_tables({name: work.read_table(name) for name in names}, run)
        cached = _PUBLISHED[key] = (files, {name: _with_text_as_objects(table) for name, table in published.items()})
    return run, {name: table.copy() for name, table in cached[1].items()}


def _with_text_as_objects(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its text columns held as Python strings rather than Arrow arrays.

    A report picks rows out of small tables some hundred times (a force's, England and Wales's); each pick
    of a table held in Arrow is a call into Arrow per text column, nearly half of a report's own work.

    Examples
    --------
    >>> table = pd.DataFrame({"force_code": pd.array(["E23000014", None], dtype="string[pyarrow]"), "n": [1, 2]})
    >>> published = _with_text_as_objects(table)
    >>> published.dtypes.astype(str).tolist(), published["force_code"].isna().tolist()
    (['object', 'int64'], [False, True])
    """
    text = [
        column
        for column in table.columns
        if pd.api.types.is_string_dtype(table[column]) and table[column].dtype != object
    ]
    return table.astype(dict.fromkeys(text, object)) if text else table


def load_force_report(force_code: str, data_dir: str | Path) -> ForceReport:
    """Load the prepared tables for one force, checking the code and the folder first.

    Parameters
    ----------
    force_code : str
        ONS police force area code; anything else is refused.
    data_dir : path-like
        The folder ``python -m toolkit run`` prepared (its ``--work`` folder).

    Raises
    ------
    UnknownForceError
        The code is not one of the 43 forces.
    ToolkitError
        The folder does not hold prepared tables, or the force has no rows in its extract.
    """
    force = get_force(force_code)
    run, findings, tables = load_prepared(data_dir, (*TABLE_NAMES, *LINKAGE_TABLES))
    if force.code not in run.get("forces_covered", [force.code]):
        raise ToolkitError(f"{force.name} ({force.code}) has no rows in the extract this folder was prepared from")
    work = WorkFolder(data_dir or WORK_DIR)
    work.require(["history"])
    history = [entry for entry in work.read_json("history") if entry["force_code"] == force.code]
    return ForceReport(force=force, run=run, findings=findings, tables=tables, history=history)


def show_page_head(report: ForceReport) -> HTML:
    """What a printed page of the report says at its top: the force, the run's status and any synthetic data."""
    return HTML(describe_running_header(f"{report.force.official_name}: {describe_status_words(report.run)}"))


def show_page_header(report: ForceReport) -> HTML:
    """The top of the page: the run's status (and, on synthetic data, a notice), and breadcrumbs to the index."""
    f = report.force
    return HTML(
        describe_run_status(report.run, f"the real {f.official_name}")
        + describe_breadcrumbs([(SITE_NAME, INDEX_PAGE), (f.official_name, None)])
    )


def show_page_footer(report: ForceReport) -> HTML:
    """The foot of the page: when the run was made, by which toolkit version, and whom to ask."""
    return HTML(describe_footer(report.run))


def show_title(report: ForceReport) -> HTML:
    """The report's title block: force, period, extract date, and the pages it leads to.

    Its links: the index, the national overview, and the reports of its comparator group's forces that this run
    wrote (a run on a few forces writes only theirs).
    """
    f = report.force
    run = report.run
    facts = [
        ("Police force area", f"{f.name} ({f.code})"),
        ("Episodes reported", f"{run.get('period_start', '?')} to {run.get('period_end', '?')}"),
        ("Extract taken", str(run.get("extract_date", "?"))),
    ]
    group = run.get("comparator_groups", {}).get(f.code, [])
    written, failed = list_written_reports(run), set(run.get("reports_failed") or [])
    peers = [get_force(code) for code in group if code in written]
    links = [
        ("Every force's report (index)", INDEX_PAGE),
        *([] if run.get("overview_failed") else [("National overview: England and Wales", OVERVIEW_PAGE)]),
        *((f"Comparator force: {peer.official_name}", name_report_page(peer.slug)) for peer in peers),
    ]
    # A page the run could not make is named, not linked: a reader knows it is missing, not that it was left out.
    unavailable = [describe_unavailable("The national overview", "page")] if run.get("overview_failed") else []
    unavailable += [
        describe_unavailable(f"Comparator force {get_force(c).official_name}") for c in group if c in failed
    ]
    return HTML(
        f"<h1>{escape(f.official_name)}: missing and absent children</h1>"
        + summary_list(facts)
        + _show_coverage(report)
        + list_links(links, "Related pages", "related")
        + notes(unavailable)
    )


def _show_coverage(report: ForceReport) -> str:
    """Which forces the extract covers, and, with too few to compare, that no comparison is made."""
    covered = report.run.get("forces_covered")
    if covered is None:
        return ""
    text = describe_coverage(covered)
    if len(covered) < MIN_FORCES_TO_COMPARE:
        text += " " + describe_too_few_forces(len(covered))
    return f"<p class='coverage' data-forces-covered='{len(covered)}'>{escape(text)}</p>"


def _cell(row: pd.Series, decimals: int) -> str:
    text = format_figure(row["value"], bool(row["suppressed"]), decimals)
    if not row["suppressed"] and pd.notna(row.get("lower")) and pd.notna(row.get("upper")):
        text += f" ({format_figure(row['lower'], False, decimals)} to {format_figure(row['upper'], False, decimals)})"
    return text


def show_headline_table(report: ForceReport) -> HTML:
    """The force in numbers against its comparator group and England and Wales."""
    rows = []
    withheld, left_out = False, set()
    for metric, label, decimals in _ROWS:
        cells = []
        for area in report.area_labels:
            row = report.figure(metric, area)
            withheld |= bool(row["suppressed"])
            left_out |= set(filter(None, str(row.get("leaves_out", "")).split(";")))
            value = "" if row["suppressed"] or pd.isna(row["value"]) else f"{row['value']:.6g}"
            cells.append(Cell(_cell(row, decimals), {"data-metric": metric, "data-area": area, "data-value": value}))
        rows.append((label, cells))
    texts = []
    if report.force.children < SMALL_POPULATION:
        texts.append(
            f"{report.force.official_name} has {report.force.children:,} resident children: its rate per "
            "1,000 children is unstable and should be read with the counts."
        )
    if report.figure("episodes")["value"] == 0:
        texts.append("No episodes for this force are in the extract.")
    if left_out:
        names = ", ".join(get_force(code).official_name for code in sorted(left_out))
        texts.append(
            f"Comparator-group and England and Wales figures leave out {names}, whose own figures are withheld, "
            "so that they cannot be recovered by subtraction."
        )
    table = html_table(rows, "The force in numbers", ["", *report.area_labels.values()], report.threshold)
    return HTML(table + notes(texts))


_JUDGEMENTS = {
    "cause_of_concern": "Cause of concern",
    "area_for_improvement": "Area for improvement",
    "good_practice": "Good practice",
    "observation": "Observation",
}


def _share(row: pd.Series) -> str:
    if row.get("suppressed", False):
        return SUPPRESSED
    if pd.isna(row["value"]):
        return "-"
    return f"{row['value']:.1%} ({row['lower']:.1%} to {row['upper']:.1%})"


def show_findings(report: ForceReport, area: str | tuple[str, ...]) -> HTML:
    """This force's findings in one area (or several), each with its judgement and any recommendation."""
    areas = (area,) if isinstance(area, str) else tuple(area)
    mine = [f for f in report.findings if f["force_code"] == report.force.code and f["area"] in areas]
    if not mine:
        return HTML("<p>No findings in this area: no measure is beyond the limits the rules judge it by.</p>")
    items = [
        (
            describe_finding(finding, f"<strong>{escape(_JUDGEMENTS[finding['judgement']])}.</strong> "),
            {"data-rule": finding["rule"], "data-judgement": finding["judgement"]},
        )
        for finding in mine
    ]
    closing = ""
    if all(finding.get("judged") is False for finding in mine):
        closing = "<p>No other findings in this area: no measure that could be judged is beyond its limits.</p>"
    return HTML(findings_list(items) + closing)


_PLURALS = {
    "cause_of_concern": "causes of concern",
    "area_for_improvement": "areas for improvement",
    "good_practice": "good practice",
}


def _describe_comparators(report: ForceReport) -> str:
    """The forces of this force's comparator group, whose pooled figure each verdict gives beside its own."""
    peers = report.run.get("comparator_groups", {}).get(report.force.code, [])
    covered = set(report.run.get("forces_covered", peers))
    names = [get_force(code).official_name for code in peers if code in covered]
    if not names:
        return "<p class='comparators'>This force has no comparator group in the extract.</p>"
    return (
        f"<p class='comparators' data-comparators='{escape(' '.join(peers))}'>Its comparator group, whose pooled "
        f"figure is given beside each verdict: {escape(', '.join(names))}.</p>"
    )


def show_judgements(report: ForceReport) -> HTML:
    """The summary of judgements: causes of concern with recommendations, areas for improvement, good practice."""
    mine = [f for f in report.findings if f["force_code"] == report.force.code]
    counts = {j: sum(f["judgement"] == j for f in mine) for j in JUDGEMENT_ORDER}
    parts = [_describe_comparators(report)] if report.comparable else []
    parts += [
        "<p class='judgement-counts'>"
        + "; ".join(
            f"<span data-judgement-count='{escape(j)}'>{counts[j]} "
            f"{escape(_JUDGEMENTS[j].lower() if counts[j] == 1 else _PLURALS[j])}</span>"
            for j in JUDGEMENT_ORDER[:3]
        )
        + ".</p>"
    ]
    for judgement in JUDGEMENT_ORDER[:3]:
        chosen = [f for f in mine if f["judgement"] == judgement]
        if not chosen:
            continue
        items = [
            (
                describe_finding(f, _SINCE.get(f.get("since_previous"), "")),
                {"data-rule": f["rule"], "data-judgement": judgement, "data-since": f.get("since_previous", "")},
            )
            for f in chosen
        ]
        parts.append(f"<h3>{escape(_JUDGEMENTS[judgement])}</h3>{findings_list(items)}")
    if not any(counts[j] for j in JUDGEMENT_ORDER[:3]):
        parts.append("<p>No causes of concern, areas for improvement or good practice were found by the rules.</p>")
    return HTML("".join(parts))


_SINCE = {"new": "<strong>New.</strong> ", "enduring": "<strong>Found in the previous run too.</strong> "}
_STATUS = {
    "enduring": "still found",
    "resolved": "no longer found: the measure is now within the limits the rule judges it by",
    "not_judged_now": "not judged now: this run's data cannot support the measure",
}


def show_since_previous(report: ForceReport) -> HTML:
    """Since the last inspection: each cause of concern and area for improvement of the previous run, and now.

    Shown only for a run given ``--previous``: each earlier serious finding with its judgement then and what
    this run's data show (the finding of the same rule now, if any).
    """
    if report.run.get("previous_findings") is None:
        return HTML("<p>No previous run was given to compare with, so no finding is compared with an earlier one.</p>")
    if not report.history:
        return HTML("<p>The previous run made no cause of concern or area for improvement of this force.</p>")
    now = {f["rule"]: f for f in report.findings if f["force_code"] == report.force.code}
    items = []
    for entry in sorted(report.history, key=lambda e: (JUDGEMENT_ORDER.index(e["previous_judgement"]), e["rule"])):
        then = _JUDGEMENTS[entry["previous_judgement"]]
        text = f"<strong>Then: {escape(then)}.</strong> {escape(entry['previous_statement'])} "
        text += f"<strong>Now: {escape(_STATUS[entry['status']])}.</strong>"
        current = now.get(entry["rule"])
        if current is not None:
            text += " " + describe_finding(current, f"<em>{escape(_JUDGEMENTS[current['judgement']])}:</em> ")
        items.append((text, {"data-rule": entry["rule"], "data-status": entry["status"]}))
    return HTML(findings_list(items))


def _share_row(report: ForceReport, table: pd.DataFrame, label: str, attributes: dict) -> tuple | None:
    """A table row of one share: this force (or ``[c]``), against its comparator group, England and Wales."""
    mine = table[table["force_code"] == report.force.code]
    if mine.empty:
        return None
    mine, national = mine.iloc[0], table[table["force_code"] == NATIONAL].iloc[0]
    if rests_on_small_count(mine["numerator"], mine["denominator"], report.threshold):
        figure, band = SUPPRESSED, ""
    else:
        figure = _interval(mine["value"], mine["lower"], mine["upper"], ".0%")
        band = describe_band(mine["comparator_band"], "its comparator group", detail=False)
        group = mine.get("comparator_baseline", np.nan)
        if report.comparable and pd.notna(group):
            band += f" (group {group:.0%})"
    return label, [Cell(figure, attributes), band, format(national["value"], ".0%")]


def _share_table(report: ForceReport, rows: list, caption: str) -> str:
    columns = ["", "This force", "Against its comparator group", report.national_label]
    return html_table(rows, caption, columns, report.threshold)


def _describe_no_rows(report: ForceReport) -> str:
    """Why a section shows no row: no episodes at all, or (a force of a few) every figure withheld."""
    if report.figure("episodes")["value"] == 0:
        return "No episodes for this force are in the extract."
    return (
        f"None of these figures is shown: each rests on fewer than {report.threshold} episodes or children "
        "(statistical disclosure control)."
    )


def show_practice(report: ForceReport, measures: tuple[str, ...], title: str | None = None) -> HTML:
    """Practice shares for this force, its comparator group's funnel band and England and Wales, with intervals.

    With a ``title``, a chart of the same shares follows the table: the force's share with its interval
    beside its comparator group's and England and Wales's (a withheld share is not drawn).
    """
    practice = report.practice
    rows, texts, drawn = [], [], []
    for key in measures:
        measure = PRACTICE_MEASURES[key]
        # A measure the force's records cannot support is shown only as not judged, with the reason.
        statement = measure.support and support_statement(report.support, report.force.code, measure.support)
        if statement:
            rows.append((measure.label, [Cell("Not judged", {"data-practice": key, "data-judged": "no"}), "-", "-"]))
            texts.append(statement)
            continue
        table = practice[practice["measure"] == key]
        row = _share_row(report, table, measure.label, {"data-practice": key})
        if row is not None:
            rows.append(row)
            drawn.append(_drawn_share(report, table, measure.label))
    if not rows:
        return HTML(f"<p>{escape(_describe_no_rows(report))}</p>")
    html = _share_table(report, rows, "Share of the episodes or children each row names (95% Wilson interval)")
    if title and drawn:
        chart = pd.DataFrame(drawn)
        withheld = chart["value"].isna().any()
        fig = plot_shares_against(chart, title, "Share (%)")
        alt = f"{report.force.official_name}, {title.lower()}: " + "; ".join(
            f"{r.label}: {'withheld' if pd.isna(r.value) else format(r.value, '.0%')} in this force, "
            + (f"{r.comparators:.0%} in its comparator group, " if pd.notna(r.comparators) else "")
            + f"{r.national:.0%} in England and Wales"
            for r in chart.itertuples()
        )
        html += embed_chart(fig, alt + ".")
        if withheld:
            texts.append(explain_withheld(report.threshold, drawn=True))
    return HTML(html + notes(texts))


def _drawn_share(report: ForceReport, table: pd.DataFrame, label: str) -> dict:
    """One measure as the share chart draws it: the force's share (withheld when small), its group's, the nation's."""
    mine = table[table["force_code"] == report.force.code].iloc[0]
    national = table[table["force_code"] == NATIONAL].iloc[0]
    small = rests_on_small_count(mine["numerator"], mine["denominator"], report.threshold)
    figures = {key: np.nan if small else mine[key] for key in ("value", "lower", "upper")}
    group = mine.get("comparator_baseline", np.nan)
    return {
        "label": label,
        **figures,
        "comparators": group if report.comparable else np.nan,
        "national": national["value"],
    }


_PROTECTION_MEASURES = (
    "flagged_no_active_response",
    "children_flagged_no_active_response",
    "absent_regraded_24h",
    "residential_no_active_response",
    "looked_after_no_active_response",
    "known_risk_not_recorded",
    "known_risk_graded_low",
)


def show_protection(report: ForceReport) -> HTML:
    """Whether what the force knows gets a response: flagged children, absent children left open, groups, known risks.

    The shares behind the categorisation and known-risk findings, as a table and a chart, and how much an
    exploitation flag moves the first grade here and across England and Wales.
    """
    html = show_practice(report, _PROTECTION_MEASURES, "Known risks and the response they got").data
    flag = report.flag_grading.set_index("force_code")
    code = report.force.code
    if report.comparable and code in flag.index and pd.notna(flag.loc[code, "value"]):
        row = flag.loc[code]
        if rests_on_small_count(row["flagged_higher"], row["flagged_episodes"], report.threshold):
            text = "How much an exploitation flag moves the grade here rests on a small count, so it is withheld."
        else:
            text = (
                f"An exploitation flag multiplies the odds of a medium or high first grade by {row['value']:.2f} here "
                f"(95% interval {row['lower']:.2f} to {row['upper']:.2f}), after age and care status; by "
                f"{flag.loc[NATIONAL, 'value']:.2f} across {report.national_label} (Mantel-Haenszel)."
            )
        html += f"<p data-measure='flag_grading'>{escape(text)}</p>"
    return HTML(html)


# A harm share of a first response no episode had: not computed, which is not withheld.
_NO_EPISODE = "not computed (no episode)"
_RESPONSE_LABELS = {
    "absent": "Recorded 'absent'",
    **{
        g: f"Missing, graded {lab.lower()}"
        for g, lab in {"no_apparent_risk": "No apparent risk", "low": "Low", "medium": "Medium", "high": "High"}.items()
    },
}


def show_outcomes(report: ForceReport) -> HTML:
    """Do the first grades protect children? Harm while missing by first response, grade changes, the c-statistic.

    Every cell is disclosure-controlled: a share resting on a small count is withheld, and so is one other
    where it would be the only one withheld (the episodes add up to the c-statistic's published total).
    """
    code, threshold = report.force.code, report.threshold
    harm = report.harm_by_grade
    mine = harm[harm["force_code"] == code].reset_index(drop=True)
    national = harm[harm["force_code"] == NATIONAL].set_index("response")
    if mine.empty or mine["episodes"].fillna(1).sum() == 0:
        return HTML("<p>Not shown: this force's extract records no episode whose harm is known.</p>")
    hidden = mine["share"].isna() & mine["episodes"].isna()  # withheld together by disclosure control
    rows, drawn = [], []
    for i, row in mine.iterrows():
        label = _RESPONSE_LABELS[row["response"]]
        share = SUPPRESSED if hidden[i] else _interval(row["share"], row["share_lower"], row["share_upper"], ".1%")
        count = SUPPRESSED if hidden[i] else format_count(row["episodes"], threshold)
        nat = national.loc[row["response"]]
        rows.append((label, [count, Cell(share, {"data-response": row["response"]}), _percent(nat["share"])]))
        drawn.append(
            {
                "label": label,
                **{
                    k: np.nan if hidden[i] else row[s]
                    for k, s in (("value", "share"), ("lower", "share_lower"), ("upper", "share_upper"))
                },
                "comparators": np.nan,
                "national": nat["share"],
                # the words for a share not drawn: withheld, or nothing to take a share of
                "missing": "withheld" if hidden[i] else _NO_EPISODE,
            }
        )
    columns = ["First response", "Episodes with harm known", "Came to harm (95% interval)", report.national_label]
    html = html_table(
        rows, "Harm while missing, by the first response (share of episodes, Wilson interval)", columns, threshold
    )
    chart = pd.DataFrame(drawn)
    alt = f"{report.force.official_name}, harm while missing by first response: " + "; ".join(
        f"{r.label}: {r.missing if pd.isna(r.value) else format(r.value, '.1%')} here, "
        + (
            f"{_percent(r.national)} in {report.national_label}"
            if pd.notna(r.national)
            else f"{_NO_EPISODE} in {report.national_label}"
        )
        for r in chart.itertuples()
    )
    html += embed_chart(
        plot_shares_against(chart, "Harm while missing, by first response", "Came to harm (% of episodes)"), alt + "."
    )
    texts = []
    children = int(mine["children_harmed_after_low"].iloc[0])
    texts.append(
        f"Children who came to harm in an episode graded low or no apparent risk, or recorded 'absent': "
        f"{format_count(children, threshold)}."
    )
    auc = report.harm_discrimination.set_index("force_code")
    if code in auc.index:
        row = auc.loc[code]
        if pd.isna(row["c_statistic"]):
            texts.append(f"How well the first grade tells apart the children who came to harm: {row['method']}.")
        elif rests_on_small_count(row["harmed"], row["episodes"], threshold):
            texts.append(
                "How well the first grade tells apart the children who came to harm rests on a small count: withheld."
            )
        else:
            interval = "" if pd.isna(row["lower"]) else f" (95% interval {row['lower']:.2f} to {row['upper']:.2f})"
            nat = auc.loc[NATIONAL, "c_statistic"] if NATIONAL in auc.index else np.nan
            beside = "" if pd.isna(nat) else f"; {report.national_label} {nat:.2f}"
            texts.append(
                f"The c-statistic of the first grade for harm is {row['c_statistic']:.2f}{interval}{beside}: 0.5 is a "
                "grade no better than chance at telling apart the episodes that end in harm, 1 a grade that always "
                "puts them higher (DeLong's interval)."
            )
    changes = report.grade_changes.set_index("force_code")
    if code in changes.index and changes.loc[code, "episodes"] > 0:
        row = changes.loc[code]
        parts = ["upgraded", "downgraded", "unchanged"]
        gone = withhold_parts(row[parts].to_numpy(dtype=float), [row["episodes"]] * 3, threshold)
        said = [
            f"{word} {SUPPRESSED if gone[i] else format(row[f'{word}_share'], '.0%')}" for i, word in enumerate(parts)
        ]
        texts.append(
            f"From first to final grade, of {format_count(row['episodes'], threshold)} episodes graded twice: "
            + ", ".join(said)
            + "."
        )
    if hidden.any():
        texts.append(explain_withheld(threshold, drawn=True))
    return HTML(html + notes(texts))


def show_problem_profile(report: ForceReport) -> HTML:
    """What the force should know about its own area: when, where from, who, how often, exploited or harmed,
    found by whom and reported how soon, each against its comparator group and England and Wales.

    Every table and chart here passes disclosure control for this force
    (:func:`~toolkit.publish.disclosure.publish_profile` and its neighbours): counts from 1 to ``threshold - 1`` are
    withheld; so is one more cell of any set of cells that adds up to a
    published total and has only one withheld (complementary suppression);
    so is every share resting on a withheld or small count, or whose
    denominator would give one back; England and Wales is shown as shares
    only, and its heat map is pooled from the forces' published cells.
    """
    code = report.force.code
    shares = report.profile_shares
    if report.figure("episodes")["value"] == 0 or shares[shares["force_code"] == code].empty:
        return HTML("<p>No episodes for this force are in the extract.</p>")
    profile = _select_profile(report)
    parts = [
        _show_profile_timing(report, profile),
        _show_profile_places(report, profile),
        _show_profile_care(report, profile),
        _show_profile_concentration(report),
        _show_profile_exploitation(report, profile),
        _show_profile_breakdown(
            report,
            profile,
            "found_by",
            "Who finds the children",
            "Who found or returned the child (episodes; share of those that record it)",
            "Episodes still open at the extract date have no one recorded as finding the child: they count as "
            "not known.",
        ),
        _show_profile_delay(report, profile),
        _show_profile_children(report, profile),
        _show_profile_ethnicity(report),
    ]
    return HTML(
        "<section class='problem-profile' data-section='problem-profile'>"
        "<h3>The problem profile: what the force should know about its area</h3>" + "".join(parts) + "</section>"
    )


_PROFILE_LABELS = {
    "missing_from": {
        "home": "Home",
        "foster_care": "Foster care",
        "residential_care": "Residential care (children's home)",
        "other_care": "Other care",
        "school": "School",
        "hospital": "Hospital",
        "other": "Somewhere else",
    },
    "looked_after": {"yes": "Looked after (in local authority care)", "no": "Not looked after"},
    "found_by": {
        "returned_self": "Returned of their own accord",
        "police": "Police",
        "family_carer": "Family or carer",
        "other_agency": "Another agency",
        "other": "Someone else",
    },
    "ethnicity": {"asian": "Asian", "black": "Black", "mixed": "Mixed", "white": "White", "other": "Other"},
    "out_of_area": {"out_of_area_placement": "Looked-after children's episodes: placed out of area"},
    "exploitation": {
        "cse": "Child sexual exploitation flag (cse)",
        "cce": "Child criminal exploitation flag (cce, county lines)",
        "trafficking": "Trafficking flag",
    },
    "harm": {"harmed": "Came to harm while missing (of those that record harm)"},
    "weekend_night": {
        "all": "Reported Friday or Saturday night, 22:00 to 02:00: all episodes",
        "residential_care": "Reported Friday or Saturday night, 22:00 to 02:00: children missing from residential care",
    },
    "last_seen_delay": {"over_24h": "Reported more than 24 hours after last seen (of those that record it)"},
    "age_band": {"0-9": "Aged 0-9", "10-11": "Aged 10-11", "12-17": "Aged 12-17"},
    "sex": {"female": "Girls", "male": "Boys", "other": "Sex recorded as other", "not_known": "Sex not known"},
}
_NOT_KNOWN_LABEL = "Not known: blank or 'unknown' (share of all)"
# Shorter names for the bars of a chart (two lines at most at phone width).
_CHART_LABELS = {
    "looked_after:yes": "Looked after",
    "out_of_area:out_of_area_placement": "Placed out of area (of looked after)",
    "exploitation:cse": "Sexual exploitation flag",
    "exploitation:cce": "Criminal exploitation flag",
    "exploitation:trafficking": "Trafficking flag",
    "harm:harmed": "Came to harm",
    "last_seen_delay:over_24h": "Reported over 24 hours after last seen",
    "weekend_night:residential_care": "Residential care: weekend nights",
    "missing_from:residential_care": "Residential care",
}
_BAND_SHORT = {
    "above_998": "well above",
    "above_95": "possibly above",
    "within": "in line",
    "below_95": "possibly below",
    "below_998": "well below",
    "not_compared": "not compared",
    "no_comparators": "no comparator force",
}
_SHARE_METHOD = "Wilson score 95% interval; bands from proportion funnels (99.8% and 95% limits)"


@dataclass(frozen=True)
class _Profile:
    """This force's rows of the profile tables after disclosure control, and England and Wales's.

    ``shares`` and ``rates`` hold the force's rows with ``count_withheld`` and
    ``figure_withheld``, indexed by ``measure:category``; ``national`` and
    ``national_rates`` England and Wales's rows, by the same keys; ``hours``
    and ``national_hours`` 7 x 24 shares in per cent (NaN where withheld).
    """

    shares: pd.DataFrame
    national: pd.DataFrame
    rates: pd.DataFrame
    national_rates: pd.DataFrame
    hours: np.ndarray
    national_hours: np.ndarray
    hours_withheld: int


def _key(table: pd.DataFrame) -> pd.Series:
    return table["measure"] + ":" + table["category"]


def _select_profile(report: ForceReport) -> _Profile:
    """This force's and England and Wales's rows of the profile tables, as disclosure control publishes them
    (:func:`~toolkit.publish.disclosure.publish_profile` and
    :func:`~toolkit.publish.disclosure.publish_profile_rates`, applied with the run's tables)."""
    code = report.force.code

    def rows(table: pd.DataFrame, unit: str) -> pd.DataFrame:
        picked = table[table["force_code"] == unit]
        return picked.set_index(_key(picked))

    shares, rates = report.profile_shares, report.profile_rates
    hours, national_hours = _publish_hours(report.profile_hours, code)
    return _Profile(
        rows(shares, code),
        rows(shares, NATIONAL),
        rows(rates, code),
        rows(rates, NATIONAL),
        hours,
        national_hours,
        int(np.isnan(hours).sum()),
    )


def _publish_hours(hours: pd.DataFrame, code: str) -> tuple[np.ndarray, np.ndarray]:
    """The force's and England and Wales's hour-by-weekday shares (per cent), withheld cells missing.

    The cells are the published ones (:func:`~toolkit.publish.disclosure.publish_hours`: complementary
    suppression within each force's groups, England and Wales pooled from the forces' published cells).
    """
    mine = hours[hours["force_code"] == code].sort_values("slot")
    # A share of the force's episodes (all of them, withheld cells included: the total is published).
    episodes = float(mine["episodes"].sum())
    share = mine["published"].to_numpy(dtype=float) / episodes * 100 if episodes else np.full(168, np.nan)
    pooled = hours[hours["force_code"] == NATIONAL].set_index("slot")["published"].reindex(range(168))
    total = np.nansum(pooled.to_numpy(dtype=float))
    national = pooled.to_numpy(dtype=float) / total * 100 if total else np.full(168, np.nan)
    return share.reshape(7, 24), national.reshape(7, 24)


def _percent(value: float, lower: float | None = None, upper: float | None = None) -> str:
    """A share as a percentage, one decimal below 10%, with its interval.

    Examples
    --------
    >>> _percent(0.4312, 0.41, 0.45), _percent(0.056, 0.041, 0.081), _percent(float("nan"))
    ('43% (41% to 45%)', '5.6% (4.1% to 8.1%)', '-')
    """

    def one(v: float) -> str:
        return f"{v:.1%}" if v < 0.1 else f"{v:.0%}"

    if pd.isna(value):
        return "-"
    if lower is None or pd.isna(lower) or pd.isna(upper):
        return one(value)
    return f"{one(value)} ({one(lower)} to {one(upper)})"


def _share_cells(row: pd.Series, national: pd.Series | None, unit: str, threshold: int, key: str) -> list:
    """The count, share (with interval or the reason it is not computed), both bands and England and Wales."""
    count = SUPPRESSED if row["count_withheld"] else format_count(row["numerator"], threshold)
    if row["figure_withheld"]:
        share, band, comparator = SUPPRESSED, "", ""
    elif row["reason"]:
        share, band, comparator = row["reason"], "-", "-"
    else:
        share = _percent(row["value"], row["lower"], row["upper"])
        band, comparator = _BAND_SHORT[row["band"]], _BAND_SHORT[row["comparator_band"]]
    attributes = {"data-cell": key, "data-count": unit}
    if row["partition"]:
        attributes["data-partition"] = row["partition"]
    return [
        Cell(count, attributes),
        Cell(share, {"data-share": key}),
        Cell(band, {"data-band": "" if row["figure_withheld"] else row["band"]}),
        Cell(comparator, {"data-comparator-band": "" if row["figure_withheld"] else row["comparator_band"]}),
        _percent(national["value"]) if national is not None else "-",
    ]


def _share_rows(report: ForceReport, profile: _Profile, keys: list[str]) -> list[tuple]:
    rows = []
    for key in keys:
        if key not in profile.shares.index:
            continue
        row = profile.shares.loc[key]
        measure, category = key.split(":")
        label = _NOT_KNOWN_LABEL if category == NOT_KNOWN else _PROFILE_LABELS[measure][category]
        national = profile.national.loc[key] if key in profile.national.index else None
        rows.append((label, _share_cells(row, national, row["unit"], report.threshold, key), {"data-row": key}))
    return rows


def _profile_table(report: ForceReport, rows: list[tuple], caption: str, unit: str) -> str:
    columns = [
        "",
        f"{unit.capitalize()} (count)",
        "Share (95% interval)",
        f"Against {report.national_label}",
        "Against its comparator group",
        report.national_label,
    ]
    return html_table(rows, f"{caption}: {_SHARE_METHOD}", columns, report.threshold)


def _bars(profile: _Profile, keys: list[str], rates: bool = False) -> pd.DataFrame:
    """Rows for :func:`~toolkit.publish.plots.plot_share_bars`: withheld or not computed figures are not drawn."""
    table, national = (profile.rates, profile.national_rates) if rates else (profile.shares, profile.national)
    scale = 1 if rates else 100
    rows = []
    for key in keys:
        if key not in table.index:
            continue
        row = table.loc[key]
        shown = not row["figure_withheld"] and not row["reason"]
        measure, category = key.split(":")
        rows.append(
            {
                "key": key,
                "label": _CHART_LABELS.get(key, _PROFILE_LABELS[measure][category]),
                "value": row["value"] * scale if shown else np.nan,
                "lower": row["lower"] * scale if shown else np.nan,
                "upper": row["upper"] * scale if shown else np.nan,
                "national": national.loc[key, "value"] * scale if key in national.index else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _number(value: float) -> str:
    """A figure in a sentence: whole from 10, one decimal from 1, two significant figures below (0.036).

    Examples
    --------
    >>> _number(48.93), _number(3.14159), _number(0.0363), _number(float("nan"))
    ('49', '3.1', '0.036', '-')
    """
    if pd.isna(value):
        return "-"
    return f"{value:.0f}" if value >= 10 else (f"{value:.1f}" if value >= 1 else f"{value:.2g}")


def _describe_bars(bars: pd.DataFrame, unit: str, national_label: str) -> str:
    """The figures a bar chart draws, in words, for its text alternative."""
    parts = []
    for row in bars.itertuples():
        force = "withheld or not shown" if pd.isna(row.value) else f"{_number(row.value)}{unit}"
        parts.append(f"{row.label}: {force} ({national_label} {_number(row.national)}{unit})")
    return "; ".join(parts) + "."


def _describe_busiest_hour(hours: np.ndarray, national_label: str) -> str:
    """The busiest hour of England and Wales's heat map in words, or why there is none to name.

    At a high suppression threshold every force's cells may be withheld, and the pooled map with them.

    Examples
    --------
    >>> hours = np.zeros((7, 24)); hours[4, 22] = 3.0
    >>> _describe_busiest_hour(hours, "England and Wales")
    'Nationally the busiest hour is Friday 22:00 to 23:00.'
    >>> _describe_busiest_hour(np.full((7, 24), np.nan), "England and Wales")
    "Every cell of England and Wales's map is withheld, so no busiest hour is named."
    """
    if not np.isfinite(hours).any():
        return f"Every cell of {national_label}'s map is withheld, so no busiest hour is named."
    day, hour = np.unravel_index(np.nanargmax(hours), hours.shape)
    return f"Nationally the busiest hour is {WEEKDAYS[day]} {hour:02d}:00 to {hour + 1:02d}:00."


def _show_profile_timing(report: ForceReport, profile: _Profile) -> str:
    """The night share, the weekend-night shares (all, and of children missing from residential care) and the
    hour-by-weekday heat map against England and Wales."""
    name, threshold = report.force.official_name, report.threshold
    rows = []
    nights = report.night_reports.set_index("force_code")
    if report.force.code in nights.index:
        night, national = nights.loc[report.force.code], nights.loc[NATIONAL]
        withheld = bool(rests_on_small_count(night["numerator"], night["denominator"], threshold))
        cells = [
            Cell(SUPPRESSED if withheld else format_count(night["numerator"], threshold), {"data-count": "episodes"}),
            Cell(
                SUPPRESSED if withheld else _interval(night["value"], night["lower"], night["upper"], ".0%"),
                {"data-profile": "night_reports"},
            ),
            Cell("" if withheld else _BAND_SHORT[night["band"]], {"data-band": "" if withheld else night["band"]}),
            "" if withheld else _BAND_SHORT[night["comparator_band"]],
            format(national["value"], ".0%"),
        ]
        rows.append(("Reported between 22:00 and 02:00", cells, {"data-row": "night_reports"}))
    rows += _share_rows(report, profile, ["weekend_night:all", "weekend_night:residential_care"])
    table = _profile_table(report, rows, "When children are reported (episodes)", "episodes")
    fig = plot_hour_weekday_heatmap(profile.hours, profile.national_hours, name, report.national_label)
    alt = (
        f"Heat map of the share of {name}'s episodes reported in each hour of each weekday (local time, as "
        f"recorded), above the same for {report.national_label}. "
        + _describe_busiest_hour(profile.national_hours, report.national_label)
        + (
            f" {profile.hours_withheld} of the force's 168 cells are withheld and hatched."
            if profile.hours_withheld
            else ""
        )
    )
    texts = [
        "The time each episode was reported, as the force recorded it, in local time. A force that knows when its "
        "children go missing can plan who is on duty to look for them; children missing from residential care are "
        "often reported late at night at weekends.",
        "Friday and Saturday nights are 22:00 on Friday to 02:00 on Saturday, and 22:00 on Saturday to 02:00 on "
        "Sunday: 8 of the week's 168 hours (4.8%).",
    ]
    if profile.hours_withheld or np.isnan(profile.national_hours).any():
        texts.append(explain_withheld(threshold, drawn=True))
    return "<h4>When children are reported</h4>" + table + embed_chart(fig, alt) + notes(texts)


def _show_profile_places(report: ForceReport, profile: _Profile) -> str:
    """Where the force's children went missing from: table and bars against England and Wales."""
    keys = [f"missing_from:{c}" for c in _PROFILE_LABELS["missing_from"]]
    html = _show_profile_breakdown(
        report,
        profile,
        "missing_from",
        "Where children go missing from",
        "Where the child went missing from (episodes; share of those that record it)",
        "",
    )
    bars = _bars(profile, keys)
    name = report.force.official_name
    fig = plot_share_bars(
        bars,
        "Where children went missing from (share of episodes that record it)",
        "Share of episodes (%), with 95% interval",
        name,
        report.national_label,
    )
    alt = (
        f"Bar chart of where {name}'s children went missing from, as shares of the episodes that record it, with "
        f"95% intervals, against {report.national_label}. " + _describe_bars(bars, "%", report.national_label)
    )
    return html + embed_chart(fig, alt)


def _show_profile_breakdown(
    report: ForceReport, profile: _Profile, measure: str, heading: str, caption: str, note: str
) -> str:
    keys = [f"{measure}:{c}" for c in (*_PROFILE_LABELS[measure], NOT_KNOWN)]
    rows = _share_rows(report, profile, keys)
    texts = [note] if note else []
    texts.append(
        "A category's share is of the episodes that record this, not blank or 'unknown'; the not known share "
        "is of all the force's episodes. The counts add up to the force's episodes."
    )
    return f"<h4>{escape(heading)}</h4>" + _profile_table(report, rows, caption, "episodes") + notes(texts)


def _show_profile_care(report: ForceReport, profile: _Profile) -> str:
    """Looked-after children's share of episodes, and how many of them are placed out of the area."""
    keys = [f"looked_after:{c}" for c in ("yes", "no", NOT_KNOWN)] + ["out_of_area:out_of_area_placement"]
    rows = _share_rows(report, profile, keys)
    texts = [
        "Looked after: in local authority care when the child went missing. Out of area: the risk factor of a "
        "placement out of the child's home area, as a share of looked-after children's episodes. Risk factors are "
        "one optional field where a blank means none known, so a force that lists none cannot be told from one "
        "whose children have none: it is not computed then."
    ]
    caption = "Children in care (episodes)"
    return "<h4>Children in care</h4>" + _profile_table(report, rows, caption, "episodes") + notes(texts)


def _show_profile_concentration(report: ForceReport) -> str:
    """How much of the force's demand comes from its most often missing children."""
    table = report.profile_concentration.set_index("force_code")
    mine, national = table.loc[report.force.code], table.loc[NATIONAL]
    threshold = report.threshold

    def figure(row: pd.Series) -> str:
        if row["withheld"]:  # :func:`~toolkit.publish.disclosure.publish_concentration`
            return SUPPRESSED
        if row["children"] == 0:
            return row["reason"]
        return _percent(row["value"], row["lower"], row["upper"])

    shown = figure(mine)
    label = "Share of episodes of the 10% of children most often missing (95% bootstrap interval)"
    rows = [
        (label, [Cell(shown, {"data-share": "concentration"}), figure(national)]),
        (
            "Children in that 10% (of the force's children)",
            [
                Cell(
                    SUPPRESSED
                    if shown == SUPPRESSED
                    else f"{format_count(mine['top_children'], threshold)} of "
                    f"{format_count(mine['children'], threshold)}",
                    {"data-count": "children", "data-cell": "concentration:top_children"},
                ),
                "-",
            ],
        ),
    ]
    texts = [
        "Children are counted by their pseudonym within the force. The 10% is rounded up to whole children (at "
        "least one); children tied at the cut-off have the same number of episodes, so which of them is counted "
        f"does not change the share. {report.national_label} ranks every force's children together.",
        "Method: " + mine["method"] + ". With no funnel, no rule judges this share: read it beside the national "
        "figure and the force's own earlier years.",
    ]
    if mine["reason"] and mine["children"] > 0 and shown != SUPPRESSED:
        texts.append(mine["reason"].capitalize() + ".")
    table_html = html_table(
        rows,
        "How concentrated repeat missing is: share of episodes, percentile bootstrap 95% interval over children",
        ["", "This force", report.national_label],
        threshold,
    )
    return "<h4>How concentrated repeat missing is</h4>" + table_html + notes(texts)


def _show_profile_exploitation(report: ForceReport, profile: _Profile) -> str:
    """Exploitation flags and harm, and a chart of the section's risk shares against England and Wales."""
    keys = [f"exploitation:{flag}" for flag in ("cse", "cce", "trafficking")] + ["harm:harmed"]
    rows = _share_rows(report, profile, keys)
    texts = [
        "Flags are risk factors known at the first assessment, as shares of all the force's episodes. Harm is harm "
        "suffered while missing (injury, sexual offence, other crime, death), as a share of the episodes that "
        "record whether there was harm."
    ]
    html = (
        "<h4>Exploitation and harm</h4>"
        + _profile_table(report, rows, "Exploitation flags and harm (episodes)", "episodes")
        + notes(texts)
    )
    chart = [
        "looked_after:yes",
        "out_of_area:out_of_area_placement",
        *keys,
        "last_seen_delay:over_24h",
        "weekend_night:residential_care",
    ]
    bars = _bars(profile, chart)
    name = report.force.official_name
    fig = plot_share_bars(
        bars,
        f"Risk in {name}'s episodes against {report.national_label}",
        "Share of episodes (%), with 95% interval",
        name,
        report.national_label,
    )
    alt = (
        f"Bar chart of {name}'s shares of episodes for children in care, exploitation flags, harm, late reports "
        f"and weekend nights, with 95% intervals, against {report.national_label}. "
        + _describe_bars(bars, "%", report.national_label)
    )
    return html + embed_chart(fig, alt)


def _show_profile_delay(report: ForceReport, profile: _Profile) -> str:
    """Hours from last seen to report: the median with its interval, and the share reported after 24 hours."""
    table = report.profile_delay.set_index("force_code")
    mine, national = table.loc[report.force.code], table.loc[NATIONAL]
    threshold = report.threshold

    def median(row: pd.Series) -> str:
        if row["withheld"]:  # :func:`~toolkit.publish.disclosure.publish_delay`
            return SUPPRESSED
        if row["recorded"] == 0:
            return row["reason"]
        return _interval(row["median_hours"], row["median_lower"], row["median_upper"], ".1f")

    recorded = SUPPRESSED if mine["withheld"] else format_count(mine["recorded"], threshold)
    rows = [
        (
            "Median hours from last seen to report (95% interval)",
            [Cell(median(mine), {"data-share": "delay"}), median(national)],
        ),
        (
            "Episodes that record when the child was last seen",
            [Cell(recorded, {"data-count": "episodes", "data-cell": "delay:recorded"}), "-"],
        ),
    ]
    median_html = html_table(
        rows,
        "Time from last seen to report: median, distribution-free 95% interval (binomial order statistics)",
        ["", "This force", report.national_label],
        threshold,
    )
    share_html = _profile_table(
        report, _share_rows(report, profile, ["last_seen_delay:over_24h"]), "Reported late (episodes)", "episodes"
    )
    texts = [
        "The time from when the child was last seen to the report to police, over the episodes that record both. "
        "A long delay can mean carers wait before they report, or the force records the report late."
    ]
    if mine["reason"] and mine["recorded"] > 0 and median(mine) != SUPPRESSED:
        texts.append(mine["reason"].capitalize() + ".")
    return "<h4>Time from last seen to report</h4>" + median_html + share_html + notes(texts)


def _show_profile_children(report: ForceReport, profile: _Profile) -> str:
    """Distinct children by age band and sex per 1,000 resident children, and their ethnicity as shares."""
    threshold = report.threshold
    rows = []
    for key, row in profile.rates.iterrows():
        measure, category = key.split(":")
        count = SUPPRESSED if row["count_withheld"] else format_count(row["children"], threshold)
        if row["figure_withheld"]:
            rate, band, comparator = SUPPRESSED, "", ""
        elif row["reason"]:
            rate, band, comparator = "no population to compare with", "-", "-"
        else:
            rate = f"{_number(row['value'])} ({_number(row['lower'])} to {_number(row['upper'])})"
            band, comparator = _BAND_SHORT[row["band"]], _BAND_SHORT[row["comparator_band"]]
        national = profile.national_rates.loc[key, "value"]
        cells = [
            Cell(count, {"data-cell": key, "data-count": "children", "data-partition": measure}),
            Cell(rate, {"data-share": key}),
            Cell(band, {"data-band": "" if row["figure_withheld"] else row["band"]}),
            Cell(comparator, {"data-comparator-band": "" if row["figure_withheld"] else row["comparator_band"]}),
            _number(national),
        ]
        rows.append((_PROFILE_LABELS[measure][category], cells, {"data-row": key}))
    columns = [
        "",
        "Children (count)",
        "Per 1,000 resident children (95% interval)",
        f"Against {report.national_label}",
        "Against its comparator group",
        report.national_label,
    ]
    rates_html = html_table(
        rows,
        "Who the children are: distinct children per 1,000 resident children of the same age or sex (ONS mid-2023); "
        "exact Poisson 95% interval; bands from exact Poisson rate funnels",
        columns,
        threshold,
    )
    keys = [*(f"age_band:{band}" for band in AGE_BANDS), "sex:female", "sex:male"]
    bars = _bars(profile, keys, rates=True)
    name = report.force.official_name
    fig = plot_share_bars(
        bars,
        "Children who went missing, per 1,000 resident children of each age and sex",
        "Per 1,000 resident children, with 95% interval",
        name,
        report.national_label,
    )
    alt = (
        f"Bar chart of the distinct children of {name} who went missing per 1,000 resident children of each age "
        f"band and sex, with 95% intervals, against {report.national_label}. "
        + _describe_bars(bars, " per 1,000", report.national_label)
    )
    ethnicity = _share_rows(report, profile, [f"ethnicity:{c}" for c in (*_PROFILE_LABELS["ethnicity"], NOT_KNOWN)])
    ethnicity_html = _profile_table(report, ethnicity, "Ethnicity of the children (distinct children)", "children")
    texts = [
        "A child is counted once in the force (by pseudonym), in the age band of its first episode in the extract, "
        "with the first sex and ethnicity recorded as known on any of its episodes. The age bands are those the "
        "ONS populations support (0-9, 10-17 and 12-17 are published for police force areas, so 10-11 is their "
        "difference; 16-17 cannot be separated).",
        "The reference data carry no child population by ethnicity for police force areas, so ethnicity is given as "
        "shares of the force's children (of those whose ethnicity is known) against other forces' children, not "
        "against the resident population: a difference may reflect who lives in the area, not who goes missing.",
    ]
    return "<h4>Who the children are</h4>" + rates_html + embed_chart(fig, alt) + ethnicity_html + notes(texts)


def _show_profile_ethnicity(report: ForceReport) -> str:
    """Each ethnic group's odds of no active response and of a medium or high grade against White children's,
    after case mix, beside England and Wales's; an observation where the force is beyond it at 99.8%."""
    code, threshold, national_label = report.force.code, report.threshold, report.national_label
    table = report.profile_ethnicity
    labels = {**_PROFILE_LABELS["ethnicity"], NOT_KNOWN: "Not known: blank or 'unknown'"}
    # Withheld as :func:`~toolkit.publish.disclosure.publish_response_odds` marks them, with the run's tables.
    shown = {
        (measure, unit): table[(table["force_code"] == unit) & (table["measure"] == measure)].set_index("group")
        for measure in RESPONSE_OUTCOMES
        for unit in (code, NATIONAL)
    }

    def odds(row: pd.Series) -> str:
        if row.name == REFERENCE_ETHNICITY:
            return "1 (reference)"
        if row.name == NOT_KNOWN:
            return "not compared"
        if row["reason"]:
            return row["reason"]
        if row["odds_withheld"]:
            return SUPPRESSED
        return _interval(row["value"], row["lower"], row["upper"], ".2f")

    rows, observations = [], []
    first = shown[(next(iter(RESPONSE_OUTCOMES)), code)]
    for group in first.index:
        count = (
            SUPPRESSED if first.loc[group, "count_withheld"] else format_count(first.loc[group, "episodes"], threshold)
        )
        cells = [Cell(count, {"data-count": "episodes", "data-cell": f"ethnicity_response:{group}"})]
        for measure, (_, what) in RESPONSE_OUTCOMES.items():
            row, whole = shown[(measure, code)].loc[group], shown[(measure, NATIONAL)].loc[group]
            cells += [Cell(odds(row), {"data-odds": f"{measure}:{group}"}), odds(whole)]
            beyond = row["band"] in ("above_998", "below_998") and not row["reason"]
            if beyond and not row["odds_withheld"] and not whole["odds_withheld"]:
                more = "higher" if row["band"] == "above_998" else "lower"
                observations.append(
                    f"Observation: the odds of {what} for {labels[group]} children's episodes against White "
                    f"children's, after case mix, are {more} here, {odds(row)}, than in {national_label}, "
                    f"{odds(whole)}, beyond the 99.8% limit. The data do not say why."
                )
        rows.append((labels[group], cells, {"data-row": f"ethnicity_response:{group}"}))
    columns = [
        "",
        "Episodes with a first response (count)",
        "No active response: odds ratio (95% interval)",
        national_label,
        "Graded medium or high: odds ratio (95% interval)",
        national_label,
    ]
    html = html_table(
        rows,
        "The first response by ethnicity, after case mix: odds against White children's episodes, "
        "Mantel-Haenszel over case-mix strata, Robins-Breslow-Greenland 95% interval",
        columns,
        threshold,
    )
    texts = [
        "Method: Mantel-Haenszel odds ratios of each group's episodes against White children's in the same force "
        f"({national_label}: the same, pooled over forces), over strata of every combination of the case mix the "
        "consistency models adjust for (recorded risk factors, under 12, looked after, earlier episodes), with "
        "Robins-Breslow-Greenland 95% intervals; every first response counts, 'absent' as no active response and "
        "not as graded medium or high. Above 1, the group's episodes get that response more often than White "
        "children's of the same case mix.",
        "A child's ethnicity is the first recorded as known on any of its episodes; episodes of children whose "
        "ethnicity is not known are counted but not compared. An odds ratio is withheld where the group's count "
        "is, or where the episodes of the group or of White children with, or without, the response, or their "
        f"children, number fewer than {threshold}. A difference from {national_label} is stated only beyond the "
        "99.8% limit: each force has eight of these odds ratios, so at 95% about one force in three would show "
        "one by chance.",
        *observations,
    ]
    return "<h4>The first response by ethnicity, after case mix</h4>" + html + notes(texts)


def _support_share(row: pd.Series, threshold: int) -> str:
    """The share of episodes that support a measure, or ``[c]`` where it would give a small count away."""
    withheld = row["suppressed"] or rests_on_small_count(row["numerator"], row["denominator"], threshold)
    return SUPPRESSED if withheld else ("-" if pd.isna(row["value"]) else f"{row['value']:.0%}")


def _describe_outcome(outcome: str) -> str:
    """What cleaning did with a row, in words: kept, merged, or set aside and why (its reasons' codes, as words).

    Examples
    --------
    >>> _describe_outcome("clean"), _describe_outcome("bad_date;overlaps_episode")
    ('Kept (clean)', 'Set aside (quarantined): bad date; overlaps episode')
    """
    if outcome in _OUTCOMES:
        return _OUTCOMES[outcome]
    return "Set aside (quarantined): " + "; ".join(code.replace("_", " ") for code in outcome.split(";"))


_OUTCOMES = {"clean": "Kept (clean)", "merged": "Merged into an identical row"}


def show_data_quality(report: ForceReport) -> HTML:
    """What cleaning did with the force's rows, its scorecard against England and Wales, and
    which measures its data can support."""
    code = report.force.code
    cleaning = report.cleaning[report.cleaning["force_code"] == code]
    received = cleaning["received"].iloc[0] if len(cleaning) else 0
    outcomes = cleaning.sort_values("rows", ascending=False)
    lines = [
        (_describe_outcome(row.outcome), [format_figure(row.rows, row.suppressed)]) for row in outcomes.itertuples()
    ]
    cleaning_html = (
        f"<p>Rows received from the force's extract: <strong>{format_figure(received, pd.isna(received))}</strong>. "
        "What became of them:</p>"
        + html_table(lines, "What cleaning did with the rows", ["Outcome", "Rows"], threshold=report.threshold)
    )
    card = report.quality
    mine = card[card["force_code"] == code].set_index(["dimension", "measure"])
    national = card[card["force_code"] == NATIONAL].set_index(["dimension", "measure"])
    rows = []
    for key, row in mine.iterrows():
        if key[0] == "completeness" and key[1] not in KEY_FIELDS:
            continue
        other = national.loc[key] if key in national.index else None
        name = f"{key[0]}: {FIELD_LABELS[key[1]]} recorded" if key[0] == "completeness" else f"{key[0]}: {key[1]}"
        cells = [Cell(_share(row), {"data-quality": f"{key[0]}:{key[1]}"}), _share(other) if other is not None else "-"]
        rows.append((name, cells))
    card_html = html_table(
        rows,
        "Data-quality scorecard (share with 95% Wilson interval)",
        ["", "This force", report.national_label],
        report.threshold,
    )
    support = report.support[report.support["force_code"] == code]
    items, shares = [], []
    for _, row in support.iterrows():
        verdict = "supported" if row["sufficient"] else "not judged"
        shares.append(_support_share(row, report.threshold))
        items.append(
            f"<li data-support='{escape(row['metric'])}' data-sufficient='{bool(row['sufficient'])}'>"
            f"{escape(row['description'].capitalize())}: {escape(shares[-1])} of {escape(row['denominator_label'])} "
            f"record {escape(row['needs'])}: <strong>{escape(verdict)}</strong></li>"
        )
    support_html = "<p>Measures the force's data can support:</p><ul>" + "".join(items) + "</ul>"
    if SUPPRESSED in shares:
        support_html += notes([explain_withheld(report.threshold)])
    return HTML(cleaning_html + card_html + support_html)


def show_rate_funnel(report: ForceReport) -> HTML:
    """Episodes per 1,000 children against funnel limits, this force highlighted, with what it shows."""
    table = report.funnel_volume
    if (table["band"] == "not_compared").all():  # too few forces in the extract: no funnel to draw
        return HTML(f"<p data-band='not_compared'>{escape(table['dispersion_sentence'].iloc[0])}</p>")
    mine = table[table["force_code"] == report.force.code]
    rate = report.figure("rate_per_1000_children")
    # A force whose figures are withheld is neither plotted nor placed: its point would reveal the count.
    withheld = report.summary["suppressed"] & (report.summary["area"] == "force")
    shown = table[~table["force_code"].isin(set(report.summary.loc[withheld, "force_code"]))]
    names = {code: get_force(code).official_name for code in shown["force_code"]}
    dispersion = {
        "baseline": float(table["baseline"].iloc[0]),
        "tau2": float(table["tau2"].iloc[0]),
        "adjusted": bool(table["adjusted"].iloc[0]),
    }
    fig = plot_funnel(
        shown.rename(columns={"force_code": "unit"}),
        dispersion,
        report.force.code,
        "rate",
        title="Missing and absent episodes per 1,000 children: funnel plot",
        xlabel="Resident children aged 0-17 (ONS mid-2023, log scale)",
        ylabel="Episodes per 1,000 children",
        multiplier=1000,
        labels=names,
    )
    band = mine["band"].iloc[0] if len(mine) and not rate["suppressed"] else ""
    if not band:
        verdict = "This force's rate is withheld or not available, so it is not placed on the funnel."
    else:
        verdict = f"{report.force.official_name} is {describe_band(band, report.national_label)}."
    alt = (
        "Funnel plot of episodes per 1,000 children against child population for each force, with 95% and "
        f"99.8% control limits around {report.national_label} ({format_figure(dispersion['baseline'], False, 1)} "
        f"per 1,000). {verdict}"
    )
    sentence = table["dispersion_sentence"].iloc[0]
    image = embed_chart(fig, alt)
    return HTML(f"{image}<p data-band='{escape(band)}'>{escape(verdict)} {escape(sentence)}</p>")


def _interval(value: float, lower: float, upper: float, fmt: str) -> str:
    if pd.isna(value):
        return "-"
    if pd.isna(lower) or pd.isna(upper):
        return format(value, fmt)
    return f"{value:{fmt}} ({lower:{fmt}} to {upper:{fmt}})"


def show_time_to_return(report: ForceReport) -> HTML:
    """Time from report to return against England and Wales: medians, shares by 8 hours, 48 hours, a week,
    and the Kaplan-Meier curves; or the statement that the data cannot support it."""
    statement = support_statement(report.support, report.force.code, "time_to_return")
    if statement:
        return HTML(f"<p class='insufficient' data-support='time_to_return'>{escape(statement)}</p>")
    table = report.time_to_return
    mine = table[table["force_code"] == report.force.code]
    national = table[table["force_code"] == NATIONAL].iloc[0]
    episodes = report.figure("episodes")
    if mine.empty or episodes["suppressed"]:
        return HTML("<p>Too few episodes in this force to report time to return.</p>")
    mine = mine.iloc[0]
    rows = [("Median hours to return", "median_hours", "median_lower", "median_upper", ".1f")]
    rows += [
        (f"Returned within {label}", f"within_{h}h", f"within_{h}h_lower", f"within_{h}h_upper", ".0%")
        for h, label in ((8, "8 hours"), (48, "48 hours"), (168, "7 days"))
    ]
    cells = [
        (
            label,
            [
                Cell(_interval(mine[key], mine[lo], mine[hi], fmt), {"data-ttr": key}),
                _interval(national[key], national[lo], national[hi], fmt),
            ],
        )
        for label, key, lo, hi, fmt in rows
    ]
    p = mine["logrank_p"]
    if pd.isna(p):
        test = "No log-rank test: no other force's episodes are in the extract to compare with."
    elif p < 0.001:
        test = f"The force's time to return differs from {report.others_label} (log-rank p < 0.001)."
    else:
        test = f"Log-rank test against {report.others_label}: p = {p:.3f}."
    curves = report.return_curves
    fig = plot_return_curves(
        [
            (curves[curves["force_code"] == code], label, colour)
            for code, label, colour in (
                (NATIONAL, report.national_label, "#1f77b4"),
                (report.force.code, report.force.official_name, "#d62728"),
            )
        ]
    )
    alt = (
        f"Step chart of the share of episodes ended by the child's return, by hours since the report. "
        f"{report.force.official_name}: "
        f"{mine['within_8h']:.0%} within 8 hours; {report.national_label} {national['within_8h']:.0%}."
    )
    return HTML(
        html_table(
            cells,
            "Time from report to return (95% intervals)",
            ["", "This force", report.national_label],
            report.threshold,
        )
        + f"<p>{escape(test)} Episodes still open at the extract date count until then (censored), not as "
        "returned.</p>" + embed_chart(fig, alt)
    )


def show_repeats(report: ForceReport) -> HTML:
    """Repeat and frequently missing children against England and Wales."""
    table = report.repeats.set_index("force_code")
    if report.force.code not in table.index:
        return HTML("<p>No episodes for this force are in the extract.</p>")
    mine, national = table.loc[report.force.code], table.loc[NATIONAL]

    def count(value: float) -> str:  # a national count withheld by secondary suppression is missing
        return SUPPRESSED if pd.isna(value) else format_count(value, report.threshold)

    def share(row: pd.Series) -> str:
        if rests_on_small_count(row["repeat_episodes"], row["episodes"], report.threshold):
            return SUPPRESSED
        return _interval(row["repeat_share"], row["repeat_share_lower"], row["repeat_share_upper"], ".0%")

    rows = [
        ("Children who went missing twice or more", count(mine["children_2_plus"]), count(national["children_2_plus"])),
        ("... three times or more", count(mine["children_3_plus"]), count(national["children_3_plus"])),
        ("Share of episodes that were repeats (95% interval)", share(mine), share(national)),
        (
            f"Frequently missing children ({mine['rule']})",
            count(mine["frequently_missing"]),
            count(national["frequently_missing"]),
        ),
    ]
    soon = report.tables.get("time_to_next", pd.DataFrame(columns=["force_code"])).set_index("force_code")
    if report.force.code in soon.index:
        here, there = soon.loc[report.force.code], soon.loc[NATIONAL]

        def again(row: pd.Series) -> str:
            if rests_on_small_count(row["reported_again"], row["returns"], report.threshold):
                return SUPPRESSED
            if pd.isna(row["again_within_28d"]):
                return "-"
            return _interval(
                row["again_within_28d"], row["again_within_28d_lower"], row["again_within_28d_upper"], ".0%"
            )

        rows.append(
            (
                "Children back who went missing again within 28 days (Kaplan-Meier, 95% interval)",
                again(here),
                again(there),
            )
        )
    changes = report.tables.get("repeat_desensitisation", pd.DataFrame(columns=["force_code", "measure"]))
    changes = changes[changes["force_code"].isin([report.force.code, NATIONAL])].set_index(["measure", "force_code"])
    for measure, label in (
        ("medium_or_high", "Odds of a medium or high grade, per earlier episode of the same child (95% interval)"),
        ("no_active_response", "Odds of no active response, per earlier episode of the same child (95% interval)"),
    ):
        figures = []
        for code in (report.force.code, NATIONAL):
            key = (measure, code)
            row = changes.loc[key] if key in changes.index else None
            if row is None or pd.isna(row["value"]):
                figures.append("not fitted")
            elif is_small_count(row["children"], report.threshold):
                figures.append(SUPPRESSED)
            else:
                figures.append(_interval(row["value"], row["lower"], row["upper"], ".2f"))
        rows.append((label, *figures))
    cells = [(label, [force, england_and_wales]) for label, force, england_and_wales in rows]
    note = (
        "The odds per earlier episode compare each child's episodes with the same child's others (conditional "
        "logistic regression, after the flags recorded and age): below 1 for a grade, or above 1 for no active "
        "response, means later episodes are treated with less urgency. 'Not fitted': fewer than 20 children with "
        "two or more episodes that differ."
    )
    return HTML(
        html_table(cells, "Repeat missing", ["", "This force", report.national_label], report.threshold) + notes([note])
    )


def show_cross_border(report: ForceReport) -> HTML:
    """The force's children who cross force borders, and whether its first grade of them matched what another
    force knew (:mod:`toolkit.linkage.borders`), published through disclosure control."""
    national = report.distinct_children.iloc[0]
    table = report.cross_border.set_index("force_code")
    if not national["countable"]:
        why = f"Children who cross force borders cannot be found from this extract: {national['reason']}."
        return HTML(f"<p>{escape(why)}</p>")
    if report.force.code not in table.index:
        return HTML("<p>No children of this force are in the extract.</p>")
    mine = table.loc[report.force.code]
    if report.force.code in str(national["forces_without_tokens"]).split(";"):  # counted, never linked
        why = "Children who cross force borders are not shown for this force: its records carry no linkage tokens."
        return HTML(f"<p>{escape(why)}</p>")

    def count(column: str) -> str:  # a blank count was withheld (disclosure control)
        return SUPPRESSED if pd.isna(mine[column]) else format_count(mine[column], report.threshold)

    known = mine["known_elsewhere"]
    if pd.isna(mine["graded_low_share"]):
        share = "no such child" if known == 0 else SUPPRESSED
    else:
        share = (
            _interval(mine["graded_low_share"], mine["graded_low_share_lower"], mine["graded_low_share_upper"], ".0%")
            + f" ({count('graded_low_here')} children)"
        )
    rows = [
        ("Children who went missing in another force too", [count("missing_elsewhere")]),
        (
            "Children placed from another force's area (their responsible authority is there)",
            [count("placed_from_elsewhere")],
        ),
        ("Children who cross the force's borders (either)", [count("cross_border")]),
        (
            "Of those missing in another force too: another force had recorded them at risk before their first "
            "episode here",
            [count("known_elsewhere")],
        ),
        ("... of whom this force first graded low or no apparent risk (95% interval)", [share]),
    ]
    texts = [
        "Children are linked across forces by keyed-hash tokens of their names, date of birth and national key, "
        "never the values themselves; a child missing in another force too is one whose linked records include "
        "another force's. An authority's area is the force area the ONS lookup of April 2023 boundaries gives "
        "it; for a code not in the lookup, the force that reports most of its children not in care.",
        "At risk before: on an earlier episode in another force, a flag of exploitation, trafficking or previous "
        "harm, harm while missing, or a medium or high grade. The last row is a measure, not a cause: forces do "
        "not see each other's records, and it shows what linking them would have put before the officer who "
        "first graded the child.",
    ]
    return HTML(
        html_table(rows, "Children who cross force borders", ["", "This force"], report.threshold) + notes(texts)
    )


def show_trend(report: ForceReport) -> HTML:
    """Monthly episodes with the fitted trend, and the rate ratio per year with its interval."""
    code = report.force.code
    series = report.monthly[report.monthly["force_code"] == code]
    trend = report.trends[report.trends["force_code"] == code]
    if series.empty or trend.empty or report.figure("episodes")["suppressed"]:
        return HTML("<p>Too few episodes in this force to show a trend.</p>")
    trend = trend.iloc[0]
    # With month-of-year terms the fitted months add up to the observed ones, calendar month by calendar
    # month: a line drawn beside a withheld month would give it back, so none is drawn then.
    fitted = np.isfinite(trend["rate_ratio_per_year"])
    line = fitted and not series["suppressed"].any()
    fig = plot_monthly_trend(
        series["month"],
        series["episodes"],  # withheld months (a small count, or the month that would give it back) are NaN
        series["fitted"] if line else None,
        report.force.official_name,
    )
    if fitted:
        change, low, high = ((trend[k] - 1) * 100 for k in ("rate_ratio_per_year", "lower", "upper"))
        text = (
            f"The rate of episodes per resident child changed by {change:+.1f}% a year "
            f"(95% interval {low:+.1f}% to {high:+.1f}%; "
            f"{trend['model']}; standard errors widened by the design effect of repeat children, "
            f"{trend['design_effect']:.1f})."
        )
    else:
        text = f"No yearly change is estimated: {trend['model']}."
    alt = (
        f"Line chart of episodes per month in {report.force.official_name}"
        + (" with a fitted trend line. " if fitted else ". ")
        + text
    )
    withheld = notes([explain_withheld(report.threshold, drawn=True)]) if series["suppressed"].any() else ""
    # The rate ratio in the markup for tests and scrapers; "not_fitted" where there is none, never a "nan".
    marker = f"{trend['rate_ratio_per_year']:.4f}" if fitted else "not_fitted"
    sentence = f"<p data-trend='{marker}'>{escape(text)}</p>" + _describe_year_on_year(report)
    return HTML(embed_chart(fig, alt) + sentence + withheld)


def describe_year_on_year(row: pd.Series, period: str | None, national: pd.Series | None) -> str:
    """The sentence of a force's (or England and Wales's) episodes against the same months a year before.

    Examples
    --------
    >>> row = pd.Series({"episodes": 1200, "episodes_before": 1000, "rate_ratio": 1.2, "lower": 1.05,
    ...     "upper": 1.37, "design_effect": 2.3, "method": "m"})
    >>> describe_year_on_year(row, "2024-01..2024-12", None)[:82]
    'Against the same months a year before (2024-01..2024-12 against the year before): '
    >>> describe_year_on_year(row.replace({1.2: None}), None, None)
    'Against the same months a year before: m.'
    """
    opening = "Against the same months a year before" + (f" ({period} against the year before)" if period else "")
    if pd.isna(row["rate_ratio"]):
        return f"{opening}: {row['method']}."
    change, low, high = ((row[k] - 1) * 100 for k in ("rate_ratio", "lower", "upper"))
    text = (
        f"{opening}: episodes changed by {change:+.1f}% ({int(row['episodes']):,} against "
        f"{int(row['episodes_before']):,}; rate ratio {row['rate_ratio']:.2f}, 95% interval {row['lower']:.2f} to "
        f"{row['upper']:.2f}, Poisson, widened by the design effect of repeat children, {row['design_effect']:.1f})"
    )
    if national is not None and pd.notna(national["rate_ratio"]):
        text += f"; England and Wales {(national['rate_ratio'] - 1) * 100:+.1f}%"
    return text + "."


def _describe_year_on_year(report: ForceReport) -> str:
    if "year_on_year" not in report.tables:
        return ""
    table = report.year_on_year.set_index("force_code")
    code = report.force.code
    if code not in table.index:
        return ""
    national = table.loc[NATIONAL] if NATIONAL in table.index and report.comparable else None
    text = describe_year_on_year(table.loc[code], report.run.get("store_period"), national)
    return f"<p data-measure='year_on_year'>{escape(text)}</p>"


def _odds_sentence(row: pd.Series, what: str) -> str:
    return (
        f"{what}: {row['value']:.2f} times the odds of the average force "
        f"(95% interval {row['lower']:.2f} to {row['upper']:.2f}), {describe_band(row['band'], 'the average force')}."
    )


def _ratio_sentence(row: pd.Series, what: str, threshold: int, national: str) -> str:
    if pd.isna(row["value"]):  # withheld: with the model's count of episodes it would give a small count back
        return f"{what}: standardised ratio {SUPPRESSED}."
    observed = format_count(row["observed"], threshold)
    return (
        f"{what}: {observed} observed against {row['expected']:,.0f} expected from the national rates of "
        f"each age, exploitation-flag and care-status group (standardised ratio {row['value']:.2f}, "
        f"95% interval {row['ratio_lower']:.2f} to {row['ratio_upper']:.2f}): "
        f"{describe_band(row['band'], national)}, "
        f"and {describe_band(row['comparator_band'], 'its comparator group', detail=False)}."
    )


_GRADE_LABELS = {"no_apparent_risk": "No apparent risk (absent)", "low": "Low", "medium": "Medium", "high": "High"}


def show_grade_mix(report: ForceReport) -> HTML:
    """The force's first risk grades against its comparator group and England and Wales (chart)."""
    threshold = report.threshold
    mix = report.grade_mix
    code = report.force.code
    chosen = mix[
        ((mix["force_code"] == code) & mix["area"].isin(["force", "comparators"])) | (mix["area"] == "national")
    ]
    if report.figure("episodes")["suppressed"] or chosen.query("area == 'force'")["episodes"].sum() == 0:
        return HTML("<p>Too few graded episodes in this force to show its mix of risk grades.</p>")
    # A withheld grade (a small count, or the one that would give it back) is not drawn.
    small = (chosen["area"] == "force") & chosen["suppressed"]
    shown = chosen.assign(
        share=chosen["share"] * 100,
        where=chosen["area"].map(report.area_labels),
        grade=chosen["grade"].map(_GRADE_LABELS),
    )
    fig = plot_grade_mix(
        shown,
        [_GRADE_LABELS[grade] for grade in GRADE_ORDER],
        list(report.area_labels.values()),
        f"{report.force.official_name}: first risk grade of missing and absent episodes",
    )
    force = shown[shown["area"] == "force"].set_index("grade")["share"]
    national = shown[shown["area"] == "national"].set_index("grade")["share"]
    alt = (
        f"Bar chart of first risk grades. High: {report.force.official_name} "
        + ("withheld" if pd.isna(force.get("High")) else f"{force['High']:.0f}%")
        + f", {report.national_label} {national['High']:.0f}%."
    )
    texts = [explain_withheld(threshold, drawn=True)] if small.any() else []
    pooled = chosen[chosen["area"] != "force"]
    left_out = sorted({c for cell in pooled["leaves_out"].fillna("") for c in str(cell).split(";") if c})
    if left_out:
        names = ", ".join(get_force(c).official_name for c in left_out)
        texts.append(
            f"The comparator-group and {report.national_label} bars leave out the withheld grades of {names}, "
            "so that they cannot be recovered by subtraction."
        )
    return HTML(embed_chart(fig, alt) + notes(texts))


def _officer_spread_chart(report: ForceReport, spread: pd.DataFrame) -> str:
    """Every force's variance between its officers' grading, with its interval, against the national within-force
    variance: the measure behind the officer-inconsistency finding."""
    shown = spread[spread["band"] != "not_estimable"].reset_index()
    # A variance's interval can reach 0, which a logarithmic axis cannot draw: its lower end is drawn at the
    # axis's floor, and the text alternative gives the figures.
    floor = 0.01
    table = pd.DataFrame(
        {
            "force_code": shown["force_code"],
            "value": shown["variance"].clip(lower=floor),
            "lower": shown["lower"].clip(lower=floor),
            "upper": shown["upper"].clip(lower=floor),
        }
    )
    national = float(shown["national_variance"].iloc[0])
    names = {c: get_force(c).official_name for c in table["force_code"]}
    fig = plot_force_effects(
        table,
        report.force.code,
        "Variance between officers' grading of similar cases, by force",
        "Variance between officers (log-odds scale; log axis), with 95% interval",
        names,
        reference=(national, "Within forces nationally"),
    )
    mine = spread.loc[report.force.code]
    alt = (
        f"Forces ranked by the variance between their officers' grading of similar cases; "
        f"{report.force.official_name} is highlighted at {mine['variance']:.2f} (95% interval {mine['lower']:.2f} to "
        f"{mine['upper']:.2f}), against {national:.2f} within forces nationally."
    )
    return embed_chart(fig, alt)


def show_consistency(report: ForceReport) -> HTML:
    """Categorisation and risk assessment after case mix: this force against the others, and between its officers."""
    code = report.force.code
    threshold = report.threshold
    effects = report.consistency_forces
    mine = effects[effects["force_code"] == code].set_index("measure")
    ratios = report.standardised_practice
    ratios = ratios[ratios["force_code"] == code].set_index("measure")
    parts, figures, withheld = [], "", False
    for key, ratio_key, what, ratio_what in (
        (
            "no_response_if_flagged",
            "no_response_if_flagged",
            "Children with exploitation flags given no active response, 'absent' or graded no apparent risk "
            "(adjusted for their risk flags and age, not for care status or earlier episodes)",
            "Flagged children's episodes given no active response",
        ),
        (
            "risk_grading",
            "higher_grade",
            "First response graded medium or high, of every episode graded or recorded 'absent' (adjusted for "
            "the child's risk factors, age, care status and earlier episodes)",
            "Episodes graded medium or high",
        ),
        (
            "high_grading",
            None,
            "First response graded high, of every episode graded or recorded 'absent' (adjusted for the child's risk "
            "factors, age, care status and earlier episodes)",
            None,
        ),
    ):
        if not report.comparable:  # the models place a force against the others: not with this few
            reason = describe_too_few_forces(len(report.run["forces_covered"]))
            parts.append(f"<p class='insufficient' data-measure='{escape(key)}'>{escape(what)}: {escape(reason)}</p>")
            continue
        if key not in mine.index or mine.loc[key, "episodes"] < MIN_EPISODES:
            parts.append(
                f"<p class='insufficient' data-measure='{escape(key)}'>{escape(what)}: too few episodes to model.</p>"
            )
            continue
        row = mine.loc[key]
        text = _odds_sentence(row, what)
        if ratio_key is not None and ratio_key in ratios.index:
            text += " " + _ratio_sentence(ratios.loc[ratio_key], ratio_what, threshold, report.national_label)
            if pd.isna(ratios.loc[ratio_key, "value"]):
                withheld = True
        parts.append(f"<p data-measure='{escape(key)}' data-band='{escape(row['band'])}'>{escape(text)}</p>")
    grading = effects[(effects["measure"] == "risk_grading") & (effects["episodes"] >= MIN_EPISODES)]
    if report.comparable and code in set(grading["force_code"]):
        names = {c: get_force(c).official_name for c in grading["force_code"]}
        fig = plot_force_effects(
            grading,
            code,
            "Risk grading after case mix: odds of a medium or high grade against the average force",
            "Odds ratio against the average force (log scale), with 95% interval",
            names,
        )
        alt = (
            f"Forces ranked by their adjusted odds of grading an episode medium or high rather than lower or "
            f"'absent'; "
            f"{report.force.official_name} is highlighted at {mine.loc['risk_grading', 'value']:.2f}."
        )
        figures = embed_chart(fig, alt)
    # The evidence behind an over-grading finding: the odds of a high grade, force by force.
    over = any(f["force_code"] == code and f["metric"] == HIGH_GRADING_METRIC for f in report.findings)
    high = effects[(effects["measure"] == "high_grading") & (effects["episodes"] >= MIN_EPISODES)]
    if report.comparable and over and code in set(high["force_code"]):
        fig = plot_force_effects(
            high,
            code,
            "Risk grading after case mix: odds of a high grade against the average force",
            "Odds ratio against the average force (log scale), with 95% interval",
            {c: get_force(c).official_name for c in high["force_code"]},
        )
        alt = (
            f"Forces ranked by their adjusted odds of grading an episode high rather than lower or 'absent'; "
            f"{report.force.official_name} is highlighted at {mine.loc['high_grading', 'value']:.2f}."
        )
        figures += embed_chart(fig, alt)
    spread = report.officer_spread.set_index("force_code")
    statement = support_statement(report.support, code, "risk_consistency")
    if statement:
        parts.append(f"<p class='insufficient' data-measure='officer_spread'>Between officers: {escape(statement)}</p>")
    elif code in spread.index and spread.loc[code, "band"] != "not_estimable":
        o = spread.loc[code]
        word = {"above": "more than", "below": "less than"}.get(o["band"].split("_")[0], "about as much as")
        variance = (
            f"variance between {int(o['officers'])} officers {o['variance']:.2f} on the log-odds scale, "
            f"95% interval {o['lower']:.2f} to {o['upper']:.2f}"
        )
        if report.comparable:
            text = (
                f"Between officers: grading varies {word} in other forces for similar cases ({variance}; "
                f"within forces nationally {o['national_variance']:.2f})."
            )
        else:
            text = f"Between officers: {variance}. {describe_too_few_forces(len(report.run['forces_covered']))}"
        parts.append(f"<p data-measure='officer_spread' data-band='{escape(o['band'])}'>{escape(text)}</p>")
        if report.comparable:
            figures += _officer_spread_chart(report, spread)
    else:
        parts.append(
            "<p class='insufficient' data-measure='officer_spread'>Between officers: "
            "too few officers or graded episodes recorded to measure.</p>"
        )
    agreement = report.grade_agreement.set_index("force_code")
    if code in agreement.index and pd.notna(agreement.loc[code, "kappa"]):
        a, n = agreement.loc[code], agreement.loc[NATIONAL]
        parts.append(
            "<p data-measure='kappa'>"
            + escape(
                f"First and final risk grades agreed for {a['agreement']:.0%} of episodes (Cohen's kappa "
                f"{a['kappa']:.2f}, 95% interval {a['kappa_lower']:.2f} to {a['kappa_upper']:.2f}"
                + (f"; {report.national_label} {n['kappa']:.2f}). " if report.comparable else "). ")
                + "Reviews that change grades are expected; low agreement means first grades are often revised."
            )
            + "</p>"
        )
    variance = report.consistency_variance.set_index(["model", "measure", "level"])
    if ("risk_grading", "median_odds_ratio", "force") in variance.index:
        between = variance.loc[("risk_grading", "median_odds_ratio", "force")]
        context = (
            f"Across England and Wales, two similar cases in two random forces differ in their odds of a medium or "
            f"high grade by a median factor of {between['value']:.2f} (median odds ratio, 95% interval "
            f"{between['lower']:.2f} to {between['upper']:.2f})"
        )
        if ("risk_grading", "median_odds_ratio", "officer") in variance.index:
            within = variance.loc[("risk_grading", "median_odds_ratio", "officer")]
            context += (
                f"; between two officers of the same force, by {within['value']:.2f} "
                f"({within['lower']:.2f} to {within['upper']:.2f})"
            )
        parts.append(f"<p class='context'>{escape(context + '.')}</p>")
    models = {"risk_grading": "the risk-grading model", "no_response_if_flagged": "the categorisation model"}
    for note in report.consistency_notes.itertuples():
        text = f"Not modelled ({models.get(note.model, 'a consistency model')}): {note.note}."
        parts.append(f"<p class='insufficient'>{escape(text)}</p>")
    if withheld:
        parts.append(notes([explain_withheld(threshold)]))
    return HTML("".join(parts) + figures)


def _describe_comparator_source(run: dict) -> str:
    """Where the comparator groups came from, in words: a supplied file by its name, or the toolkit's own groups.

    Examples
    --------
    >>> _describe_comparator_source({"comparator_source": "toolkit default groups (groups.yaml), not the Home Office"})
    "the toolkit's default groups, not the Home Office most similar groups"
    >>> _describe_comparator_source({"comparator_source": "supplied file msg.yaml"})
    'supplied file msg.yaml'
    """
    source = str(run.get("comparator_source", ""))
    if source.startswith("supplied file"):
        return source
    return "the toolkit's default groups, not the Home Office most similar groups"


def show_methods(report: ForceReport) -> HTML:
    """Definitions, methods and caveats behind the figures."""
    threshold = report.threshold
    items = [
        "An episode is one report of a child (under 18 when reported) as missing or absent; a child may have several.",
        "Children are counted by their distinct pseudonymised identifiers within the force.",
        "Rates use ONS mid-2023 resident children aged 0-17 in the police force area. "
        "95% intervals: exact Poisson limits below 10 episodes, Byar's approximation from 10 "
        "(the public-health indicator convention).",
        f"Comparator group: {_describe_comparator_source(report.run)}; "
        "its figures pool the episodes and children of its member forces.",
        f"Figures resting on 1 to {threshold - 1} episodes or children are withheld ({SUPPRESSED})."
        if threshold > 1
        else "Disclosure control is switched off: for internal use only, not for publication.",
        "Consistency of categorisation and risk grading: multilevel logistic regression (random intercepts for "
        "force and for officer within force, maximum likelihood with the Laplace approximation, GPBoost), "
        "adjusted for the child's recorded risk factors, age under 12, looked-after status and earlier "
        "episodes; force estimates are shrunken (empirical Bayes) with 95% intervals. Standardised ratios "
        "use national rates in age, exploitation-flag and care-status groups (indirect standardisation, "
        "exact or Byar limits) on funnels with Spiegelhalter's over-dispersion adjustment.",
        "Police records undercount children who go missing, and definitions changed in 2013 "
        "(the 'absent' category) and 2017 ('no apparent risk (absent)'): compare forces and years with care.",
    ]
    return HTML(
        "<h2>Definitions, methods and caveats</h2><ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"
    )
