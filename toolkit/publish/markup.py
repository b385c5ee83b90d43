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
<table class='headline'>
<caption>In numbers</caption>
<thead>
<tr>
<th>
</th>
<th scope='col'>This force</th>
<th scope='col'>England and Wales</th>
</tr>
</thead>
<tbody>
<tr>
<th scope='row'>Episodes</th>
<td>1,204</td>
<td data-area='national'>[c]</td>
</tr>
</tbody>
</table>
<p class='note'>[c]: withheld to protect children&#x27;s identities (statistical disclosure control): ...</p>
>>> escape("<script>")
'&lt;script&gt;'
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import matplotlib
import matplotlib.figure
import matplotlib.pyplot as plt

from toolkit.publish.disclosure import SUPPRESSED, explain_withheld

__all__ = [
    "Cell",
    "escape",
    "describe_run_status",
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


# Inline styles, so that the banner looks the same on the index (its own template) and on the pages nbconvert makes.
_BANNER_STYLES = {
    "synthetic": "border: 4px solid #d4351c; background: #fcefed; padding: 0.6rem 0.8rem; margin: 0 0 0.6rem;",
    "draft": "border-left: 10px solid #f47738; background: #fef3ea; padding: 0.5rem 0.8rem; margin: 0 0 1rem;",
    "published": "border-left: 10px solid #00703c; background: #eef7f2; padding: 0.5rem 0.8rem; margin: 0 0 1rem;",
}
_STATUS_TEXT = {
    "draft": (
        "Draft: not for publication.",
        "This run has not been marked as published: its figures and findings may still change.",
    ),
    "published": ("Published.", "This run was marked for publication."),
}


def describe_run_status(run: Mapping[str, object], about: str) -> str:
    """The banner at the top of every page: the run's status and, when its data are synthetic, a notice saying so.

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
    <div class='run-banner'><p class='run-status' data-status='published' style='...'><strong>Published.</strong> ...
    >>> banner = describe_run_status({"synthetic": True}, "the real <Police>")
    >>> "data-status='draft'" in banner, "Draft: not for publication." in banner, "the real &lt;Police&gt;" in banner
    (True, True, True)
    >>> print(banner.split("</p>")[0])  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    <div class='run-banner'><p class='synthetic-notice' data-synthetic='true' role='note' style='...'><strong>Synthetic
    data: not about any real force.</strong> Every figure and finding on this page comes from synthetic data made by
    the toolkit&#x27;s generator. They say nothing about the real &lt;Police&gt;: real force names are used only to
    show the layout.
    """

    def paragraph(attributes: dict, headline: str, text: str) -> str:
        return f"<p{_attributes(attributes)}><strong>{escape(headline)}</strong> {escape(text)}</p>"

    parts = []
    if run.get("synthetic") is True:
        parts.append(
            paragraph(
                {
                    "class": "synthetic-notice",
                    "data-synthetic": "true",
                    "role": "note",
                    "style": _BANNER_STYLES["synthetic"],
                },
                "Synthetic data: not about any real force.",
                "Every figure and finding on this page comes from synthetic data made by the toolkit's generator. "
                f"They say nothing about {about}: real force names are used only to show the layout.",
            )
        )
    status = "published" if run.get("status") == "published" else "draft"
    parts.append(
        paragraph(
            {"class": "run-status", "data-status": status, "style": _BANNER_STYLES[status]}, *_STATUS_TEXT[status]
        )
    )
    return "<div class='run-banner'>" + "".join(parts) + "</div>"


@dataclass(frozen=True)
class Cell:
    """A table cell's text with the ``data-*`` attributes that let tests and readers find it."""

    text: object
    attributes: Mapping[str, object] = field(default_factory=dict)


def html_table(
    rows: Iterable[tuple],
    caption: str | None = None,
    columns: list[str] | None = None,
    threshold: int | None = None,
) -> str:
    """A table with a caption, column headers and a header cell for each row.

    A table that withholds a cell (``[c]``) says why beneath it, in words
    (:func:`~toolkit.publish.disclosure.explain_withheld`).

    Parameters
    ----------
    rows : iterable of tuple
        ``(row header, cells)`` or ``(row header, cells, row attributes)``; a
        cell is text or a :class:`Cell`.
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
    parts = ["<table class='headline'>"]
    if caption is not None:
        parts.append(f"<caption>{escape(caption)}</caption>")
    if columns is not None:
        head = "".join("<th></th>" if label == "" else f"<th scope='col'>{escape(label)}</th>" for label in columns)
        parts.append(f"<thead><tr>{head}</tr></thead>")
    body = []
    for header, cells, *rest in rows:
        row_attributes = _attributes(rest[0]) if rest else ""
        tds = "".join(
            f"<td{_attributes(cell.attributes)}>{escape(cell.text)}</td>"
            if isinstance(cell, Cell)
            else f"<td>{escape(cell)}</td>"
            for cell in cells
        )
        body.append(f"<tr{row_attributes}><th scope='row'>{escape(header)}</th>{tds}</tr>")
    parts.append(f"<tbody>{''.join(body)}</tbody></table>")
    if withheld:
        parts.append(notes([explain_withheld(threshold)]))
    return "".join(parts)


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
    """A figure as an embedded SVG image with a text alternative; the figure is closed.

    Embedding keeps the page self-contained; ``alt`` describes the chart's
    message for readers who cannot see it.

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> html = embed_chart(fig, "An empty chart")
    >>> html.startswith("<img class='chart' src='data:image/svg+xml;base64,"), "alt='An empty chart'" in html
    (True, True)
    """
    buffer = io.BytesIO()
    # Charts have fixed margins (plots.new_figure); a "tight" bounding box here would draw each twice.
    with matplotlib.rc_context(_SVG_SETTINGS):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img class='chart' src='data:image/svg+xml;base64,{data}' alt='{escape(alt)}'>"
