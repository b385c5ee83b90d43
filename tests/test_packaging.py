"""The two environment files name the same dependencies, so conda and pip users agree."""

import re
import tomllib

import yaml

from toolkit.config import PROJECT_ROOT


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(_split(r) for r in project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared.update(_split(r) for r in extra)

    environment = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    conda = {}
    pip_section = []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip_section.extend(entry.get("pip", []))
        else:
            name, spec = _split(entry)
            if name not in ("python", "pip"):
                conda[name] = spec

    pip_named = dict(_split(entry) for entry in pip_section if entry != "-e .")
    assert conda | pip_named == declared
    assert not set(conda) & set(pip_named)
    assert "-e ." in pip_section  # the package itself, installed last with pip
    assert "conda-forge" in environment["channels"]


def test_python_requirement_agrees():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    python = next(e for e in environment["dependencies"] if isinstance(e, str) and e.startswith("python"))
    assert _split(python)[1] == project["requires-python"]


def test_code_and_notebooks_pass_the_linter():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "toolkit", "tests", "benchmarks", "notebooks"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
