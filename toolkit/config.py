"""Paths used by the toolkit, all derived from the project root.

Notebooks and modules never hard-code ``../data``; they import these names.
Set ``TOOLKIT_DATA_DIR`` to keep extracts outside the repository (for example
on a secure share). Reference lookups always come from the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # valid for `pip install -e .`
DATA_DIR = Path(os.environ.get("TOOLKIT_DATA_DIR", PROJECT_ROOT / "data"))
WORK_DIR = DATA_DIR / "processed"  # the default work folder: prepared tables, never published
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
PLANS_DIR = PROJECT_ROOT / "data" / "plans"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORTS_DIR = PROJECT_ROOT / "reports"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def read_yaml_config(path: Path | str, what: str):
    """Read a YAML configuration file (comparator groups, plan, mapping) safely.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages ("mapping", "plan", ...).

    Raises
    ------
    toolkit.errors.ConfigError
        The file cannot be read or is not valid YAML; the message names it.
    """
    import yaml

    from toolkit.errors import ConfigError

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{what} {path} is not valid YAML: {error}") from None
