"""The spreadsheets: reports/tables.xlsx and reports/tables.ods, as the GSS guidance lays them out.

Read back from the shared small run (tests/conftest.py) with pandas, openpyxl and the ODS file's own XML.
"""

import re
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from toolkit.publish.disclosure import COUNT_UNITS, SUPPRESSED
from toolkit.publish.metrics import PUBLISHED
from toolkit.publish.workbook import NOT_AVAILABLE, TABLE_SHEETS, WORKBOOK_NAMES

ENGINES = {"tables.xlsx": "openpyxl", "tables.ods": "odf"}
FIRST_SHEETS = ["Cover", "Contents", "Notes"]
# Published columns and their headers in the sheets.
FIGURES = {
    "value": "Value",
    "lower": "Lower limit of the 95% interval",
    "upper": "Upper limit of the 95% interval",
    "numerator": "Numerator",
    "denominator": "Denominator",
}
TEXT = {"force_code": "Code", "unit": "Unit", "method": "Method"}


@pytest.fixture(scope="module")
def reports(run):
    return run[1] / "reports"


@pytest.fixture(scope="module", params=WORKBOOK_NAMES)
def book(request, reports):
    """Every sheet of one workbook, as pandas reads it: {sheet: DataFrame without a header}."""
    path = reports / request.param
    return request.param, pd.read_excel(path, sheet_name=None, header=None, engine=ENGINES[request.param])


def _table(sheet: pd.DataFrame, first_header: str = "Code") -> pd.DataFrame:
    """A sheet's table: the rows below its header row (the first whose column A is ``first_header``)."""
    header = int(np.flatnonzero(sheet[0].astype(str).eq(first_header))[0])
    table = sheet.iloc[header + 1 :].reset_index(drop=True)
    table.columns = sheet.iloc[header].tolist()
    return table


def _check_cells(table: pd.DataFrame, published: pd.DataFrame, where: str, digits: int | None = None) -> None:
    """Each published row is the sheet's row in the same place: its text, its figures as numbers, [c] withheld.

    Figures are equal exactly, or to ``digits`` significant figures where the published file holds more than a
    spreadsheet keeps (XLSX stores 16 significant figures; Excel shows 15).
    """
    assert len(table) == len(published), where
    for (_, row), (_, cells) in zip(published.iterrows(), table.iterrows(), strict=True):
        for column, header in TEXT.items():
            expected = NOT_AVAILABLE if pd.isna(row[column]) else str(row[column])
            assert str(cells[header]) == expected, (where, column, row["force_code"])
        for column, header in FIGURES.items():
            cell, value = cells[header], row[column]
            if row["suppressed"]:
                assert cell == SUPPRESSED, (where, column, row["force_code"])
            elif pd.isna(value):
                assert cell == NOT_AVAILABLE, (where, column, row["force_code"])
            else:  # a number, stored as a number, equal to the published figure
                assert isinstance(cell, (int, float)), (where, column, cell)
                expected = float(value) if digits is None else pytest.approx(float(value), rel=10.0**-digits, abs=0)
                assert float(cell) == expected, (where, column, cell, value)


def test_every_metrics_section_has_a_sheet():
    sections = {declared.section for declared in PUBLISHED} | {"volume", "profile"}
    assert sections <= {sheet.section for sheet in TABLE_SHEETS}
    assert len({sheet.sheet for sheet in TABLE_SHEETS}) == len(TABLE_SHEETS)


def test_cover_contents_and_notes_come_first_and_the_contents_lists_every_table(book):
    name, sheets = book
    assert list(sheets)[:3] == FIRST_SHEETS, name
    tables = list(sheets)[3:]
    assert {"Volume", "Practice", "Consistency", "Cross_border", "Data_quality"} <= set(tables), name
    contents = _table(sheets["Contents"], "Sheet name")
    assert contents["Sheet name"].tolist() == tables, name
    for sheet, title in zip(contents["Sheet name"], contents["Table"], strict=True):
        # Each sheet's title is in A1: the contents give it without its note references.
        assert re.sub(r"(\[note \d+\])+$", "", str(sheets[sheet].iloc[0, 0])).strip() == title.strip(), (name, sheet)


def test_cells_match_metrics_csv_and_withheld_cells_show_c(book, reports):
    name, sheets = book
    metrics = pd.read_csv(reports / "metrics.csv")
    sections = {sheet.section: sheet.sheet for sheet in TABLE_SHEETS if sheet.source == "metrics"}
    assert set(metrics["section"]) <= set(sections)
    assert metrics["suppressed"].any()  # the small run withholds figures, so [c] is tested
    for section, published in metrics.groupby("section", sort=False):
        table = _table(sheets[sections[section]])
        _check_cells(table, published, f"{name}:{section}")
        assert table["Measure"].tolist() == published["metric"].tolist()
        bands = np.where(published["suppressed"], SUPPRESSED, published["band"].fillna(NOT_AVAILABLE))
        assert table["Funnel band"].tolist() == bands.tolist(), (name, section)
    # The children linked across forces reach the spreadsheets too: the England and Wales rows and each force's.
    crossing = _table(sheets["Cross_border"])
    assert {"distinct_children_linked", "children_in_more_than_one_force"} <= set(crossing["Measure"]), name
    assert crossing["Measure"].eq("missing_in_another_force_too").sum() > 3, name
    # So does the problem profile, each force's figures as its report shows them, withheld where it withholds.
    profile = _table(sheets["Problem_profile"])
    measures = set(profile["Measure"])
    assert {"missing_from_residential_care_share", "looked_after_yes_share", "median_hours_last_seen_to_report"} <= (
        measures
    ), name
    assert {"age_band_12-17_per_1000_children", "top_tenth_of_children", "reported_22_to_02"} <= measures, name
    assert profile["Value"].eq(SUPPRESSED).any() and profile["Figure for"].eq("England and Wales").any(), name
    quality = pd.read_csv(reports / "data_quality.csv")
    table = _table(sheets["Data_quality"])
    _check_cells(table, quality, f"{name}:data_quality", digits=15)  # data_quality.csv keeps every digit
    assert table["Measure"].tolist() == quality["measure"].tolist()


def test_no_cell_holds_a_withheld_count(book, reports):
    """No count of 1 to 4 anywhere a count is published, and no figure at all in a withheld row."""
    name, sheets = book
    threshold = 5
    for sheet in list(sheets)[3:]:
        table = _table(sheets[sheet])
        counts = [table["Numerator"], table["Denominator"], table["Value"].where(table["Unit"].isin(COUNT_UNITS))]
        for column in counts:
            numbers = pd.to_numeric(column, errors="coerce")
            assert not ((numbers >= 1) & (numbers < threshold)).any(), (name, sheet)
        withheld = table[table["Value"].eq(SUPPRESSED)]
        figures = withheld[list(FIGURES.values())]
        assert figures.eq(SUPPRESSED).all().all(), (name, sheet)
    # Nor is the table blank anywhere: every cell of every table is a number or text.
    for sheet in list(sheets)[3:]:
        assert not _table(sheets[sheet]).isna().any().any(), (name, sheet)


def test_notes_explain_the_shorthand_and_every_reference_has_a_note(book):
    name, sheets = book
    notes = _table(sheets["Notes"], "Note number")
    texts = notes["Note text"].astype(str)
    assert texts.str.startswith(f"{SUPPRESSED}: withheld to protect children's identities").any(), name
    assert texts.str.startswith(f"{NOT_AVAILABLE}: not available").any(), name
    assert texts.str.startswith("Methods of the Consistency table: ").any(), name
    # A note is something a reader reads: the problem profile's listed 65 methods in 15,000 characters.
    assert texts.str.len().max() < 3000, name
    profile = texts[texts.str.startswith("Methods of the Problem profile table: ")].iloc[0]
    assert "each row's Method column gives its definition and method in full" in profile, name
    numbers = {int(n) for n in notes["Note number"]}
    assert numbers == set(range(1, len(notes) + 1))
    cited = set()
    for sheet in list(sheets)[3:]:
        title = str(sheets[sheet].iloc[0, 0])
        cited |= {int(n) for n in re.findall(r"\[note (\d+)\]", title)}
    assert cited == numbers, name  # every note is cited, and every citation has its note


def test_cover_says_what_the_workbook_is_and_that_its_data_are_synthetic(book):
    name, sheets = book
    cover = " ".join(sheets["Cover"][0].astype(str))
    assert cover.startswith("Missing and absent children: published figures"), name
    assert "Synthetic data: not about any real force." in cover, name  # the shared run's input is the generator's
    assert "Draft: not for publication." in cover, name
    assert "Source: synthetic episodes made by the toolkit's generator (small.csv)" in cover, name
    for sheet in list(sheets)[3:]:  # and so does every table sheet, read on its own
        assert "Synthetic data: not about any real force." in sheets[sheet][0].astype(str).str.cat(sep=" "), sheet


def test_xlsx_has_no_merged_cells_and_each_table_starts_at_its_header_row(reports):
    book = openpyxl.load_workbook(reports / "tables.xlsx")
    assert book.sheetnames[:3] == FIRST_SHEETS
    for sheet in book.worksheets:
        assert not sheet.merged_cells.ranges, sheet.title
        assert sheet["A1"].value, sheet.title  # a title in A1
        for name, area in sheet.tables.items():
            top = openpyxl.utils.cell.range_boundaries(area)[1]
            rows = list(sheet[area])
            assert [c.value for c in rows[0]][0] in ("Code", "Sheet name", "Note number"), (sheet.title, name)
            assert all(c.value is not None for row in rows for c in row), (sheet.title, "blank cell in a table")
            assert all(sheet.cell(row, 1).value is not None for row in range(1, top)), sheet.title  # no blank rows
    contents = book["Contents"]
    links = {cell.value: cell.hyperlink.location for cell in contents["A"] if cell.hyperlink}
    assert links["Volume"] == "'Volume'!A1"
    numbers = [c for c in book["Volume"]["E"] if c.data_type == "n" and c.value is not None]
    assert len(numbers) > 100  # figures are numbers, not text


def test_ods_has_no_merged_cells_and_keeps_the_links_tables_and_language(reports):
    with zipfile.ZipFile(reports / "tables.ods") as package:
        assert package.namelist()[0] == "mimetype"
        assert package.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        content = package.read("content.xml").decode("utf-8")
        meta = package.read("meta.xml").decode("utf-8")
    assert not re.search(r'number-(columns|rows)-spanned="(?!1")', content)
    assert "covered-table-cell" not in content
    assert "xlink:href=\"#'Volume'.A1\"" in content  # the contents link to each sheet
    ranges = re.findall(r'table:database-range table:name="(\w+)"', content)
    assert {"contents_table", "notes_table", "volume_table"} <= set(ranges)
    assert content.count("<table:table-header-rows>") == len(ranges)  # each table's header row is marked
    assert 'office:value-type="float"' in content
    assert "<dc:language>en-GB</dc:language>" in meta


def test_both_workbooks_hold_the_same_cells(reports):
    xlsx = pd.read_excel(reports / "tables.xlsx", sheet_name=None, header=None, engine="openpyxl")
    ods = pd.read_excel(reports / "tables.ods", sheet_name=None, header=None, engine="odf")
    assert list(xlsx) == list(ods)
    for sheet in xlsx:
        assert xlsx[sheet].shape == ods[sheet].shape, sheet
        left, right = xlsx[sheet].astype(object), ods[sheet].astype(object)
        for column in left:
            for a, b in zip(left[column], right[column], strict=True):
                assert (pd.isna(a) and pd.isna(b)) or a == b or float(a) == float(b), (sheet, a, b)


def test_the_reports_readme_names_the_workbooks(reports):
    readme = (reports / "README.md").read_text()
    for name in WORKBOOK_NAMES:
        assert f"`{name}`" in readme
