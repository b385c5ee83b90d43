"""The house: stages in the order data flow, one owner for each shared thing, a small public surface."""

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit
from toolkit.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "toolkit"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
STAGES = ("ingest", "stats", "findings", "publish", "synthetic")


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the package under ``root`` with the project's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_stages_keep_their_order():
    checked = _lint_imports(PROJECT_ROOT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 kept, 0 broken" in checked.stdout


@pytest.mark.parametrize(
    ("module", "violation", "broken"),
    [
        (
            "stats/volume.py",
            "from toolkit.publish import report",
            "toolkit.stats is not allowed to import toolkit.publish",
        ),
        ("ingest/clean.py", "import toolkit.findings", "toolkit.ingest is not allowed to import toolkit.findings"),
        ("forces.py", "from toolkit.stats import intervals", "is not allowed to import toolkit.stats"),
        ("publish/report.py", "from toolkit.synthetic import generator", "toolkit.publish.report -> toolkit.synthetic"),
    ],
)
def test_a_lower_stage_importing_a_higher_one_breaks_the_contract(tmp_path, module, violation, broken):
    shutil.copytree(PACKAGE, tmp_path / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "toolkit" / module, "a", encoding="utf-8") as source:
        source.write(f"\n{violation}  # noqa\n")
    checked = _lint_imports(tmp_path)
    assert checked.returncode != 0
    assert broken in checked.stdout, checked.stdout


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_folder_says_what_belongs_there(stage):
    docstring = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
    assert docstring and "belong" in docstring
    for module in (PACKAGE / stage).glob("*.py"):  # and each of its modules says what it is
        assert ast.get_docstring(ast.parse(module.read_text())), module


def test_the_package_map_names_every_module():
    documented = toolkit.__doc__
    for module in PACKAGE.rglob("*.py"):
        if module.name not in ("__init__.py", "__main__.py"):
            assert f"``{module.stem}``" in documented, module


def test_researchers_keep_short_imports():
    for name in toolkit.__all__:
        assert getattr(toolkit, name) is not None, name
    notebook = json.loads((PROJECT_ROOT / "notebooks" / "explore.ipynb").read_text())
    imports = [
        line
        for cell in notebook["cells"]
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("from toolkit import")
    ]
    assert imports, "the research notebook imports from toolkit"
    for line in imports:
        for name in re.sub(r"^from toolkit import", "", line).split(","):
            assert name.strip() in toolkit.__all__, name


def test_a_report_kernel_imports_no_module_only_the_cleaning_or_the_models_need():
    """A fresh kernel renders a report from prepared tables: importing the report's module must not bring in
    the contract check (pandera) or statsmodels' plotting and time-series modules (about 0.6 s of every fresh
    render before they were left out)."""
    heavy = ("pandera", "statsmodels.api", "statsmodels.tsa", "toolkit.ingest.clean")
    probe = f"import sys, toolkit.publish.report; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def _string_constants(path: Path):
    """Every string literal in a module that is not a docstring."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_only_the_store_names_files_of_the_work_folder():
    # (findings.json is also the name of a published file, which the run writes to the report folder.)
    work_files = re.compile(r"\w\.parquet$|^_executed$|^(run_parameters|cleaning)\.json$")
    for module in PACKAGE.rglob("*.py"):
        if module.name == "store.py":
            continue
        for line, text in _string_constants(module):
            assert not work_files.search(text), f"{module.relative_to(PROJECT_ROOT)}:{line} names {text!r}"


def test_only_disclosure_writes_the_small_count_rule():
    """The rule "1 to threshold - 1" is written once, in toolkit.publish.disclosure."""
    by_hand = re.compile(r"0 < [\w\[\]'\".]+ < threshold|between\(1,|< threshold\b")
    for module in PACKAGE.rglob("*.py"):
        if module.name == "disclosure.py":
            continue
        for number, line in enumerate(module.read_text().splitlines(), 1):
            assert not by_hand.search(line), f"{module.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"


def test_prepared_tables_and_the_other_work_files_never_share_a_name():
    from toolkit.stats.tables import TABLE_NAMES
    from toolkit.store import FILES, WorkFolder

    assert set(TABLE_NAMES).isdisjoint(FILES)
    names = [WorkFolder("work").file(name).name for name in [*TABLE_NAMES, *FILES]]
    assert len(set(names)) == len(names)
