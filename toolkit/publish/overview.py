"""What the national overview shows: every force on one page, variation, causes of concern, scale.

Like :mod:`toolkit.publish.report`, the overview notebook holds no logic: it loads the
prepared tables with :func:`load_overview` and shows each section with a
``show_*`` function. Values are escaped and disclosure control is applied here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from IPython.display import HTML

from toolkit.forces import NATIONAL, describe_coverage, get_force, list_forces
from toolkit.publish.disclosure import SUPPRESSED, format_figure, published_threshold
from toolkit.publish.markup import (
    INDEX_PAGE,
    SITE_NAME,
    Link,
    describe_breadcrumbs,
    describe_finding,
    describe_footer,
    describe_link,
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
from toolkit.publish.plots import plot_force_effects
from toolkit.publish.report import load_prepared
from toolkit.stats.consistency import MIN_EPISODES

__all__ = [
    "NationalOverview",
    "load_overview",
    "show_page_head",
    "show_page_header",
    "show_page_footer",
    "show_overview_title",
    "show_scale",
    "show_distinct_children",
    "show_force_table",
    "show_variation",
    "show_causes_of_concern",
    "show_caveats",
]


@dataclass(frozen=True)
class NationalOverview:
    """The prepared national tables, after disclosure control."""

    run: dict
    summary: pd.DataFrame
    repeats: pd.DataFrame
    findings: list
    consistency_variance: pd.DataFrame
    consistency_forces: pd.DataFrame
    year_on_year: pd.DataFrame
    distinct_children: pd.DataFrame

    @property
    def threshold(self) -> int:
        return published_threshold(self.run)


def load_overview(data_dir: str | Path) -> NationalOverview:
    """Load the tables the run prepared in ``data_dir`` (its ``--work`` folder).

    Raises
    ------
    ToolkitError
        The folder does not hold prepared tables.
    """
    run, findings, tables = load_prepared(
        data_dir,
        ("summary", "repeats", "consistency_variance", "consistency_forces", "year_on_year", "distinct_children"),
    )
    return NationalOverview(run=run, findings=findings, **tables)


def _national(overview: NationalOverview, metric: str) -> pd.Series:
    s = overview.summary
    return s[(s["area"] == "national") & (s["metric"] == metric)].iloc[0]


def show_page_head(overview: NationalOverview) -> HTML:
    """What a printed page of the overview says at its top: England and Wales, the run's status, synthetic data."""
    return HTML(describe_running_header(f"England and Wales: {describe_status_words(overview.run)}"))


def show_page_header(overview: NationalOverview) -> HTML:
    """The top of the page: the run's status (and, on synthetic data, a notice), and breadcrumbs to the index."""
    return HTML(
        describe_run_status(overview.run, "England and Wales or any real police force")
        + describe_breadcrumbs([(SITE_NAME, INDEX_PAGE), ("National overview", None)])
    )


def show_page_footer(overview: NationalOverview) -> HTML:
    """The foot of the page: when the run was made, by which toolkit version, and whom to ask."""
    return HTML(describe_footer(overview.run))


def show_overview_title(overview: NationalOverview) -> HTML:
    """The title, the period the data cover, which forces the extract covers, and a link to the index."""
    run = overview.run
    covered = run.get("forces_covered", [f.code for f in list_forces()])
    facts = [
        ("Episodes reported", f"{run.get('period_start', '')} to {run.get('period_end', '')}"),
        ("Extract taken", str(run.get("extract_date", ""))),
    ]
    return HTML(
        "<h1>Missing and absent children: England and Wales</h1>"
        + summary_list(facts)
        + f"<p class='coverage'>{escape(describe_coverage(covered))}</p>"
        + list_links([("Every force's report (index)", INDEX_PAGE)], "Related pages", "related")
    )


def show_scale(overview: NationalOverview) -> HTML:
    """The national picture of scale: episodes, distinct children, rate, repeat share, with caveats."""
    episodes, children = _national(overview, "episodes"), _national(overview, "children")
    rate = _national(overview, "rate_per_1000_children")
    repeats = overview.repeats.set_index("force_code").loc[NATIONAL]
    left_out = [get_force(c).official_name for c in filter(None, str(episodes.get("leaves_out", "")).split(";"))]
    rows = [
        ("Missing and absent episodes", format_figure(episodes["value"], bool(episodes["suppressed"]))),
        (
            "Distinct children (counted within each force)",
            format_figure(children["value"], bool(children["suppressed"])),
        ),
        (
            "Episodes per 1,000 children (95% interval)",
            f"{format_figure(rate['value'], False, 1)} "
            f"({format_figure(rate['lower'], False, 1)} to {format_figure(rate['upper'], False, 1)})",
        ),
        (
            "Share of episodes that were repeats (95% interval)",
            f"{repeats['repeat_share']:.0%} "
            f"({repeats['repeat_share_lower']:.0%} to {repeats['repeat_share_upper']:.0%})",
        ),
    ]
    texts = [
        "A child who goes missing in two force areas is counted once in each: the distinct children here are "
        "a sum over forces, not a count of unique children (that count, from linking children across forces, "
        "is under 'Distinct children across force borders' where the extract allows it).",
        "Police records undercount children who go missing, and definitions changed in 2013 (the 'absent' "
        "category) and 2017 ('no apparent risk (absent)').",
    ]
    if left_out:
        texts.append(
            f"Totals leave out {', '.join(left_out)}, whose own figures are withheld, so that they cannot be "
            "recovered by subtraction."
        )
    return HTML(
        html_table([(label, [figure]) for label, figure in rows], "England and Wales", threshold=overview.threshold)
        + notes(texts)
    )


def show_distinct_children(overview: NationalOverview) -> HTML:
    """Distinct children in England and Wales, linked across forces, with the interval and the naive sum beside it.

    For an extract that cannot be linked (version 1 of the contract), the sentence that says so and why.
    """
    row = overview.distinct_children.iloc[0]
    children = _national(overview, "children")  # each force's children summed: published, as the scale table
    naive = ("Children counted once in each force they went missing in (the forces' figures summed)",
             [format_figure(children["value"], bool(children["suppressed"]))])  # fmt: skip
    if not row["countable"]:
        return HTML(
            html_table([naive], "Children in England and Wales", threshold=overview.threshold)
            + notes([f"Distinct children nationally cannot be counted from this extract: {row['reason']}."])
        )

    def interval(value: str, lower: str, upper: str) -> str:
        return f"{format_figure(row[value])} ({format_figure(row[lower])} to {format_figure(row[upper])})"

    rows = [
        ("Distinct children, linked across forces (95% interval)", [interval("distinct", "lower", "upper")]),
        naive,
        (
            "Children who went missing in more than one force (95% interval)",
            [interval("in_more_than_one_force", "in_more_than_one_force_lower", "in_more_than_one_force_upper")],
        ),
    ]
    texts = [f"How: {row['method']}."]
    left_out = [get_force(c).official_name for c in filter(None, str(children.get("leaves_out", "")).split(";"))]
    if left_out:  # the sum is published without them; the linked count is of every force's children
        texts.append(
            f"The forces' figures summed leave out {', '.join(left_out)}, whose own figures are withheld; the "
            "distinct children count every force's children."
        )
    elif not children["suppressed"]:
        texts.append(
            f"The forces' figures summed count {format_figure(children['value'] - row['distinct'])} children more "
            "than once: children who went missing in the areas of two forces or more."
        )
    unlinked = [get_force(code).official_name for code in filter(None, str(row["forces_without_tokens"]).split(";"))]
    if unlinked:
        texts.append(
            f"The records of {', '.join(unlinked)} carry no linkage tokens: their children are counted, but never "
            "as a child of another force, so the number of distinct children may be a little too high."
        )
    return HTML(html_table(rows, "Children in England and Wales", threshold=overview.threshold) + notes(texts))


def show_force_table(overview: NationalOverview) -> HTML:
    """Every force on one line: episodes, rate with interval, and its judgements."""
    s = overview.summary[overview.summary["area"] == "force"].set_index(["force_code", "metric"])
    counts = pd.DataFrame(overview.findings, columns=["force_code", "judgement"]).value_counts()
    rows = []
    covered = set(overview.run.get("forces_covered", [f.code for f in list_forces()]))
    written = list_written_reports(overview.run)  # each is linked; a report that failed is named as not available
    failed = set(overview.run.get("reports_failed") or [])
    # The change on the year before has a column only where some force has one (a run from a store holding it).
    yearly = overview.year_on_year.set_index("force_code")
    yearly = yearly if yearly["rate_ratio"].notna().any() else None
    for force in sorted((f for f in list_forces() if f.code in covered), key=lambda f: f.official_name):
        episodes, rate = s.loc[(force.code, "episodes")], s.loc[(force.code, "rate_per_1000_children")]
        rate_text = format_figure(rate["value"], bool(rate["suppressed"]), 1)
        if not rate["suppressed"] and pd.notna(rate["lower"]):
            rate_text += f" ({format_figure(rate['lower'], False, 1)} to {format_figure(rate['upper'], False, 1)})"
        judged = [int(counts.get((force.code, j), 0)) for j in ("cause_of_concern", "area_for_improvement")]
        judged.append(int(counts.get((force.code, "good_practice"), 0)))
        episodes_text = format_figure(episodes["value"], bool(episodes["suppressed"]))
        cells = [episodes_text, rate_text]
        if yearly is not None:
            cells.append(_describe_change(yearly.loc[force.code]) if force.code in yearly.index else "not computed")
        name = Link(force.official_name, name_report_page(force.slug)) if force.code in written else force.official_name
        name = describe_unavailable(force.official_name) if force.code in failed else name
        rows.append((name, [*cells, *judged], {"data-force": force.code}))
    columns = ["Force", "Episodes", "Per 1,000 children"]
    columns += ["Change on the same months a year before"] if yearly is not None else []
    columns += ["Causes of concern", "Areas for improvement", "Good practice"]
    missing = [f.official_name for f in list_forces() if f.code not in covered]
    texts = [f"Not in the extract, so not shown: {', '.join(missing)}."] if missing else []
    if yearly is not None:
        texts.append(
            "Change: episodes against the same months a year before, as a percentage with its 95% interval "
            "(Poisson rate ratio, widened by the design effect of repeat children); a force the data do not "
            "cover in every month of both years is not compared."
        )
    note = notes(texts) if texts else ""
    caption = "Every force in the extract (rates per 1,000 children with 95% intervals)"
    return HTML(html_table(rows, caption, columns, overview.threshold) + note)


def _describe_change(row: pd.Series) -> str:
    """A force's change on the year before for the overview's table: the percentage with its interval, or why not.

    Examples
    --------
    >>> _describe_change(pd.Series({"rate_ratio": 1.2, "lower": 1.05, "upper": 1.37, "method": "m"}))
    '+20.0% (+5.0% to +37.0%)'
    >>> _describe_change(pd.Series({"rate_ratio": None, "lower": None, "upper": None, "method": "withheld: a count"}))
    '[c]'
    """
    if pd.isna(row["rate_ratio"]):
        return SUPPRESSED if str(row["method"]).startswith("withheld") else str(row["method"]).split(":")[0]
    change, low, high = ((row[k] - 1) * 100 for k in ("rate_ratio", "lower", "upper"))
    return f"{change:+.1f}% ({low:+.1f}% to {high:+.1f}%)"


def show_variation(overview: NationalOverview) -> HTML:
    """Between-force and within-force variation in risk grading and categorisation, with charts."""
    v = overview.consistency_variance.set_index(["model", "measure", "level"])
    sentences = []
    for model, what in (
        ("risk_grading", "a medium or high risk grade"),
        ("no_response_if_flagged", "no active response to a flagged child"),
    ):
        for level, where in (("force", "two random forces"), ("officer", "two officers of the same force")):
            key = (model, "median_odds_ratio", level)
            if key in v.index:
                row = v.loc[key]
                sentences.append(
                    f"For {what}, similar cases in {where} differ in their odds by a median factor of "
                    f"{row['value']:.2f} (95% interval {row['lower']:.2f} to {row['upper']:.2f})."
                )
    icc = ("risk_grading", "intraclass_correlation", "force")
    if icc in v.index:
        sentences.append(
            f"{v.loc[icc, 'value']:.1%} of the variation in grading similar cases lies between forces "
            f"(intraclass correlation, 95% interval {v.loc[icc, 'lower']:.1%} to {v.loc[icc, 'upper']:.1%})."
        )
    html = "".join(f"<p>{escape(t)}</p>" for t in sentences) or "<p>The consistency models were not fitted.</p>"
    effects = overview.consistency_forces[overview.consistency_forces["episodes"] >= MIN_EPISODES]
    names = {code: get_force(code).official_name for code in effects["force_code"]}
    for measure, title in (
        ("risk_grading", "Risk grading after case mix: odds of a medium or high grade against the average force"),
        (
            "no_response_if_flagged",
            "Flagged children given no active response: odds against the average force, after flags and age",
        ),
    ):
        chosen = effects[effects["measure"] == measure]
        if chosen.empty:
            continue
        fig = plot_force_effects(
            chosen, "", title, "Odds ratio against the average force (log scale), 95% interval", names
        )
        highest = chosen.loc[chosen["value"].idxmax()]
        alt = f"{title}; highest: {names[highest['force_code']]} at {highest['value']:.2f}."
        html += embed_chart(fig, alt)
    return HTML(html)


def show_causes_of_concern(overview: NationalOverview) -> HTML:
    """Every cause of concern in England and Wales, by force, with its recommendation."""
    concerns = [f for f in overview.findings if f["judgement"] == "cause_of_concern"]
    if not concerns:
        return HTML("<p>The rules found no cause of concern in any force.</p>")
    items = [
        (
            describe_finding(
                f,
                f"<strong>{_link_force(overview, f['force_code'])}</strong> ({escape(f['area'].replace('_', ' '))}): ",
            ),
            {"data-force": f["force_code"], "data-rule": f["rule"]},
        )
        for f in sorted(concerns, key=lambda f: (get_force(f["force_code"]).official_name, f["rule"]))
    ]
    return HTML(
        f"<p>{len(concerns)} causes of concern in {len({f['force_code'] for f in concerns})} forces.</p>"
        + findings_list(items)
    )


def _link_force(overview: NationalOverview, code: str) -> str:
    """A force's name, linking its report when the run wrote one."""
    force = get_force(code)
    if code not in list_written_reports(overview.run):
        return escape(force.official_name)
    return describe_link(force.official_name, name_report_page(force.slug))


def show_caveats(overview: NationalOverview) -> HTML:
    """Definitions, methods and caveats for the national figures."""
    items = [
        "Figures are computed once from the national extract; each force's report shows the same numbers.",
        "Consistency: multilevel logistic regression with random intercepts for force and officer within force "
        "(GPBoost, Laplace approximation), adjusted for the child's recorded risk factors, age under 12, "
        "looked-after status and earlier episodes; median odds ratio (Merlo 2006); intraclass correlation on the "
        "latent scale.",
        f"Figures resting on 1 to {overview.threshold - 1} episodes or children are withheld ([c])."
        if overview.threshold > 1
        else "Disclosure control is switched off: for internal use only, not for publication.",
    ]
    return HTML(
        "<h2>Definitions, methods and caveats</h2><ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"
    )
