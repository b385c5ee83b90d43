"""HTML for every published page: escaping, tables, notes, findings lists and embedded charts.

The one place a page's markup is written: a force report
(:mod:`~toolkit.publish.report`) and the national overview
(:mod:`~toolkit.publish.overview`) build their sections from these helpers, so
a table or a chart looks the same everywhere and every value is escaped on the
way in, whatever file it came from.

Examples
--------
>>> table = html_table([("Episodes", ["1,204", Cell("[c]", {"data-area": "national"})])],
...                    caption="In numbers", columns=["", "This force", "England and Wales"], threshold=5)
>>> print(table.replace("><", ">\\n<"))  # doctest: +ELLIPSIS
<div class='app-scroll-box' tabindex='0' role='region' aria-label='In numbers'>
<table class='govuk-table headline'>
<caption class='govuk-table__caption govuk-table__caption--s'>In numbers</caption>
<thead class='govuk-table__head'>
<tr class='govuk-table__row'>
<td class='govuk-table__header'>
</td>
<th scope='col' class='govuk-table__header'>This force</th>
<th scope='col' class='govuk-table__header'>England and Wales</th>
</tr>
</thead>
<tbody class='govuk-table__body'>
<tr class='govuk-table__row'>
<th scope='row' class='govuk-table__header'>Episodes</th>
<td class='govuk-table__cell'>1,204</td>
<td class='govuk-table__cell' data-area='national'>[c]</td>
</tr>
</tbody>
</table>
</div>
<p class='note'>[c]: withheld to protect children&#x27;s identities (statistical disclosure control): ...</p>
>>> escape("<script>")
'&lt;script&gt;'
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import matplotlib
import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np

from toolkit.publish.disclosure import SUPPRESSED, explain_withheld
from toolkit.publish.plots import chart_data

__all__ = [
    "Cell",
    "Link",
    "DEFAULT_CONTACT",
    "escape",
    "describe_run_status",
    "describe_breadcrumbs",
    "describe_link",
    "describe_running_header",
    "describe_status_words",
    "name_report_page",
    "list_written_reports",
    "describe_unavailable",
    "INDEX_PAGE",
    "OVERVIEW_PAGE",
    "SITE_NAME",
    "describe_footer",
    "list_links",
    "summary_list",
    "scroll_box",
    "describe_band",
    "html_table",
    "embed_chart",
    "notes",
    "describe_finding",
    "findings_list",
]


# One vocabulary for where a force sits against a funnel's or a model's limits, in every sentence and table.
_BAND_WORDS = {
    "above_998": ("well above", "beyond the 99.8% limit: very unlikely to be chance"),
    "above_95": ("possibly above", "beyond the 95% limit, not the 99.8%"),
    "within": ("in line with", "within the 95% limits"),
    "below_95": ("possibly below", "beyond the 95% limit, not the 99.8%"),
    "below_998": ("well below", "beyond the 99.8% limit: very unlikely to be chance"),
}


def describe_band(band: str, against: str, detail: bool = True) -> str:
    """Where a force sits against ``against`` (England and Wales, its comparator group, the average force).

    Examples
    --------
    >>> describe_band("above_998", "England and Wales")
    'well above England and Wales (beyond the 99.8% limit: very unlikely to be chance)'
    >>> describe_band("below_95", "its comparator group", detail=False)
    'possibly below its comparator group'
    >>> describe_band("not_compared", "England and Wales")
    'not compared: too few forces in the extract'
    """
    if band == "not_compared":
        return "not compared: too few forces in the extract"
    if band == "no_comparators":
        return "not compared: no comparator force in the data"
    words, why = _BAND_WORDS[band]
    return f"{words} {against}" + (f" ({why})" if detail else "")


def escape(value: object) -> str:
    """``value`` as text safe inside HTML and inside a quoted attribute."""
    return html.escape(str(value), quote=True)


def _attributes(attributes: Mapping[str, object]) -> str:
    return "".join(f" {name}='{escape(value)}'" for name, value in attributes.items())


_STATUS_TEXT = {
    "draft": (
        "Draft",
        "Draft: not for publication.",
        "This run has not been marked as published: its figures and findings may still change.",
    ),
    "published": ("Published", "Published.", "This run was marked for publication."),
}


def describe_run_status(run: Mapping[str, object], about: str) -> str:
    """The banner at the top of every page: the run's status and, when its data are synthetic, a notice saying so.

    The status is GOV.UK's phase banner, its tag in words ("Draft", "Published"), not colour alone.

    Parameters
    ----------
    run : mapping
        The run parameters (``run_parameters.json``). ``status`` is "draft" or
        "published"; anything else, or none, is shown as a draft, so that no
        page claims to be published by mistake. ``synthetic`` true adds the
        notice.
    about : str
        What a reader could take the page to describe, which synthetic data say
        nothing about (e.g. "the real West Midlands Police").

    Returns
    -------
    str
        HTML, every piece of text escaped; the notice carries
        ``data-synthetic='true'`` and the status ``data-status``.

    Examples
    --------
    >>> print(describe_run_status({"status": "published"}, "England and Wales"))  # doctest: +ELLIPSIS
    <div class='run-banner'><div class='govuk-phase-banner run-status' data-status='published'>...Published</strong>...
    >>> banner = describe_run_status({"synthetic": True}, "the real <Police>")
    >>> "data-status='draft'" in banner, "Draft: not for publication." in banner, "the real &lt;Police&gt;" in banner
    (True, True, True)
    >>> print(banner.split("</p>")[0])  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    <div class='run-banner'><p class='synthetic-notice app-notice' data-synthetic='true' role='note'><strong>Synthetic
    data: not about any real force.</strong> Every figure and finding on this page comes from synthetic data made by
    the toolkit&#x27;s generator. They say nothing about the real &lt;Police&gt;: real force names are used only to
    show the layout.
    """
    parts = []
    if run.get("synthetic") is True:
        headline, text = describe_synthetic_data(about)
        parts.append(
            "<p class='synthetic-notice app-notice' data-synthetic='true' role='note'>"
            f"<strong>{escape(headline)}</strong> {escape(text)}</p>"
        )
    status = "published" if run.get("status") == "published" else "draft"
    tag, headline, text = _STATUS_TEXT[status]
    parts.append(
        f"<div class='govuk-phase-banner run-status' data-status='{status}'><p class='govuk-phase-banner__content'>"
        f"<strong class='govuk-tag govuk-phase-banner__content__tag'>{escape(tag)}</strong>"
        f"<span class='govuk-phase-banner__text'><strong>{escape(headline)}</strong> {escape(text)}</span></p></div>"
    )
    return "<div class='run-banner'>" + "".join(parts) + "</div>"


def describe_synthetic_data(about: str = "any real force", where: str = "on this page") -> tuple[str, str]:
    """The synthetic-data notice in plain words: its headline and its text, for a page or a file.

    The one wording of the notice, on every page (:func:`describe_run_status`) and in the folder's
    ``README.md``; the CSV and JSON files carry it as a ``synthetic`` field on every row.

    Examples
    --------
    >>> describe_synthetic_data("Kent Police", "in this folder")[1]  # doctest: +NORMALIZE_WHITESPACE
    "Every figure and finding in this folder comes from synthetic data made by the toolkit's generator.
    They say nothing about Kent Police: real force names are used only to show the layout."
    """
    return (
        "Synthetic data: not about any real force.",
        f"Every figure and finding {where} comes from synthetic data made by the toolkit's generator. "
        f"They say nothing about {about}: real force names are used only to show the layout.",
    )


# The pages of a published folder, named once: the index, the national overview and a report per force.
INDEX_PAGE = "index.html"
OVERVIEW_PAGE = "national-overview.html"
SITE_NAME = "Missing and absent children: police force reports"


def name_report_page(slug: str) -> str:
    """The file of a force's report in the published folder, from the force's slug.

    Examples
    --------
    >>> name_report_page("west-midlands")
    'west-midlands.html'
    """
    return f"{slug}.html"


def list_written_reports(run: Mapping[str, object]) -> set[str]:
    """The forces whose report pages a run wrote, so may be linked: those it rendered, less those that failed.

    A run renders every page at once with no failure known; when a render fails, it makes again the pages
    that link that force with ``reports_failed`` in the run parameters (:mod:`toolkit.runner`).

    Examples
    --------
    >>> sorted(list_written_reports({"forces": ["E1", "E2", "W1"], "reports_failed": ["E2"]}))
    ['E1', 'W1']
    """
    return set(run.get("forces") or []) - set(run.get("reports_failed") or [])


def describe_unavailable(what: str, page: str = "report") -> str:
    """A page the run could not make, named where it would have been linked, without a link.

    Examples
    --------
    >>> describe_unavailable("North Wales Police")
    'North Wales Police (not available: its report could not be made in this run)'
    """
    return f"{what} (not available: its {page} could not be made in this run)"


def describe_running_header(text: str) -> str:
    """The running header of a printed page (A4, top left of every page), as a style for the page's head.

    Chromium prints CSS page-margin boxes; their text can only come from CSS, so each page says its own. Every
    character but letters, digits and plain punctuation is written as a CSS escape, so no text ends the style.

    Examples
    --------
    >>> print(describe_running_header('Kent Police: draft </style>"'))  # doctest: +ELLIPSIS
    <style>@page { @top-left { content: "Kent Police: draft \\3c \\2f style\\3e \\22 "; font: ...; } }</style>
    """
    safe = "".join(c if c.isalnum() or c in " ,.:;()'-" else f"\\{ord(c):x} " for c in text)
    return f'<style>@page {{ @top-left {{ content: "{safe}"; font: 9pt arial, helvetica, sans-serif; }} }}</style>'


def describe_status_words(run: Mapping[str, object]) -> str:
    """The run's status and whether its data are synthetic, in a few words (for a printed page's header).

    Examples
    --------
    >>> describe_status_words({"status": "published"}), describe_status_words({"synthetic": True})
    ('Published', 'Draft, not for publication; synthetic data')
    """
    words = "Published" if run.get("status") == "published" else "Draft, not for publication"
    return words + ("; synthetic data" if run.get("synthetic") is True else "")


def describe_breadcrumbs(trail: Iterable[tuple[str, str | None]]) -> str:
    """GOV.UK breadcrumbs: ``(text, href)`` from the top of the site down, the last (this page) without a link.

    Examples
    --------
    >>> print(describe_breadcrumbs([("Force reports", "index.html"), ("Kent Police", None)]))  # doctest: +ELLIPSIS
    <nav class='govuk-breadcrumbs' aria-label='Breadcrumb'>...'index.html'>Force reports</a></li>...Kent Police</li>...
    """
    items = "".join(
        f"<li class='govuk-breadcrumbs__list-item'><a class='govuk-breadcrumbs__link' href='{escape(href)}'>"
        f"{escape(text)}</a></li>"
        if href
        else f"<li class='govuk-breadcrumbs__list-item' aria-current='page'>{escape(text)}</li>"
        for text, href in trail
    )
    return (
        f"<nav class='govuk-breadcrumbs' aria-label='Breadcrumb'><ol class='govuk-breadcrumbs__list'>{items}</ol></nav>"
    )


def list_links(links: Iterable[tuple[str, str]], heading: str, name: str) -> str:
    """A titled list of links, as navigation: ``(text, href)`` each; ``name`` is the heading's id.

    Used for a page's contents (links to its sections) and for the pages it leads to.

    Examples
    --------
    >>> print(list_links([("Trends", "#Trends")], "Contents", "contents"))  # doctest: +NORMALIZE_WHITESPACE
    <nav class='app-links' aria-labelledby='contents'><h2 class='govuk-heading-s' id='contents'>Contents</h2><ul
    class='govuk-list'><li><a class='govuk-link' href='#Trends'>Trends</a></li></ul></nav>
    """
    items = "".join(f"<li>{describe_link(text, href)}</li>" for text, href in links)
    return (
        f"<nav class='app-links' aria-labelledby='{escape(name)}'><h2 class='govuk-heading-s' id='{escape(name)}'>"
        f"{escape(heading)}</h2><ul class='govuk-list'>{items}</ul></nav>"
    )


def summary_list(rows: Iterable[tuple[str, str]]) -> str:
    """GOV.UK's summary list: a key and its value per row, both escaped.

    Examples
    --------
    >>> print(summary_list([("Extract taken", "2025-01-31")]))  # doctest: +NORMALIZE_WHITESPACE
    <dl class='govuk-summary-list'><div class='govuk-summary-list__row'><dt class='govuk-summary-list__key'>Extract
    taken</dt><dd class='govuk-summary-list__value'>2025-01-31</dd></div></dl>
    """
    items = "".join(
        f"<div class='govuk-summary-list__row'><dt class='govuk-summary-list__key'>{escape(key)}</dt>"
        f"<dd class='govuk-summary-list__value'>{escape(value)}</dd></div>"
        for key, value in rows
    )
    return f"<dl class='govuk-summary-list'>{items}</dl>"


# Who a reader asks about a page's figures when the run names nobody (run parameter "contact").
DEFAULT_CONTACT = "the team that published these pages"


def describe_footer(run: Mapping[str, object]) -> str:
    """GOV.UK's footer for every page: when the run was made, by which toolkit version, and whom to ask.

    Examples
    --------
    >>> footer = describe_footer({"started_utc": "2025-02-03T09:00:00+00:00", "toolkit_version": "0.1.0"})
    >>> "Made on 3 February 2025" in footer, "toolkit version 0.1.0" in footer, footer.startswith("<div class='govuk")
    (True, True, True)
    >>> "contact Data team &lt;data@example.org&gt;." in describe_footer({"contact": "Data team   <data@example.org>"})
    True
    """
    started = str(run.get("started_utc") or "")
    try:
        made = datetime.fromisoformat(started).date()
        when = f"Made on {made.day} {made:%B %Y}"
    except ValueError:
        when = "Date made not recorded"
    # Given on the command line, shown on one line, escaped below, and kept short.
    contact = " ".join(str(run.get("contact") or DEFAULT_CONTACT).split())[:200]
    lines = [
        f"{when} by the missing children inspection toolkit version {run.get('toolkit_version', 'unknown')}.",
        f"Questions about these figures: contact {contact}.",
        "Made from the run's data alone: every page works offline and loads nothing from the web.",
    ]
    text = "".join(f"<p class='govuk-footer__meta-custom'>{escape(line)}</p>" for line in lines)
    item = "govuk-footer__meta-item govuk-footer__meta-item--grow"
    return f"<div class='govuk-footer__meta'><div class='{item}'>{text}</div></div>"


@dataclass(frozen=True)
class Cell:
    """A table cell's text with the ``data-*`` attributes that let tests and readers find it."""

    text: object
    attributes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    """A link in a table: its text and where it goes (a page of the site, or ``#`` and an id on this one)."""

    text: object
    href: str

    def __str__(self) -> str:
        return str(self.text)


def describe_link(text: object, href: str) -> str:
    """A link in GOV.UK's style, its text and address escaped.

    Examples
    --------
    >>> describe_link("Kent <Police>", "kent.html")
    "<a class='govuk-link' href='kent.html'>Kent &lt;Police&gt;</a>"
    """
    return f"<a class='govuk-link' href='{escape(href)}'>{escape(text)}</a>"


def _content(value: object) -> str:
    """A cell's or row header's HTML: a :class:`Link`, or escaped text."""
    return describe_link(value.text, value.href) if isinstance(value, Link) else escape(value)


def scroll_box(inner: str, label: str) -> str:
    """A box that scrolls sideways on its own when ``inner`` (a table, a chart) is wider than the screen.

    The page itself never scrolls sideways; the box can be reached and scrolled by keyboard (it is focusable)
    and is named for screen readers by ``label``.
    """
    return f"<div class='app-scroll-box' tabindex='0' role='region' aria-label='{escape(label)}'>{inner}</div>"


def html_table(
    rows: Iterable[tuple],
    caption: str | None = None,
    columns: list[str] | None = None,
    threshold: int | None = None,
) -> str:
    """A table with a caption, column headers and a header cell for each row, in GOV.UK's table style.

    The table scrolls sideways inside its own box on a narrow screen
    (:func:`scroll_box`). A table that withholds a cell (``[c]``) says why
    beneath it, in words (:func:`~toolkit.publish.disclosure.explain_withheld`).

    Parameters
    ----------
    rows : iterable of tuple
        ``(row header, cells)`` or ``(row header, cells, row attributes)``; a
        cell is text, a :class:`Link` or a :class:`Cell`; a row header text or a :class:`Link`.
    caption : str, optional
    columns : list of str, optional
        Column headers, the first for the row-header column ("" leaves it empty).
    threshold : int, optional
        The run's disclosure threshold: needed by a table with a withheld cell,
        whose explanation names it.

    Raises
    ------
    ValueError
        A cell is withheld and no threshold was given to explain it.
    """
    rows = list(rows)
    texts = [str(cell.text if isinstance(cell, Cell) else cell) for _, cells, *_ in rows for cell in cells]
    withheld = any(SUPPRESSED in text for text in texts)
    if withheld and threshold is None:
        raise ValueError("a table that withholds a cell must say why: give html_table the run's threshold")
    parts = ["<table class='govuk-table headline'>"]
    if caption is not None:
        parts.append(f"<caption class='govuk-table__caption govuk-table__caption--s'>{escape(caption)}</caption>")
    if columns is not None:
        head = "".join(
            "<td class='govuk-table__header'></td>"
            if label == ""
            else f"<th scope='col' class='govuk-table__header'>{escape(label)}</th>"
            for label in columns
        )
        parts.append(f"<thead class='govuk-table__head'><tr class='govuk-table__row'>{head}</tr></thead>")
    body = []
    for header, cells, *rest in rows:
        row_attributes = _attributes(rest[0]) if rest else ""
        tds = "".join(
            f"<td class='govuk-table__cell'{_attributes(cell.attributes)}>{_content(cell.text)}</td>"
            if isinstance(cell, Cell)
            else f"<td class='govuk-table__cell'>{_content(cell)}</td>"
            for cell in cells
        )
        body.append(
            f"<tr class='govuk-table__row'{row_attributes}>"
            f"<th scope='row' class='govuk-table__header'>{_content(header)}</th>{tds}</tr>"
        )
    parts.append(f"<tbody class='govuk-table__body'>{''.join(body)}</tbody></table>")
    html = scroll_box("".join(parts), caption or "Table")
    if withheld:
        html += notes([explain_withheld(threshold)])
    return html


def notes(texts: Iterable[str]) -> str:
    """Notes under a table or chart, one paragraph each."""
    return "".join(f"<p class='note'>{escape(text)}</p>" for text in texts)


def describe_finding(finding: Mapping[str, object], lead: str = "") -> str:
    """A finding's statement and any recommendation, escaped, after ``lead`` (HTML the caller made)."""
    text = lead + escape(finding["statement"])
    if finding.get("comparator_group") is not None:  # the forces most like this one, pooled
        text += escape(f" Its comparator group: {finding['comparator_group']:.0%}.")
    if finding.get("recommendation"):
        text += f" <em>Recommendation: {escape(finding['recommendation'])}</em>"
    return text


def findings_list(items: Iterable[tuple[str, Mapping[str, object]]]) -> str:
    """A list of findings: ``(inner HTML, attributes)`` per item (see :func:`describe_finding`)."""
    return "<ul class='findings'>" + "".join(f"<li{_attributes(a)}>{inner}</li>" for inner, a in items) + "</ul>"


# Charts are SVG with their text kept as text: a quarter of the drawing time of PNG at the same size on
# screen, a third of the bytes, sharp at any zoom, and searchable. No date and fixed ids inside, so the
# same figures give byte-identical reports.
_SVG_SETTINGS = {"svg.fonttype": "none", "svg.hashsalt": "toolkit"}


def embed_chart(fig: matplotlib.figure.Figure, alt: str) -> str:
    """A figure as an embedded SVG image with a text alternative, and its figures as a table; the figure is closed.

    Embedding keeps the page self-contained; ``alt`` describes the chart's
    message for readers who cannot see it, and the table beneath it (in a
    ``details`` element, closed until opened) gives every figure the chart draws,
    made from the same data (:func:`toolkit.publish.plots.chart_data`).

    The chart is shown no smaller than keeps its smallest text at 12 pixels: on
    a narrower screen it scrolls sideways in its own box, and the page does not.

    Examples
    --------
    >>> from toolkit.publish.plots import plot_return_curves
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"hours": [0, 8, 48], "returned_share": [0.0, 0.5, 0.9]})
    >>> html = embed_chart(plot_return_curves([(curve, "Kent", "#1f77b4")]), "Kent's returns")
    >>> html.startswith("<figure class='app-chart'>"), "src='data:image/svg+xml;base64," in html
    (True, True)
    >>> "alt='Kent&#x27;s returns. Its figures are in the table that follows.'" in html
    True
    >>> "<th scope='row' class='govuk-table__header'>8</th><td class='govuk-table__cell'>50.0</td>" in html
    True
    """
    data = chart_data(fig)
    buffer = io.BytesIO()
    # Charts have fixed margins (plots.new_figure); a "tight" bounding box here would draw each twice.
    with matplotlib.rc_context(_SVG_SETTINGS):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    width, height = (round(size * _CSS_PIXELS_PER_INCH) for size in fig.get_size_inches())
    plt.close(fig)
    svg = buffer.getvalue()
    # SVG text sizes are in points at the chart's full size (4/3 of a pixel each).
    smallest = min((float(size) for size in _FONT_SIZE.findall(svg)), default=12.0)
    narrowest = min(width, math.ceil(width * _SMALLEST_TEXT_PX / (smallest * 4 / 3)))
    encoded = base64.b64encode(svg).decode("ascii")
    alt = alt.rstrip(".") + ". Its figures are in the table that follows."
    image = (
        f"<img class='chart' src='data:image/svg+xml;base64,{encoded}' width='{width}' height='{height}' "
        f"style='min-width: {narrowest}px' alt='{escape(alt)}'>"
    )
    rows = [
        (header, [_format_number(v, d, data.missing) for v, d in zip(values, data.decimals, strict=True)])
        for header, *values in data.table.itertuples(index=False)
    ]
    table = html_table(rows, data.caption, [str(column) for column in data.table.columns])
    return (
        "<figure class='app-chart'>"
        + scroll_box(image, f"Chart: {data.caption}")
        + "<details class='govuk-details'><summary class='govuk-details__summary'>"
        "<span class='govuk-details__summary-text'>The chart's figures as a table</span></summary>"
        f"<div class='govuk-details__text'>{table}</div></details></figure>"
    )


_CSS_PIXELS_PER_INCH = 96
_SMALLEST_TEXT_PX = 12  # no chart text is shown smaller (WCAG has no minimum; GOV.UK's smallest text is 14 px)
_FONT_SIZE = re.compile(rb"font(?:-size)?:\s*([0-9.]+)px")


def _format_number(value: object, decimals: int, missing: str) -> str:
    """A chart's figure as its table shows it: grouped thousands, fixed decimals, or the words for a missing one."""
    if isinstance(value, str):
        return value
    if value is None or not np.isfinite(value):
        return missing
    return f"{value:,.{decimals}f}"
