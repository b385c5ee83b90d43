"""The registry of the 43 territorial police forces of England and Wales.

One registry, built from the committed ONS reference files in
``data/reference/``, serves the command line, the notebooks and the tests.
Forces are identified by their ONS police force area (PFA) code; the
data.police.uk id is the readable slug used for file names.

Comparator groups ("most similar forces") are configuration, not code: the
Home Office most-similar-group lists are not public here, so the toolkit ships
a documented default (``data/reference/comparator_groups.yaml``, made by
:func:`propose_comparator_groups`) and reads the official lists from any file
of the same form.

Examples
--------
>>> force = get_force("E23000014")
>>> force.name, force.slug
('West Midlands', 'west-midlands')
>>> len(list_forces())
43
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from toolkit.config import REFERENCE_DIR, read_yaml_config
from toolkit.errors import ConfigError, UnknownForceError

__all__ = [
    "NATIONAL",
    "describe_coverage",
    "Force",
    "FORCE_CODE_PATTERN",
    "COMPARATOR_GROUPS_FILE",
    "list_forces",
    "get_force",
    "find_force",
    "read_authority_areas",
    "read_forces_table",
    "propose_comparator_groups",
    "read_comparator_groups",
    "write_comparator_groups",
]

FORCES_FILE = REFERENCE_DIR / "forces_england_wales_reference.csv"
POPULATION_FILE = REFERENCE_DIR / "ons_mid2023_population_by_pfa23_children.csv"
COMPARATOR_GROUPS_FILE = REFERENCE_DIR / "comparator_groups.yaml"
DISTRICTS_FILE = REFERENCE_DIR / "ons_lad23_csp23_pfa23_lookup_dec2023.csv"
COUNTIES_FILE = REFERENCE_DIR / "ons_cty23_lad23_from_mye2_mid2023.csv"

# The code of England and Wales as a whole in every table that has a row per force and a national row.
NATIONAL = "england_and_wales"
# The shape of an ONS PFA code; membership is checked against the registry.
FORCE_CODE_PATTERN = re.compile(r"^(E23|W15)\d{6}$")


@dataclass(frozen=True)
class Force:
    """One territorial police force.

    Attributes
    ----------
    code : str
        ONS police force area code, e.g. ``E23000014``.
    name : str
        ONS area name, e.g. ``West Midlands``.
    official_name : str
        The force's own name, e.g. ``West Midlands Police``.
    slug : str
        data.police.uk id, safe for file names, e.g. ``west-midlands``.
    country : str
        ``England`` or ``Wales``.
    children : int
        Resident children aged 0-17, ONS mid-2023 estimate.
    children_10_17 : int
        Resident children aged 10-17, ONS mid-2023 estimate.
    population : int
        Resident population of all ages, ONS mid-2023 estimate.
    """

    code: str
    name: str
    official_name: str
    slug: str
    country: str
    children: int
    children_10_17: int
    population: int


@lru_cache(maxsize=1)
def read_forces_table() -> pd.DataFrame:
    """Read the 43 territorial forces with their child populations.

    Returns
    -------
    pandas.DataFrame
        One row per force, indexed by ``force_code``, with ``name``,
        ``official_name``, ``slug``, ``country``, ``children`` (0-17),
        ``children_10_17`` and ``population`` (all ages), in ONS code order.

    Examples
    --------
    >>> table = read_forces_table()
    >>> int(table["children"].sum())  # ONS mid-2023, England and Wales, ages 0-17
    12618614
    """
    forces = pd.read_csv(FORCES_FILE, dtype=str, keep_default_na=False)
    forces = forces[forces["is_territorial"].str.lower() == "true"]
    population = pd.read_csv(POPULATION_FILE, dtype={"pfa23cd": str})
    table = forces.merge(population, on="pfa23cd", how="left", validate="one_to_one")
    if table["population_0_17_mid2023"].isna().any():
        missing = ", ".join(table.loc[table["population_0_17_mid2023"].isna(), "pfa23cd"])
        raise ConfigError(f"{POPULATION_FILE.name} has no child population for: {missing}")
    table = table.rename(
        columns={
            "pfa23cd": "force_code",
            "pfa23nm_ons": "name",
            "force_official_name": "official_name",
            "data_police_uk_id": "slug",
            "population_0_17_mid2023": "children",
            "population_10_17_mid2023": "children_10_17",
            "population_all_ages_mid2023": "population",
        }
    )
    columns = ["name", "official_name", "slug", "country", "children", "children_10_17", "population"]
    return table.set_index("force_code")[columns].sort_index()


@lru_cache(maxsize=1)
def read_authority_areas() -> dict[str, str]:
    """Each local authority's police force area, from the ONS lookups of April 2023 boundaries.

    A child's responsible local authority is the council with children's services duties: a unitary
    authority, metropolitan district or London borough (each in the ONS district lookup), a Welsh
    unitary authority, or an English county. A county is in the force area of its districts (the
    districts ONS lists under it; a test checks each county's districts lie in one force area). Codes
    from before April 2023 boundary changes are not in it: such an authority's area is inferred
    (:func:`toolkit.linkage.borders.locate_authorities`).

    Returns
    -------
    dict of str to str
        ONS authority code (``E06``-``E10``, ``W06``) to force code.

    Examples
    --------
    >>> areas = read_authority_areas()
    >>> areas["E10000016"], areas["E06000035"], areas["W06000015"]  # Kent County, Medway, Cardiff
    ('E23000032', 'E23000032', 'W15000003')
    """
    districts = pd.read_csv(DISTRICTS_FILE, dtype=str, encoding="utf-8-sig", usecols=["LAD23CD", "PFA23CD"])
    districts = districts.drop_duplicates("LAD23CD")  # a district with several community safety partnerships
    counties = pd.read_csv(COUNTIES_FILE, dtype=str, usecols=["CTY23CD", "LAD23CD"])
    counties = counties.merge(districts, on="LAD23CD", validate="one_to_one").drop_duplicates("CTY23CD")
    areas = dict(zip(districts["LAD23CD"], districts["PFA23CD"], strict=True))
    areas.update(zip(counties["CTY23CD"], counties["PFA23CD"], strict=True))
    return areas


@lru_cache(maxsize=1)
def _registry() -> dict[str, Force]:
    table = read_forces_table()
    return {
        code: Force(
            code=code,
            name=row["name"],
            official_name=row["official_name"],
            slug=row["slug"],
            country=row["country"],
            children=int(row["children"]),
            children_10_17=int(row["children_10_17"]),
            population=int(row["population"]),
        )
        for code, row in table.iterrows()
    }


def list_forces() -> list[Force]:
    """Return every territorial force, in ONS code order.

    Examples
    --------
    >>> [f.code for f in list_forces()][:2]
    ['E23000001', 'E23000002']
    """
    return list(_registry().values())


def describe_coverage(covered: list[str]) -> str:
    """Which forces an extract covers, in a sentence every page prints at its top.

    A force that sent nothing is not in the extract: it is named as missing,
    never counted as zero, and national figures pool only the forces covered.

    Examples
    --------
    >>> print(describe_coverage(["E23000014"]))  # doctest: +NORMALIZE_WHITESPACE
    The extract covers 1 of the 43 police forces of England and Wales (West Midlands Police); figures for England and
    Wales pool only the forces it covers.
    >>> describe_coverage([f.code for f in list_forces()])
    'The extract covers all 43 police forces of England and Wales.'
    """
    forces = list_forces()
    codes = set(covered)
    if codes >= {f.code for f in forces}:
        return f"The extract covers all {len(forces)} police forces of England and Wales."
    inside = [f.official_name for f in forces if f.code in codes]
    outside = [f.official_name for f in forces if f.code not in codes]
    named = f"({', '.join(inside)})" if len(inside) <= len(outside) else f"(all but {', '.join(outside)})"
    return (
        f"The extract covers {len(inside)} of the {len(forces)} police forces of England and Wales {named}; "
        "figures for England and Wales pool only the forces it covers."
    )


def get_force(code: object) -> Force:
    """Look up one force by its ONS code.

    Parameters
    ----------
    code : object
        The ONS police force area code. Anything that is not a known code
        (including non-strings) is refused.

    Returns
    -------
    Force

    Raises
    ------
    UnknownForceError
        With the closest known codes or names, so a typo is easy to fix.

    Examples
    --------
    >>> get_force("W15000003").official_name
    'South Wales Police'
    >>> get_force("E2300014")
    Traceback (most recent call last):
    ...
    toolkit.errors.UnknownForceError: unknown force code 'E2300014': expected an ONS police force area code such as E23000014 (West Midlands); closest: E23000014, E23000034, E23000031
    """
    registry = _registry()
    if isinstance(code, str) and code in registry:
        return registry[code]
    text = repr(code) if not isinstance(code, str) else repr(code[:40])
    by_name = {f.name.lower(): f.code for f in registry.values()}
    close = difflib.get_close_matches(str(code), list(registry), n=3, cutoff=0.5)
    close += [by_name[n] for n in difflib.get_close_matches(str(code).lower(), by_name, n=2)]
    hint = f"; closest: {', '.join(dict.fromkeys(close))}" if close else ""
    raise UnknownForceError(
        f"unknown force code {text}: expected an ONS police force area code such as E23000014 (West Midlands){hint}"
    )


def find_force(text: object) -> Force:
    """Look up one force as a user may type it: its ONS code, slug, name or official name, in any case.

    Notebook parameters and files are checked with the stricter :func:`get_force` (codes only).

    Raises
    ------
    UnknownForceError
        As :func:`get_force`, with the closest known codes and names.

    Examples
    --------
    >>> [find_force(t).code for t in ("E23000014", "west-midlands", "West Midlands", "west midlands police")]
    ['E23000014', 'E23000014', 'E23000014', 'E23000014']
    >>> find_force("City of London Police").slug
    'city-of-london'
    """
    if isinstance(text, str):
        key = text.strip().lower()
        for force in _registry().values():
            names = (force.code.lower(), force.slug, force.slug.replace("-", " "), force.name.lower())
            if key in (*names, force.official_name.lower()):
                return force
    return get_force(text)  # refused, with the closest codes and names


def propose_comparator_groups(size: int = 7) -> dict[str, list[str]]:
    """Propose default comparator groups from public ONS figures.

    The documented default used until the official most-similar-group lists
    are supplied: for each force, the ``size`` forces nearest to it on three
    standardised measures, which stand in for the demographic and urban
    character the official groups use:

    - log of the child population (scale);
    - children as a share of all residents (age structure);
    - log of residents per local authority district (a rough urbanity proxy).

    City of London (642 children) is never a comparator for another force:
    its rates are too unstable to compare against.

    Parameters
    ----------
    size : int, default 7
        Comparators per force (the official groups have seven or eight).

    Returns
    -------
    dict of str to list of str
        Force code to its comparators, nearest first.

    Examples
    --------
    >>> groups = propose_comparator_groups()
    >>> len(groups), len(groups["E23000014"])
    (43, 7)
    >>> "E23000014" in groups["E23000014"]
    False
    """
    table = read_forces_table()
    population = pd.read_csv(POPULATION_FILE, dtype={"pfa23cd": str}).set_index("pfa23cd")
    features = pd.DataFrame(
        {
            "log_children": np.log(table["children"]),
            "child_share": table["children"] / table["population"],
            "log_per_district": np.log(table["population"] / population["lad_count"]),
        }
    )
    z = (features - features.mean()) / features.std(ddof=0)
    distance = np.sqrt(((z.values[:, None, :] - z.values[None, :, :]) ** 2).sum(axis=2))
    codes = list(z.index)
    city = codes.index("E23000034")
    groups = {}
    for i, code in enumerate(codes):
        order = [j for j in np.argsort(distance[i], kind="stable") if j not in (i, city)]
        groups[code] = [codes[j] for j in order[:size]]
    return groups


def write_comparator_groups(groups: dict[str, list[str]], path: Path, source: str) -> None:
    """Write comparator groups to a YAML file that :func:`read_comparator_groups` reads."""
    document = {"source": source, "groups": {code: list(peers) for code, peers in groups.items()}}
    header = (
        "# Comparator groups: each force's list of similar forces, compared against in reports.\n"
        "# Same form for the official Home Office most similar groups: pass the file with\n"
        "# `python -m toolkit run --comparators FILE`. Every force needs a group.\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=True, width=100)
    Path(path).write_text(text, encoding="utf-8")


def read_comparator_groups(path: Path | str | None = None) -> dict[str, list[str]]:
    """Read comparator groups from YAML and check them against the registry.

    Parameters
    ----------
    path : path-like, optional
        A YAML file with a ``groups`` mapping of force code to a list of
        comparator force codes (see ``data/reference/comparator_groups.yaml``).
        Defaults to the shipped default groups.

    Returns
    -------
    dict of str to list of str

    Raises
    ------
    ConfigError
        When the file is missing, not YAML, or names unknown forces, a force
        as its own comparator, or leaves a force without a group.

    Examples
    --------
    >>> groups = read_comparator_groups()
    >>> sorted(groups) == [f.code for f in list_forces()]
    True
    """
    path = Path(path) if path is not None else COMPARATOR_GROUPS_FILE
    document = read_yaml_config(path, "comparator groups")
    if not isinstance(document, dict) or not isinstance(document.get("groups"), dict):
        raise ConfigError(f"comparator groups {path} needs a 'groups' mapping of force code to list")
    registry = _registry()
    problems = []
    groups: dict[str, list[str]] = {}
    for code, peers in document["groups"].items():
        if code not in registry:
            problems.append(f"{code!r} is not a force code")
            continue
        if not isinstance(peers, list) or not peers:
            problems.append(f"{code}: comparators must be a non-empty list")
            continue
        unknown = [p for p in peers if p not in registry]
        if unknown:
            problems.append(f"{code}: unknown comparator(s) {', '.join(map(repr, unknown))}")
        if code in peers:
            problems.append(f"{code}: a force cannot be its own comparator")
        groups[code] = [str(p) for p in peers]
    missing = sorted(set(registry) - set(document["groups"]))
    if missing:
        problems.append(f"no group for {', '.join(missing)}")
    if problems:
        raise ConfigError(f"comparator groups {path}: " + "; ".join(problems))
    return groups
