"""The published tables as accessible spreadsheets: ``reports/tables.xlsx`` and ``reports/tables.ods``.

Laid out as the Government Statistical Service asks of statistics released in
spreadsheets: a cover sheet (what the workbook is, its source, its status and,
for synthetic data, that it says nothing about any real force), a contents
sheet linking every table, a notes sheet (numbered notes: the shorthand, the
rounding, the funnel bands, the methods), then one table per sheet with its
title in cell A1 and its notes, shorthand and source above it; column headers
as the table's first row, no merged cells, no blank rows or columns in a
table, figures as numbers and ``[c]`` where one is withheld.

The tables are ``metrics.csv`` and ``data_quality.csv`` as the run publishes
them: this module takes the published tables, after disclosure control
(:mod:`toolkit.publish.disclosure`, the one owner of suppression), and only
lays them out, adding no figure of its own (no totals), so the workbooks and
the CSV files cannot disagree.

``gptables`` (the Office for National Statistics' package for these
workbooks) writes the XLSX file. It writes XLSX only, so the ODS file, the open
format GOV.UK asks for, is converted from it cell by cell with odfpy, keeping
its sheets, text, numbers, hyperlinks, fonts and column widths, and marking
each table's header row and range: the two files cannot drift apart.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from toolkit.forces import NATIONAL, describe_coverage, get_force
from toolkit.publish.disclosure import SUPPRESSED, explain_withheld, published_threshold
from toolkit.publish.markup import describe_run_status
from toolkit.store import write_atomically

__all__ = [
    "NOT_AVAILABLE",
    "TABLE_SHEETS",
    "WORKBOOK_NAMES",
    "TableSheet",
    "build_table_sheets",
    "convert_to_ods",
    "write_workbooks",
    "write_xlsx",
]

# The files, beside metrics.csv in the report folder.
WORKBOOK_NAMES = ("tables.xlsx", "tables.ods")

# The Government Statistical Service's shorthand for a figure that is not available (``[c]`` is withheld).
NOT_AVAILABLE = "[x]"


@dataclass(frozen=True)
class TableSheet:
    """One published table's sheet: which rows it takes, its sheet name and its title."""

    sheet: str
    source: str  # "metrics" (rows of one section of metrics.csv) or "data_quality"
    section: str | None
    title: str


# Every table sheet, in the order of the contents. Every section of metrics.csv has one (a test holds it so).
TABLE_SHEETS = (
    TableSheet(
        "Volume",
        "metrics",
        "volume",
        "Episodes, distinct children, episodes per child and episodes per 1,000 children, by force, comparator group "
        "and England and Wales",
    ),
    TableSheet(
        "Practice",
        "metrics",
        "practice",
        "How forces respond: shares of episodes for each measure of practice, by force and England and Wales",
    ),
    TableSheet(
        "Problem_profile",
        "metrics",
        "profile",
        "The problem profile: when children are reported, where they go missing from, children in care, how "
        "concentrated repeat missing is, exploitation flags and harm, who finds them, time from last seen to report, "
        "who the children are (per 1,000 resident children, and ethnicity) and the first response by ethnicity, by "
        "force and England and Wales",
    ),
    TableSheet(
        "Time_to_return",
        "metrics",
        "time_to_return",
        "Time to return: median hours, and shares of episodes returned within 8 hours, 48 hours and 7 days",
    ),
    TableSheet(
        "Repeats",
        "metrics",
        "repeats",
        "Repeat missing: share of episodes that are repeats, and children missing twice or more, three times or "
        "more, and frequently",
    ),
    TableSheet(
        "Trends",
        "metrics",
        "trends",
        "Trends: change in the rate of episodes per year, and on the year before",
    ),
    TableSheet(
        "Consistency",
        "metrics",
        "consistency",
        "Consistency of risk grading and categorisation between forces and between officers",
    ),
    TableSheet(
        "Outcomes",
        "metrics",
        "outcomes",
        "Outcomes: harm after each first response, and how well the first risk grade tells apart the children who "
        "come to harm",
    ),
    TableSheet(
        "Cross_border",
        "metrics",
        "cross_border",
        "Children across force borders: distinct children in England and Wales linked across forces, those missing "
        "in more than one force, and each force's children who cross its borders",
    ),
    TableSheet(
        "Data_quality",
        "data_quality",
        None,
        "Data quality: completeness, validity, consistency, uniqueness and timeliness of each force's records, and "
        "what they can support",
    ),
)

_AREAS = {"force": "force", "comparators": "comparator group of the force", "national": "England and Wales"}
# Published columns -> column headers. Units vary by row, so they have a column of their own (GSS guidance).
_FIGURES = {
    "value": "Value",
    "lower": "Lower limit of the 95% interval",
    "upper": "Upper limit of the 95% interval",
    "numerator": "Numerator",
    "denominator": "Denominator",
}
_POOLED_WITHOUT = "Pooled without (forces whose own figures are withheld)"


def _name(code: str) -> str:
    return "England and Wales" if code == NATIONAL else get_force(code).official_name


def _lay_out(rows: pd.DataFrame, leading: dict[str, str], trailing: dict[str, str]) -> pd.DataFrame:
    """Published rows as a sheet's table: every cell a number or text, ``[c]`` withheld, ``[x]`` not available.

    A withheld row's figures (and its funnel band, which would place it) are ``[c]``; any other empty
    cell is ``[x]``, so that no cell is blank and no blank means two things.
    """
    withheld = rows["suppressed"].astype(bool).to_numpy()
    table = pd.DataFrame(
        {
            "Code": rows["force_code"].astype(str).to_numpy(),
            "Name": [_name(code) for code in rows["force_code"].astype(str)],
        }
    )
    for column, header in leading.items():
        table[header] = rows[column].astype(str).to_numpy()
    for column, header in {**_FIGURES, **trailing}.items():
        values = rows[column].astype(object).to_numpy()
        empty = pd.isna(values) | (values == "")
        hidden = withheld if column in _FIGURES or column == "band" else np.zeros(len(rows), dtype=bool)
        cells = np.where(hidden, SUPPRESSED, np.where(empty, NOT_AVAILABLE, values))
        # Numbers stay numbers (Python floats, which the writers store as numbers, never as text).
        table[header] = [float(cell) if isinstance(cell, (int, float, np.number)) else str(cell) for cell in cells]
    if "leaves_out" in rows:
        national_or_pooled = rows["area"].ne(_AREAS["force"]).to_numpy()
        table[_POOLED_WITHOUT] = [
            "; ".join(_name(code) for code in str(codes).split(";"))
            if isinstance(codes, str) and codes
            else ("none" if pooled else NOT_AVAILABLE)
            for codes, pooled in zip(rows["leaves_out"], national_or_pooled, strict=True)
        ]
    return table


def build_table_sheets(metrics: pd.DataFrame, quality: pd.DataFrame) -> dict[str, tuple[TableSheet, pd.DataFrame]]:
    """Each table sheet with its table, from the published ``metrics.csv`` and ``data_quality.csv`` tables.

    Rows stay in the published order; a section with no rows in this run has no sheet.

    Parameters
    ----------
    metrics : pandas.DataFrame
        :func:`toolkit.publish.metrics.collect_metrics`, as written to ``metrics.csv``.
    quality : pandas.DataFrame
        The published data-quality scorecard, as written to ``data_quality.csv``.

    Returns
    -------
    dict of str to (TableSheet, pandas.DataFrame)
        By sheet name.

    Examples
    --------
    >>> metrics = pd.DataFrame({"force_code": ["E23000014", "E23000020"], "area": "force",
    ...     "section": "repeats", "metric": "children_2_plus", "value": [120.0, np.nan], "lower": np.nan,
    ...     "upper": np.nan, "numerator": np.nan, "denominator": np.nan, "unit": "children", "band": np.nan,
    ...     "method": "count of distinct children", "suppressed": [False, True], "leaves_out": ""})
    >>> sheets = build_table_sheets(metrics, metrics.iloc[:0])
    >>> list(sheets)
    ['Repeats']
    >>> sheets["Repeats"][1][["Name", "Value", "Lower limit of the 95% interval"]].to_numpy().tolist()
    [['West Midlands Police', 120.0, '[x]'], ['Lincolnshire Police', '[c]', '[c]']]
    """
    declared = {sheet.section for sheet in TABLE_SHEETS}
    unknown = sorted(set(metrics["section"]) - declared)
    if unknown:  # a new section must be given a sheet and a title here, not dropped from the workbook
        raise ValueError(f"metrics.csv sections without a sheet in TABLE_SHEETS: {', '.join(unknown)}")
    sheets = {}
    for sheet in TABLE_SHEETS:
        if sheet.source == "metrics":
            rows = metrics[metrics["section"] == sheet.section]
            if sheet.section != "volume":  # only volume pools forces (its totals leave out the withheld)
                rows = rows.drop(columns="leaves_out")
            leading = {"area": "Figure for", "metric": "Measure"}
            trailing = {"unit": "Unit", "band": "Funnel band", "method": "Method"}
        else:
            rows = quality.assign(area=np.where(quality["force_code"].astype(str) == NATIONAL, "national", "force"))
            leading = {"area": "Figure for", "dimension": "Dimension", "measure": "Measure"}
            trailing = {"unit": "Unit", "method": "Method"}
        if len(rows):
            sheets[sheet.sheet] = (sheet, _lay_out(rows.assign(area=rows["area"].map(_AREAS)), leading, trailing))
    return sheets


def _banner_lines(run: dict) -> list[str]:
    """The banner every page opens with (status, and the synthetic-data notice), as plain sentences.

    Taken from :func:`toolkit.publish.markup.describe_run_status`, so the workbook says what the pages say.
    """
    banner = describe_run_status(run, "England and Wales or any real police force")
    paragraphs = re.findall(r"<p\b[^>]*>(.*?)</p>", banner, flags=re.DOTALL)
    lines = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()) for text in paragraphs]
    return [line.replace("on this page", "in this workbook") for line in lines]


def _source(run: dict) -> str:
    origin = run.get("input") or (Path(run["store"]).name if run.get("store") else "the run's input")
    kind = (
        "synthetic episodes made by the toolkit's generator"
        if run.get("synthetic") is True
        else "police forces' records of episodes of missing and absent children"
    )
    return (
        f"Source: {kind} ({origin}), extract taken {run.get('extract_date', 'on an unrecorded date')}; "
        f"figures by the missing children inspection toolkit {run.get('toolkit_version', '')}."
    ).replace(" .", ".")


# A sheet's methods note lists its methods when they are this few; beyond, it points to the Method column.
_MOST_METHODS_LISTED = 12


def _notes(run: dict, sheets: dict[str, tuple[TableSheet, pd.DataFrame]]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The notes sheet's notes, and each table sheet's note references (gptables' ``$$key$$``)."""
    threshold = published_threshold(run)
    notes = {
        "withheld": explain_withheld(threshold)
        + " Withheld figures are marked [c] (confidential), the Government Statistical Service's shorthand."
        if threshold > 1
        else "Disclosure control is switched off: for internal use only, not for publication.",
        "not_available": f"{NOT_AVAILABLE}: not available. The measure has no such figure (a count has no interval, "
        "an odds ratio no numerator), the figure could not be estimated (the Method column says why), or it is not "
        "published for England and Wales and comparator groups, whose counts are left out so that no withheld "
        "count of a force can be worked out by subtracting the published forces from a total.",
        "rounding": "Figures that are not counts are rounded to 4 significant figures, and no table adds a total of "
        "its own: a figure to full precision, or a total less the published cells it adds up, could give a "
        "withheld count back.",
        "pooled": "Comparator-group and England and Wales figures are summed from their members' published figures, "
        "leaving out any force whose own figure is withheld (named in the last column), so that it cannot be "
        "recovered by subtraction.",
        "bands": "Funnel band: where the force's figure lies against the limits its Method names (funnel limits "
        "around England and Wales at the force's own denominator, or the spread of forces around the average "
        "force): within (inside the 95% limits), above_95 or below_95 (beyond a 95% limit but not the 99.8% "
        "limit), above_998 or below_998 (beyond a 99.8% limit).",
        "comparators": "Comparator groups: "
        + str(run.get("comparator_source", "the groups the run was given"))
        + ". Each force's comparator group is the forces most similar to it.",
    }
    references = {}
    for name, (sheet, table) in sheets.items():
        keys = ["withheld", "not_available"]
        keys += ["pooled"] if _POOLED_WITHOUT in table else []
        keys += ["rounding"] if sheet.source == "metrics" else []
        keys += ["bands"] if "Funnel band" in table and table["Funnel band"].ne(NOT_AVAILABLE).any() else []
        keys += ["comparators"] if table["Figure for"].eq(_AREAS["comparators"]).any() else []
        methods = [m for m in dict.fromkeys(table["Method"]) if m not in (NOT_AVAILABLE, SUPPRESSED)]
        title = f"Methods of the {name.replace('_', ' ')} table: "
        if len(methods) > _MOST_METHODS_LISTED:  # the problem profile's 65 made a note of 15,000 characters
            notes[f"methods_{name}"] = (
                f"{title}each row's Method column gives its definition and method in full ({len(methods)} different, "
                "too many to list here)."
            )
        else:
            notes[f"methods_{name}"] = title + "; ".join(methods) + "."
        keys.append(f"methods_{name}")
        references[name] = "".join(f"$${key}$$" for key in keys)
    used = {key for refs in references.values() for key in re.findall(r"\$\$(\w+)\$\$", refs)}
    frame = pd.DataFrame({"key": list(notes), "Note text": list(notes.values())})
    return frame[frame["key"].isin(used)].reset_index(drop=True), references


def write_xlsx(run: dict, sheets: dict[str, tuple[TableSheet, pd.DataFrame]]) -> bytes:
    """The workbook as XLSX, written by gptables: cover, contents, notes, then one table per sheet.

    Parameters
    ----------
    run : dict
        The run's parameters: its status, whether its data are synthetic, its period and extract
        date, the threshold of disclosure control and the comparator source. No count is read from it.
    sheets : dict
        :func:`build_table_sheets`.

    Returns
    -------
    bytes
    """
    import gptables

    notes, references = _notes(run, sheets)
    banner = _banner_lines(run)
    scope = [
        describe_coverage(run.get("forces_covered", [])) if run.get("forces_covered") else "",
        f"Episodes reported {run.get('period_start')} to {run.get('period_end')}; extract taken "
        f"{run.get('extract_date')}.",
    ]
    tables = {
        name: gptables.GPTable(
            table=table,
            table_name=f"{name.lower()}_table",
            title=f"{sheet.title} {references[name]}",
            subtitles=[*banner, *filter(None, scope)],
            instructions="This worksheet contains one table: one row for each force (or comparator group, or "
            "England and Wales) and measure, its figures in columns. Notes are on the Notes sheet.",
            legend=["[c] = withheld to protect children's identities", f"{NOT_AVAILABLE} = not available"],
            source=_source(run),
            index_columns={},
        )
        for name, (sheet, table) in sheets.items()
    }
    cover = gptables.Cover(
        title="Missing and absent children: published figures for police forces in England and Wales",
        intro=[
            *banner,
            "Every figure the run published in metrics.csv and data_quality.csv, after disclosure control, one "
            "table per sheet: volume, practice, the problem profile, time to return, repeat missing, trends, "
            "the consistency of risk grading, outcomes and data quality. The Contents sheet "
            "links every table; the Notes sheet explains the shorthand and names the methods.",
        ],
        about=[
            _source(run),
            *filter(None, scope),
            f"Status: {'published' if run.get('status') == 'published' else 'draft, not for publication'}.",
            "No figure here rests on a count small enough to identify a child: such figures are withheld and "
            "shown as [c] (see the Notes sheet).",
        ],
    )
    out = io.BytesIO()
    with warnings.catch_warnings():
        # gptables warns of an empty cell or an unreferenced note: never publish one. Its own use of pandas
        # features deprecated in pandas 3 is its maintainers' to change, not a reader's concern.
        warnings.filterwarnings("error", category=UserWarning, module=r"gptables")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"gptables")
        workbook = gptables.produce_workbook(
            filename=out,
            sheets=tables,
            cover=cover,
            contentsheet_options={"title": "Contents", "column_names": ["Sheet name", "Table"]},
            notes_table=notes,
            # Text that looks like a formula or a link is kept as text: the tables hold no formula.
            workbook_options={"strings_to_formulas": False, "strings_to_urls": False},
        )
        workbook.set_properties(
            {
                "title": "Missing and absent children: published figures",
                "subject": "Police response to missing and absent children, England and Wales",
                "author": "Missing children inspection toolkit",
                "status": "published" if run.get("status") == "published" else "draft",
                "comments": " ".join(banner),
                **({"created": datetime.fromisoformat(run["started_utc"])} if run.get("started_utc") else {}),
            }
        )
        workbook.close()
    return out.getvalue()


# Excel's column width unit is about one character of the default font; 0.19 cm each at 11-12 pt Arial.
_CM_PER_CHARACTER = 0.19
_ODF_VERSION = "1.3"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ODS_MEDIA_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
)
# Characters XML 1.0 cannot hold (a control character in a cell would make the file unreadable).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text for a ``text:p``: escaped, with runs of spaces kept (ODF collapses them otherwise)."""
    escaped = escape(_NOT_XML.sub("", text))
    return re.sub(r"  +", lambda run: f' <text:s text:c="{len(run.group()) - 1}"/>', escaped)


def _ods_cell(cell, style: str) -> str:
    """One ODS cell: a number as a number (its value, not its text), text as text, a link as a link."""
    value = cell.value
    if value is None:
        return f'<table:table-cell table:style-name="{style}"/>'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = repr(float(value))
        shown = f"{value:g}" if float(value).is_integer() else number
        return (
            f'<table:table-cell table:style-name="{style}" office:value-type="float" office:value="{number}">'
            f"<text:p>{shown}</text:p></table:table-cell>"
        )
    lines = [_xml_text(line) for line in str(value).split("\n")]
    link = cell.hyperlink
    if link is not None and (link.location or link.target):
        # An internal link ('Sheet'!A1 in Excel) is #'Sheet'.A1 in OpenDocument.
        target = link.target or "#" + link.location.replace("!", ".")
        lines = [f'<text:a xlink:type="simple" xlink:href={quoteattr(target)}>{line}</text:a>' for line in lines]
    paragraphs = "".join(f"<text:p>{line}</text:p>" for line in lines)
    return f'<table:table-cell table:style-name="{style}" office:value-type="string">{paragraphs}</table:table-cell>'


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATION = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


class _Cell:
    """A cell of :func:`_read_xlsx`: what :func:`convert_to_ods` reads of an openpyxl cell, and no more."""

    __slots__ = ("column", "value", "style_id", "hyperlink", "font", "alignment", "border")

    def __init__(self, column: int, value, style, hyperlink=None):
        self.column, self.value, self.hyperlink = column, value, hyperlink
        self.style_id, self.font, self.alignment, self.border = style


def _read_xlsx(xlsx: bytes) -> SimpleNamespace:
    """The sheets of an XLSX file as :func:`convert_to_ods` reads them, parsed with the standard library.

    Each sheet's name, column widths, table ranges (by name) and rows of cells (value, style, link), every
    row from the first and every cell from column A to the sheet's last, as openpyxl gives them: openpyxl's
    reader built a Python object and six style objects for each of the workbook's cells, half of the time
    to convert a demo run's 80,000 cells.
    """
    from xml.etree import ElementTree

    package = zipfile.ZipFile(io.BytesIO(xlsx))
    names = set(package.namelist())

    def read(name: str):
        return ElementTree.fromstring(package.read(name))

    def relations(part: str) -> dict[str, tuple[str, str | None]]:
        folder, name = part.rsplit("/", 1) if "/" in part else ("", part)
        path = f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"
        if path not in names:
            return {}
        found = {}
        for relation in read(path).iter(f"{_PACKAGE}Relationship"):
            target, mode = relation.get("Target", ""), relation.get("TargetMode")
            if mode != "External":
                target = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found[relation.get("Id")] = (target, mode)
        return found

    def text(node) -> str:
        return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), "".join(t.text or "" for t in node.iter(f"{_MAIN}t")))

    workbook = next(target for target, _ in relations("").values() if target.endswith("workbook.xml"))
    parts = relations(workbook)
    shared = (
        [text(item) for item in read(_part_of(parts, "sharedStrings")).iter(f"{_MAIN}si")]
        if any(t.endswith("sharedStrings.xml") for t, _ in parts.values())
        else []
    )
    styles = read(_part_of(parts, "styles"))
    fonts = [
        SimpleNamespace(
            b=(bold := font.find(f"{_MAIN}b")) is not None and bold.get("val", "1") not in ("0", "false"),
            sz=float(size.get("val")) if (size := font.find(f"{_MAIN}sz")) is not None else None,
        )
        for font in styles.find(f"{_MAIN}fonts")
    ]
    borders = [
        SimpleNamespace(
            bottom=SimpleNamespace(style=None if (edge := border.find(f"{_MAIN}bottom")) is None else edge.get("style"))
        )
        for border in styles.find(f"{_MAIN}borders")
    ]
    formats = []
    for index, xf in enumerate(styles.find(f"{_MAIN}cellXfs")):
        align = xf.find(f"{_MAIN}alignment")
        wrap = align is not None and align.get("wrapText") in ("1", "true")
        formats.append(
            (
                index,
                fonts[int(xf.get("fontId", 0))],
                SimpleNamespace(wrap_text=wrap, vertical=None if align is None else align.get("vertical")),
                borders[int(xf.get("borderId", 0))],
            )
        )
    core = "docProps/core.xml"
    title, created = "", datetime.now()
    if core in names:
        properties = read(core)
        title = next((node.text or "" for node in properties.iter("{http://purl.org/dc/elements/1.1/}title")), "")
        stamp = next((node.text for node in properties.iter("{http://purl.org/dc/terms/}created")), None)
        created = datetime.fromisoformat(stamp.rstrip("Z")) if stamp else created
    sheets = []
    for entry in read(workbook).iter(f"{_MAIN}sheet"):
        part = parts[entry.get(f"{_RELATION}id")][0]
        links = relations(part)
        root = read(part)
        widths = {}
        for column in root.iter(f"{_MAIN}col"):
            if column.get("width"):
                widths.update(
                    dict.fromkeys(range(int(column.get("min")), int(column.get("max")) + 1), float(column.get("width")))
                )
        hyperlinks = {}
        for link in root.iter(f"{_MAIN}hyperlink"):
            target = links.get(link.get(f"{_RELATION}id"), (None, None))[0]
            hyperlinks[link.get("ref")] = SimpleNamespace(location=link.get("location"), target=target)
        tables = []
        for table in root.iter(f"{_MAIN}tablePart"):
            found = read(links[table.get(f"{_RELATION}id")][0])
            tables.append((found.get("name") or found.get("displayName"), found.get("ref")))
        rows: dict[int, list[_Cell]] = {}
        for row in root.iter(f"{_MAIN}row"):
            cells = []
            for cell in row.iter(f"{_MAIN}c"):
                reference = cell.get("r")
                letters = reference.rstrip("0123456789")
                column = 0
                for letter in letters:
                    column = column * 26 + ord(letter) - 64
                kind, raw = cell.get("t", "n"), cell.find(f"{_MAIN}v")
                if kind == "s":
                    value = shared[int(raw.text)]
                elif kind == "inlineStr":
                    value = text(cell.find(f"{_MAIN}is"))
                elif raw is None or raw.text is None:
                    value = None
                elif kind in ("str", "e"):
                    value = raw.text
                elif kind == "b":
                    value = raw.text == "1"
                else:
                    number = raw.text
                    value = float(number) if any(c in number for c in ".eE") else int(number)
                cells.append(_Cell(column, value, formats[int(cell.get("s", 0))], hyperlinks.get(reference)))
            rows[int(row.get("r"))] = cells
        width = max((cell.column for cells in rows.values() for cell in cells), default=0)
        sheets.append(
            SimpleNamespace(title=entry.get("name"), widths=widths, tables=tables, rows=rows, max_column=width)
        )
    return SimpleNamespace(
        properties=SimpleNamespace(title=title, created=created), worksheets=sheets, default=formats[0]
    )


def _part_of(parts: dict, kind: str) -> str:
    return next(target for target, _ in parts.values() if target.endswith(f"{kind}.xml"))


def _iter_rows(sheet: SimpleNamespace, default) -> Iterator[list[_Cell]]:
    """Every row from the first to the last, every cell from column A to the sheet's last (blank ones unstyled)."""
    for number in range(1, max(sheet.rows, default=0) + 1):
        given = {cell.column: cell for cell in sheet.rows.get(number, [])}
        yield [given.get(column) or _Cell(column, None, default) for column in range(1, sheet.max_column + 1)]


def convert_to_ods(xlsx: bytes) -> bytes:
    """The same workbook as OpenDocument (ODS): every sheet, cell, number, link, font and column width.

    Each worksheet table of the XLSX file keeps its header row as the ODS table's header rows and its
    range as a named database range, so that assistive technology and filters find the table as in
    Excel. The document's language is British English; its title and creation time are the XLSX
    file's. No cell is merged. Written with the standard library: odfpy took 17 s for a demo run's
    35,000 cells. The same XLSX file gives the same bytes (the package's entries carry a fixed time,
    as XLSX files do).

    Parameters
    ----------
    xlsx : bytes
        A workbook (as :func:`write_xlsx` makes).

    Returns
    -------
    bytes

    Examples
    --------
    >>> import openpyxl
    >>> book = openpyxl.Workbook(); sheet = book.active; sheet.title = "Cover"
    >>> sheet.append(["Title & more"]); sheet.append(["Count", 12.5])
    >>> stream = io.BytesIO(); book.save(stream)
    >>> ods = convert_to_ods(stream.getvalue())
    >>> pd.read_excel(io.BytesIO(ods), engine="odf", header=None).to_numpy().tolist()
    [['Title & more', nan], ['Count', 12.5]]
    """
    book = _read_xlsx(xlsx)
    cell_styles: dict[tuple, str] = {}
    by_id: dict[int, str] = {}
    column_styles: dict[str, str] = {}

    def cell_style(cell) -> str:
        if cell.style_id in by_id:  # reading a cell's font and borders is most of the time: once per XLSX style
            return by_id[cell.style_id]
        key = (
            bool(cell.font.b),
            float(cell.font.sz or 12),
            bool(cell.alignment.wrap_text),
            cell.alignment.vertical == "top",
            cell.border.bottom.style is not None,
        )
        if key not in cell_styles:
            bold, size, wrap, top, rule = key
            layout = (' fo:wrap-option="wrap"' if wrap else "") + (' style:vertical-align="top"' if top else "")
            layout += ' fo:border-bottom="0.75pt solid #000000"' if rule else ""
            text = f' fo:font-size="{size:g}pt"' + (' fo:font-weight="bold"' if bold else "")
            cell_styles[key] = f"ce{len(cell_styles) + 1}"
            styles.append(
                f'<style:style style:name="{cell_styles[key]}" style:family="table-cell">'
                + (f"<style:table-cell-properties{layout}/>" if layout else "")
                + f"<style:text-properties{text}/></style:style>"
            )
        by_id[cell.style_id] = cell_styles[key]
        return cell_styles[key]

    def column_style(width: float) -> str:
        key = f"{width * _CM_PER_CHARACTER:.3f}cm"
        if key not in column_styles:
            column_styles[key] = f"co{len(column_styles) + 1}"
            styles.append(
                f'<style:style style:name="{column_styles[key]}" style:family="table-column">'
                f'<style:table-column-properties style:column-width="{key}"/></style:style>'
            )
        return column_styles[key]

    styles: list[str] = []
    tables: list[str] = []
    ranges: list[str] = []
    for sheet in book.worksheets:
        widths = sheet.widths
        parts = [f"<table:table table:name={quoteattr(sheet.title)}>"]
        parts += [
            f'<table:table-column table:style-name="{column_style(widths.get(index, 8.43))}"/>'
            for index in range(1, sheet.max_column + 1)
        ]
        header_row = None
        for name, area in sheet.tables:  # (name, "A7:N90"): gptables marks one table a sheet
            header_row = header_row or int(re.sub(r"\D", "", area.split(":")[0]))
            start, end = area.split(":")
            sheet_name = "'" + sheet.title.replace("'", "''") + "'"
            ranges.append(
                f"<table:database-range table:name={quoteattr(name)} "
                f'table:target-range-address="{sheet_name}.{start}:{sheet_name}.{end}" table:contains-header="true"/>'
            )
        for number, row in enumerate(_iter_rows(sheet, book.default), start=1):
            last = max((cell.column for cell in row if cell.value is not None), default=0)
            cells = "".join(_ods_cell(cell, cell_style(cell)) for cell in row[:last])
            line = f"<table:table-row>{cells}</table:table-row>"
            parts.append(f"<table:table-header-rows>{line}</table:table-header-rows>" if number == header_row else line)
        parts.append("</table:table>")
        tables.append("".join(parts))
    database = f"<table:database-ranges>{''.join(ranges)}</table:database-ranges>" if ranges else ""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    content = (
        f'{head}<office:document-content {_NAMESPACES} office:version="{_ODF_VERSION}">'
        f"<office:automatic-styles>{''.join(styles)}</office:automatic-styles>"
        f"<office:body><office:spreadsheet>{''.join(tables)}{database}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    default_style = (
        '<style:default-style style:family="table-cell"><style:text-properties fo:font-family="Arial" '
        'fo:font-size="12pt" fo:language="en" fo:country="GB"/></style:default-style>'
    )
    files = {
        "content.xml": content,
        "styles.xml": f'{head}<office:document-styles {_NAMESPACES} office:version="{_ODF_VERSION}">'
        f"<office:styles>{default_style}</office:styles></office:document-styles>",
        "meta.xml": f'{head}<office:document-meta {_NAMESPACES} office:version="{_ODF_VERSION}"><office:meta>'
        f"<dc:title>{escape(book.properties.title or '')}</dc:title><dc:language>en-GB</dc:language>"
        f"<meta:creation-date>{book.properties.created.isoformat(timespec='seconds')}</meta:creation-date>"
        "<meta:generator>missing children inspection toolkit</meta:generator></office:meta></office:document-meta>",
    }
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml"/>' for name in files
    )
    manifest = (
        f'{head}<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        f'manifest:version="{_ODF_VERSION}"><manifest:file-entry manifest:full-path="/" '
        f'manifest:version="{_ODF_VERSION}" manifest:media-type="{_ODS_MEDIA_TYPE}"/>{entries}</manifest:manifest>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        # The media type comes first and uncompressed, so a reader can tell the file's type from its first bytes.
        package.writestr(zipfile.ZipInfo("mimetype", _ZIP_TIME), _ODS_MEDIA_TYPE, compress_type=zipfile.ZIP_STORED)
        for name, text in {**files, "META-INF/manifest.xml": manifest}.items():
            package.writestr(zipfile.ZipInfo(name, _ZIP_TIME), text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write_workbooks(out_dir: str | Path, metrics: pd.DataFrame, quality: pd.DataFrame, run: dict) -> list[Path]:
    """Write ``tables.xlsx`` and ``tables.ods`` into a report folder, from its published tables.

    Parameters
    ----------
    out_dir : path-like
        The report folder (a run's staging folder, swapped in whole when the run ends).
    metrics, quality : pandas.DataFrame
        The tables written to ``metrics.csv`` and ``data_quality.csv``, after disclosure control.
    run : dict
        The run's parameters (see :func:`write_xlsx`).

    Returns
    -------
    list of Path
    """
    xlsx = write_xlsx(run, build_table_sheets(metrics, quality))
    targets = [Path(out_dir) / name for name in WORKBOOK_NAMES]
    write_atomically(targets[0], xlsx)
    write_atomically(targets[1], convert_to_ods(xlsx))
    return targets
