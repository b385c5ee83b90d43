"""The command line as a user meets it: one clear message and a non-zero exit, never a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXTRACT_DATE

from toolkit.config import PROJECT_ROOT


def toolkit(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def assert_clean_failure(result, message, status=1):
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert message in result.stderr + result.stdout


def test_forces_lists_all_43():
    result = toolkit("forces")
    assert result.returncode == 0
    assert len(result.stdout.strip().splitlines()) == 43
    assert "E23000014  west-midlands" in result.stdout


def test_thresholds_lists_every_findings_threshold_as_a_file_run_accepts(tmp_path):
    import yaml

    from toolkit.findings import THRESHOLDS, read_thresholds

    result = toolkit("thresholds")
    assert result.returncode == 0, result.stderr
    listed = yaml.safe_load(result.stdout)  # comments say what each means and which rules use it
    assert listed == THRESHOLDS
    assert "min_records: 20  # fewer records than this" in result.stdout
    copied = tmp_path / "thresholds.yaml"
    copied.write_text(result.stdout)
    assert read_thresholds(copied) == THRESHOLDS


@pytest.mark.parametrize("threshold", ["1", "0", "-3", "2"])
def test_a_threshold_that_switches_suppression_off_is_refused_before_anything_is_read(threshold):
    result = toolkit("run", "--input", "missing.csv", "--extract-date", "2025-01-31", "--suppress-below", threshold)
    assert_clean_failure(result, "use at least 3, or --no-suppression for an internal run")
    assert "missing.csv" not in result.stderr  # refused first


def test_a_threshold_below_the_default_is_allowed_with_a_warning():
    result = toolkit("run", "--input", "missing.csv", "--extract-date", "2025-01-31", "--suppress-below", "4")
    assert "WARNING: counts of 4 will be published" in result.stderr
    assert_clean_failure(result, "missing.csv: no such file")


def test_validate_accepts_a_good_extract(small_extract):
    path, episodes, _ = small_extract
    result = toolkit("validate", path, "--extract-date", EXTRACT_DATE)
    assert result.returncode == 0
    assert f"{len(episodes):,} episodes meet the extract contract" in result.stdout


def test_validate_lists_problems_and_exits_non_zero(tmp_path, small_extract):
    path, _, _ = small_extract
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("age")] = "21"
    row[header.index("risk_initial")] = "<script>alert(1)</script>"
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join([lines[0], ",".join(row), *lines[2:50]]) + "\n")
    out = tmp_path / "problems.csv"
    result = toolkit("validate", broken, "--extract-date", EXTRACT_DATE, "--problems-out", out)
    assert_clean_failure(result, "2 problem(s) in 1 of 49 row(s)")
    assert "age must be a whole number from 0 to 17" in result.stdout
    assert out.read_text().count("\n") == 3  # header and two problems


def test_validate_missing_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("force_code,episode_id\nE23000014,1\n")
    result = toolkit("validate", path, "--extract-date", EXTRACT_DATE)
    assert_clean_failure(result, "required column is missing")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", "the file is empty"),
        ("junk.csv", bytes(range(256)) * 4, "content is binary data"),
        ("report.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
    ],
)
def test_validate_unusable_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert_clean_failure(toolkit("validate", path, "--extract-date", EXTRACT_DATE), message)


def test_validate_missing_file(tmp_path):
    assert_clean_failure(toolkit("validate", tmp_path / "nope.csv", "--extract-date", EXTRACT_DATE), "no such file")


def test_bad_date_is_a_usage_error(small_extract):
    path, _, _ = small_extract
    result = toolkit("validate", path, "--extract-date", "31/01/2025")
    assert_clean_failure(result, "is not a date in the form YYYY-MM-DD", status=2)


def test_run_refuses_an_unknown_force_before_doing_anything(tmp_path, small_extract):
    path, _, _ = small_extract
    result = toolkit(
        "run",
        "--input",
        path,
        "--extract-date",
        EXTRACT_DATE,
        "--out",
        tmp_path / "r",
        "--work",
        tmp_path / "w",
        "--forces",
        "E23000014",
        "../../etc/passwd",
    )
    assert_clean_failure(result, "unknown force code '../../etc/passwd'")
    assert not (tmp_path / "r").exists()


def test_run_refuses_an_unknown_status_before_doing_anything(tmp_path, small_extract):
    from toolkit.errors import ToolkitError
    from toolkit.runner import run_reports

    path, _, _ = small_extract
    common = ["run", "--input", path, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "r", "--work", tmp_path / "w"]
    result = toolkit(*common, "--status", "final")
    assert_clean_failure(result, "argument --status: invalid choice: 'final' (choose from", status=2)
    with pytest.raises(ToolkitError, match="status must be one of draft, published, not 'final'"):
        run_reports(path, EXTRACT_DATE, tmp_path / "r", work_dir=tmp_path / "w", status="final")
    assert not (tmp_path / "r").exists() and not (tmp_path / "w").exists()


def test_run_refuses_a_malformed_provenance_file_naming_it(tmp_path):
    extract = tmp_path / "x.csv"
    extract.write_text("force_code,episode_id\nE23000014,1\n")  # refused before the extract is read
    (tmp_path / "x.csv.provenance.json").write_text('{"synthetic": tru')
    result = toolkit(
        "run", "--input", extract, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "r", "--work", tmp_path / "w"
    )
    assert_clean_failure(result, "x.csv.provenance.json: not a usable provenance file: it is not valid JSON")
    assert result.stderr.count("error:") == 1 and result.stdout == ""
    assert not (tmp_path / "r").exists() and not (tmp_path / "w").exists()


def test_run_refuses_synthetic_for_data_whose_provenance_says_they_are_real(tmp_path):
    from toolkit.errors import ToolkitError
    from toolkit.runner import run_reports

    extract = tmp_path / "x.csv"
    extract.write_text("force_code,episode_id\nE23000014,1\n")
    (tmp_path / "x.csv.provenance.json").write_text('{"synthetic": false, "generator": "a force system"}')
    with pytest.raises(ToolkitError, match="says the data are not synthetic, but the run was told they are"):
        run_reports(extract, EXTRACT_DATE, tmp_path / "r", work_dir=tmp_path / "w", synthetic=True)
    assert not (tmp_path / "r").exists()


def test_run_refuses_an_invalid_extract(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(
        "force_code,episode_id,person_id,reported_at,age,category,risk_initial\n"
        "E23000014,1,p,2024-01-01T10:00:00,12,missing,low\n"
        "E23000014,2,p,2024-01-02,12,missing,low\n"
    )
    result = toolkit(
        "run", "--input", path, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "r", "--work", tmp_path / "w"
    )
    assert_clean_failure(result, "1 problem(s) in 1 row(s) break the extract contract")
    assert not (tmp_path / "r").exists()


def test_run_refuses_an_empty_extract(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"")
    result = toolkit(
        "run", "--input", path, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "r", "--work", tmp_path / "w"
    )
    assert_clean_failure(result, "the file is empty")


def test_synth_refuses_a_bad_plan(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("effects:\n  - force: E23000014\n    effect: teleport\n")
    result = toolkit(
        "synth", "--year", 2024, "--seed", 1, "--scale", 0.01, "--plant", plan, "--out", tmp_path / "x.csv"
    )
    assert_clean_failure(result, "unknown effect 'teleport'")


def test_clean_writes_the_clean_table_and_quarantine(tmp_path):
    export = tmp_path / "export.csv"
    made = toolkit(
        "synth",
        "--year",
        2024,
        "--seed",
        3,
        "--scale",
        0.01,
        "--dialect",
        "command_csv",
        "--defects",
        0.05,
        "--out",
        export,
    )
    assert made.returncode == 0, made.stderr
    provenance = json.loads((tmp_path / "export.csv.provenance.json").read_text())
    assert provenance["synthetic"] is True and provenance["dialect"] == "command_csv"
    result = toolkit(
        "clean",
        export,
        "--mapping",
        PROJECT_ROOT / "data/mappings/command_csv.yaml",
        "--extract-date",
        EXTRACT_DATE,
        "--out",
        tmp_path / "clean",
    )
    assert result.returncode == 0, result.stderr
    assert "quarantined overlaps_episode" in result.stdout
    for name in ("episodes.parquet", "quarantine.csv", "changes.csv", "translations.csv", "cleaning.json"):
        assert (tmp_path / "clean" / name).is_file()


@pytest.mark.parametrize(
    "content, mapping_text, message",
    [
        (bytes(range(256)), None, "content is binary data"),
        (b"Occurrence Ref;Force Code\n1;E23000014\n", None, "separated by semicolons"),
        (
            b"force_code,episode_id\nE23000014,1\n",
            "name: x\ncolumns: {force_code: force_code, episode_id: episode_id,"
            " person_id: person_id, reported_at: reported_at, age: age, category: category,"
            " risk_initial: risk_initial}",
            "names column(s) 'person_id', 'reported_at', 'age', 'category', 'risk_initial' that the export"
            " does not have",
        ),
        (b"a,b\n1,2\n", "name: [unclosed", "is not valid YAML"),
    ],
)
def test_clean_refuses_malformed_input_clearly(tmp_path, content, mapping_text, message):
    export = tmp_path / "export.csv"
    export.write_bytes(content)
    args = ["clean", export, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "out"]
    if mapping_text:
        (tmp_path / "m.yaml").write_text(mapping_text)
        args += ["--mapping", tmp_path / "m.yaml"]
    assert_clean_failure(toolkit(*args), message)


def test_dask_executor_options_must_come_together(tmp_path, small_extract):
    path, _, _ = small_extract
    common = ["run", "--input", path, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "r", "--work", tmp_path / "w"]
    assert_clean_failure(toolkit(*common, "--executor", "dask"), "--executor dask needs --scheduler")
    assert_clean_failure(
        toolkit(*common, "--scheduler", "tcp://127.0.0.1:9"), "--scheduler is only for --executor dask"
    )
    assert not (tmp_path / "r").exists()


def test_a_reader_that_closes_the_pipe_first_is_ordinary_shell_use():
    """`toolkit forces | head -1` with head gone before the output is flushed: exit 0, nothing said (#13 item 15)."""
    import os

    for _ in range(3):
        read, write = os.pipe()
        os.close(read)  # the reader has gone before a byte is written: every write fails
        completed = subprocess.run(
            [sys.executable, "-m", "toolkit", "forces"], stdout=write, stderr=subprocess.PIPE, text=True
        )
        os.close(write)
        assert completed.returncode == 0 and completed.stderr == "", completed.stderr


FORMULAS = ('=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3")


def test_csv_files_people_open_in_a_spreadsheet_run_no_formula(tmp_path, small_extract):
    """Hostile values reach the problem list and the quarantine as text, never as formulas (#13 item 16)."""
    import csv

    path, _, _ = small_extract
    source = list(csv.DictReader(path.open()))[:40]
    for row, formula in zip(source, FORMULAS, strict=False):
        row["risk_initial"] = formula
    broken = tmp_path / "broken.csv"
    with broken.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(source[0]))
        writer.writeheader()
        writer.writerows(source)
    problems = tmp_path / "problems.csv"
    toolkit("validate", broken, "--extract-date", EXTRACT_DATE, "--problems-out", problems)
    cleaned = toolkit("clean", broken, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "clean")
    assert cleaned.returncode == 0, cleaned.stderr
    for written in (problems, tmp_path / "clean" / "quarantine.csv"):
        cells = [cell for row in csv.reader(written.open()) for cell in row]
        assert all(f"'{formula}" in cells for formula in FORMULAS), (written.name, cells[:40])
        assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:].isdigit())]


def test_run_passes_the_contact_to_the_run(monkeypatch, tmp_path):
    """`run --contact` reaches the run's parameters (every page's footer says it: markup.describe_footer)."""
    from toolkit import cli, runner

    given = {}

    def record(*args, **kwargs):
        given.update(kwargs)
        raise SystemExit(0)  # the run itself is not what is tested

    monkeypatch.setattr(runner, "run_reports", record)
    extract = tmp_path / "x.csv"
    extract.write_text("force_code\n")
    with pytest.raises(SystemExit):
        cli.main(["run", "--input", str(extract), "--extract-date", EXTRACT_DATE, "--contact", "Data team, d@x.org"])
    assert given["contact"] == "Data team, d@x.org"


def test_a_command_does_not_compile_the_iri_checker_nobody_uses_and_notebooks_still_validate(tmp_path):
    """Every command paid over two seconds for jsonschema's "iri" checker (rfc3987_syntax), which no notebook
    schema uses; the notebooks must still validate without it."""
    script = (
        "import runpy, sys\n"
        "sys.argv = ['toolkit', 'forces']\n"
        "try:\n"
        "    runpy.run_module('toolkit', run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    assert stop.code == 0, stop.code\n"
        "import nbformat\n"
        "from toolkit.config import NOTEBOOKS_DIR\n"
        "for path in sorted(NOTEBOOKS_DIR.glob('*.ipynb')):\n"
        "    nbformat.validate(nbformat.read(path, as_version=4))\n"
        "print('rfc3987_syntax' in sys.modules and sys.modules['rfc3987_syntax'] is not None)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--input", "x.csv", "--extract-date", EXTRACT_DATE, "--suppress-below", "1"], "use at least 3"),
        (["run", "--input", "x.csv", "--extract-date", EXTRACT_DATE, "--forces", "nowhere"], "unknown force"),
        (["run", "--input", "x.csv", "--extract-date", EXTRACT_DATE, "--executor", "dask"], "needs --scheduler"),
        (["run", "--input", "x.csv"], "--input needs --extract-date"),
        (["validate", "x.csv", "--extract-date", "31/01/2025"], "is not a date in the form YYYY-MM-DD"),
    ],
    ids=["threshold", "force", "dask", "no-date", "bad-date"],
)
def test_a_command_line_refused_loads_none_of_the_run_s_libraries(tmp_path, args, message):
    """A refusal of the command line itself is told before the statistics and rendering libraries load (seconds
    of every refusal, as the run's modules are imported); a date that does not parse, before pandas."""
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['toolkit', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('toolkit', run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    print(stop.code)\n"
        "print(sorted(m for m in ('statsmodels', 'scipy', 'nbconvert', 'papermill', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    status, loaded = result.stdout.strip().splitlines()[-2:]
    assert message in result.stderr and status in ("1", "2"), result.stderr
    # pandas comes with the extract date's type (toolkit.dates): only where a date was given, and parsed.
    assert loaded == ("['pandas']" if EXTRACT_DATE in args else "[]"), loaded


def test_the_store_commands_help_gives_the_store_s_own_defaults():
    """The parser says the store's defaults without importing toolkit.store; a command gets the store's own."""
    from toolkit import cli, store

    assert cli.STORE_DEFAULT_HELP == store.DEFAULT_STORE and cli.WAIT_DEFAULT_HELP == store.WAIT_SECONDS
    args = cli.build_parser().parse_args(["status"])
    cli._fill_store_options(args)
    assert (args.store, args.wait) == (store.DEFAULT_STORE, store.WAIT_SECONDS)
    args = cli.build_parser().parse_args(["export", "--out", "x", "--store", "s.duckdb", "--wait", "2"])
    cli._fill_store_options(args)
    assert (args.store, args.wait) == (Path("s.duckdb"), 2.0)
