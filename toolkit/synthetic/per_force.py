"""A national store's worth of exports: each force's own export of each year, as forces supply them.

:func:`write_force_exports` writes into a folder one export per force per calendar year of
reports, each as the force's system writes it (a dialect of ``data/mappings/``, kept by the force
from year to year, with recorded defects injected: :func:`~toolkit.synthetic.exports.export_dialect`)
and taken a month after its year ends, on 31 January (:func:`~toolkit.synthetic.generator.generate_extract`
with ``yearly``). Two things real supply has are planted too: one force resends a year with
corrections (a later extract date; a few first grades and return times corrected, a few episodes
added that were recorded late), and one force never supplies.

A force with no episode in a year (at a small ``scale`` only) has no file that year: an export
holds at least one episode. The folder holds, beside the exports (each with its ``<file>.truth.json`` and
``<file>.provenance.json``, as :func:`~toolkit.synthetic.generator.write_extract` writes them):

- ``manifest.csv``: a row per file in the order a store loads them (by extract date, then force):
  ``file`` (relative to the folder), ``force_code``, ``force``, ``year``, ``period_from``,
  ``period_to``, ``dialect``, ``mapping`` (relative to the repository), ``extract_date``,
  ``kind`` (``export`` or ``correction``), ``replaces`` (for a correction, the file it replaces),
  ``rows`` (data rows, defects included), ``defects`` (how many injected) and ``sha256``.
- ``manifest.csv.truth.json``: the ground truth: the arguments, each force's dialect, the force
  that never supplies, the correction (every corrected value, before and after, and every episode
  added), every file's defects, the planted effects, every force's practice parameters (the same
  in every year; volumes grow by ``growth_per_year``), and by year each force's episodes and the
  realised practice of the planted forces and of England and Wales.

Same seed, same bytes: every file, and so the manifest's SHA-256s, are identical for the same
arguments.

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp()) / "exports"
>>> manifest = pd.read_csv(write_force_exports(folder, year=2023, seed=3, years=2, scale=0.004), dtype=str)
>>> manifest["kind"].value_counts().to_dict(), sorted(manifest["year"].unique())
({'export': 80, 'correction': 1}, ['2023', '2024'])
>>> manifest[["file", "dialect", "mapping", "extract_date"]].iloc[0].tolist()
['2023/metropolitan.xlsx', 'case_xlsx', 'data/mappings/case_xlsx.yaml', '2024-01-31']
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.config import PROJECT_ROOT
from toolkit.errors import ToolkitError
from toolkit.forces import get_force, read_forces_table
from toolkit.ingest.mapping import CANONICAL, Mapping, read_mapping
from toolkit.ingest.schema import DATETIME_COLUMNS
from toolkit.synthetic.exports import DIALECTS, export_dialect
from toolkit.synthetic.generator import PlantedEffect, generate_extract, write_extract

__all__ = ["MANIFEST", "MANIFEST_COLUMNS", "write_force_exports", "list_export_dialects", "correct_export"]

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = [
    "file",
    "force_code",
    "force",
    "year",
    "period_from",
    "period_to",
    "dialect",
    "mapping",
    "extract_date",
    "kind",
    "replaces",
    "rows",
    "defects",
    "sha256",
]
# The stream of this module's own draws (which force supplies in which dialect, which force never supplies,
# which resends): apart from the generator's, so its episodes are those of the same seed without them.
_STREAM = 15
# What a correction changes, as shares of the force's year: first grades, return times, episodes recorded late.
CORRECTED_SHARE = {"risk_initial": 0.005, "returned_at": 0.005, "added": 0.0025}
_FILE_TYPES = {True: ".xlsx", False: ".csv"}  # by whether the dialect writes Excel serial dates


def list_export_dialects() -> dict[str, Path]:
    """Every dialect a force's export can be written in, the canonical form first, with its mapping.

    Examples
    --------
    >>> list(list_export_dialects())[0], "niche_rms" in list_export_dialects()
    ('canonical', True)
    """
    return {"canonical": CANONICAL, **DIALECTS}


def _file_type(mapping: Mapping) -> str:
    """The ending of an export in this dialect: a system that writes Excel serial dates writes a workbook."""
    return _FILE_TYPES["excel_serial" in mapping.dates]


def _draw_seed(seed: int, *key: int) -> int:
    """A seed of its own for each file, from the run's seed and the file's key (year, force, kind)."""
    return int(np.random.SeedSequence([seed, _STREAM, *key]).generate_state(1)[0])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _iso(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%S")


def correct_export(episodes: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict]:
    """A force's year as resent with corrections: a few grades and return times put right, late episodes added.

    Of the force's episodes (:data:`CORRECTED_SHARE`, at least one of each, each episode changed
    once): "missing" episodes get another first grade; returned episodes of 20 minutes or more
    get an earlier return time, the one first typed having been wrong (30% to 80% of the way from
    the report, in whole minutes); and episodes recorded too late for the first export are added,
    each a new child's, reported earlier in the same year (an existing episode's record moved back
    a whole number of days, under the next episode ids of the force's year). Nothing else
    changes: what was still open at the first extract date is still open.

    Parameters
    ----------
    episodes : pandas.DataFrame
        One force's canonical episodes of one calendar year, as first exported.
    seed : int
        Random seed: same seed, same corrections.

    Returns
    -------
    corrected : pandas.DataFrame
        The episodes as resent, in report order.
    changes : dict
        ``corrected``: each changed value (``episode_id``, ``column``, ``before``, ``after``, as
        the canonical extract writes them); ``added``: each added episode (``episode_id``,
        ``person_id``, ``reported_at``).

    Examples
    --------
    >>> episodes, _ = generate_extract(2024, seed=1, scale=0.05)
    >>> force = episodes[episodes["force_code"] == "E23000014"].reset_index(drop=True)
    >>> corrected, changes = correct_export(force, seed=4)
    >>> len(corrected) - len(force) == len(changes["added"]), len(changes["corrected"]) > 0
    (True, True)
    """
    rng = np.random.default_rng(seed)
    e = episodes.reset_index(drop=True).copy()
    n = len(e)
    count = {what: max(1, int(round(share * n))) for what, share in CORRECTED_SHARE.items()}
    taken = np.zeros(n, dtype=bool)

    def pick(candidates: np.ndarray, k: int) -> np.ndarray:
        rows = np.flatnonzero(candidates & ~taken)
        chosen = np.sort(rng.choice(rows, size=min(k, len(rows)), replace=False))
        taken[chosen] = True
        return chosen

    corrected = []
    grades = ["low", "medium", "high"]
    for i in pick(((e["category"] == "missing") & e["risk_initial"].isin(grades)).to_numpy(), count["risk_initial"]):
        before = e.at[i, "risk_initial"]
        after = str(rng.choice([g for g in grades if g != before]))
        e.at[i, "risk_initial"] = after
        corrected.append(
            {"episode_id": e.at[i, "episode_id"], "column": "risk_initial", "before": before, "after": after}
        )
    minutes = ((e["returned_at"] - e["reported_at"]).dt.total_seconds() / 60).to_numpy()
    for i in pick(np.nan_to_num(minutes) >= 20, count["returned_at"]):
        before = e.at[i, "returned_at"]
        after = e.at[i, "reported_at"] + pd.Timedelta(minutes=int(minutes[i] * rng.uniform(0.3, 0.8)))
        e.at[i, "returned_at"] = after
        corrected.append(
            {"episode_id": e.at[i, "episode_id"], "column": "returned_at", "before": _iso(before), "after": _iso(after)}
        )

    # Late episodes: a returned episode's record, a new child's, moved back within the year.
    donors = pick(
        e["returned_at"].notna().to_numpy() & (e["reported_at"].dt.day_of_year > 1).to_numpy(), count["added"]
    )
    late = e.iloc[donors].copy()
    prefix = e["episode_id"].str.rsplit("-", n=1).str[0]
    number = e["episode_id"].str.rsplit("-", n=1).str[1].astype(int)
    late["episode_id"] = [f"{prefix.iloc[0]}-{k:06d}" for k in range(number.max() + 1, number.max() + 1 + len(late))]
    known = set(e["person_id"])
    people = []
    while len(people) < len(late):
        person = "C" + f"{int(rng.integers(16**10)):x}".zfill(10)
        if person not in known:
            known.add(person)
            people.append(person)
    late["person_id"] = people
    back = pd.to_timedelta([int(rng.integers(1, day)) for day in late["reported_at"].dt.day_of_year], unit="D")
    for column in DATETIME_COLUMNS:
        late[column] = late[column] - back
    added = [
        {"episode_id": row.episode_id, "person_id": row.person_id, "reported_at": _iso(row.reported_at)}
        for row in late.itertuples()
    ]
    out = pd.concat([e, late], ignore_index=True)
    out = out.sort_values(["reported_at", "episode_id"], kind="stable").reset_index(drop=True)
    return out, {"corrected": corrected, "added": added}


def _check_folder(out_dir: Path) -> None:
    if out_dir.suffix.lower() in (".csv", ".parquet", ".xlsx", ".txt", ".pq") or (
        out_dir.exists() and not out_dir.is_dir()
    ):
        raise ToolkitError(f"{out_dir}: per-force exports are written into a folder, not a file: name a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ToolkitError(f"{out_dir} is not empty: per-force exports are written into a new or empty folder")


def _assign_dialects(rng: np.random.Generator, codes: list[str], dialects: str) -> dict[str, str]:
    """Each force's dialect: all the one named, or (``mixed``) every dialect dealt in turn over the forces, shuffled."""
    names = list(list_export_dialects())
    if dialects != "mixed":
        if dialects not in names:
            raise ToolkitError(f"unknown dialect {dialects!r}: give mixed or one of {', '.join(names)}")
        return dict.fromkeys(codes, dialects)
    order = rng.permutation(len(codes))
    return {codes[i]: names[k % len(names)] for k, i in enumerate(order)}


def write_force_exports(
    out_dir: str | Path,
    year: int,
    seed: int,
    years: int = 1,
    scale: float = 1.0,
    plan: list[PlantedEffect] | None = None,
    dialects: str = "mixed",
    defect_share: float = 0.01,
) -> Path:
    """Write every force's yearly exports, a resent correction and a force that never supplies, with a manifest.

    Parameters
    ----------
    out_dir : str or Path
        A new or empty folder: a file per force and year goes in ``<year>/``.
    year, seed, years, scale, plan
        As :func:`~toolkit.synthetic.generator.generate_extract` takes them.
    dialects : str, default "mixed"
        ``mixed``: the dialects of :func:`list_export_dialects` dealt out over the forces in an
        order drawn from the seed (each force keeps its dialect from year to year); or one
        dialect's name for every force.
    defect_share : float, default 0.01
        Rows of each file carrying an injected defect.

    Returns
    -------
    Path
        ``manifest.csv``; its ground truth is ``manifest.csv.truth.json`` beside it.

    Raises
    ------
    ToolkitError
        For an ``out_dir`` that is a file or a folder with something in it, an unknown dialect,
        or arguments the generator refuses.
    """
    out_dir = Path(out_dir)
    _check_folder(out_dir)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM]))
    codes = list(read_forces_table().index)
    dialect_of = _assign_dialects(rng, codes, dialects)
    episodes, truth = generate_extract(year, seed, years=years, scale=scale, plan=plan, yearly=True)
    planted = {p.force_code for p in plan or []}
    unplanted = [code for code in codes if code not in planted]  # neither loses nor changes a planted effect
    absent = str(rng.choice(unplanted))
    resent_year = year + int(rng.integers(years))
    # A force with enough episodes that year to have something to correct (at a small scale, the largest).
    sizes = episodes.loc[episodes["reported_at"].dt.year == resent_year, "force_code"].value_counts()
    sizes = sizes[[code for code in sizes.index if code in unplanted and code != absent]].sort_index()
    resender = str(rng.choice(list(sizes.index[sizes >= 20]))) if (sizes >= 20).any() else str(sizes.idxmax())
    paths = list_export_dialects()
    mappings = {name: read_mapping(paths[name]) for name in sorted(set(dialect_of.values()))}

    files, rows, by_year, correction = {}, [], {}, {}
    reported_year = episodes["reported_at"].dt.year.to_numpy()
    for y in range(year, year + years):
        extract_date = truth["extract_dates"][str(y)]
        of_year = episodes[reported_year == y]
        counts = of_year["force_code"].value_counts().sort_index().to_dict()
        by_year[str(y)] = {
            "extract_date": extract_date,
            "episodes": counts,
            # At a small scale a small force may have no episode in a year: no file, since an export needs one.
            "no_episodes": [code for code in codes if code not in counts and code != absent],
            "realised": truth["realised"][str(y)],
        }
        for code, force_episodes in of_year.groupby("force_code", sort=True):
            if code == absent:
                continue
            force = get_force(code)
            mapping = mappings[dialect_of[code]]
            file_type = _file_type(mapping)
            versions = [("export", f"{y}/{force.slug}{file_type}", extract_date, force_episodes)]
            if code == resender and y == resent_year:
                corrected, changes = correct_export(force_episodes, _draw_seed(seed, y, codes.index(code), 2))
                resent = date(y + 1, 4, 30).isoformat()  # put right in the spring after the yearly return
                versions.append(("correction", f"{y}/{force.slug}-resent{file_type}", resent, corrected))
                correction = {
                    "force_code": code,
                    "force": force.name,
                    "year": y,
                    "file": versions[1][1],
                    "replaces": versions[0][1],
                    "extract_date": resent,
                    "replaces_extract_date": extract_date,
                    "rows_corrected": len({c["episode_id"] for c in changes["corrected"]}),
                    "rows_added": len(changes["added"]),
                    **changes,
                }
            for kind, name, taken, frame in versions:
                export, defects = export_dialect(
                    frame,
                    mapping,
                    taken,
                    seed=_draw_seed(seed, y, codes.index(code), 0 if kind == "export" else 1),
                    defect_share=defect_share,
                )
                own = {
                    "generator": truth["generator"],
                    "year": y,
                    "years": 1,
                    "seed": seed,
                    "scale": scale,
                    "extract_date": taken,
                    "force_code": code,
                    "kind": kind,
                    "episodes": len(frame),
                    "dialect": {
                        "name": dialect_of[code],
                        "mapping": paths[dialect_of[code]].relative_to(PROJECT_ROOT).as_posix(),
                        "defect_share": defect_share,
                        "defects": defects.to_dict("records"),
                    },
                }
                path, _ = write_extract(export, own, out_dir / name)
                files[name] = own
                rows.append(
                    {
                        "file": name,
                        "force_code": code,
                        "force": force.name,
                        "year": y,
                        "period_from": f"{y}-01-01",
                        "period_to": f"{y}-12-31",
                        "dialect": dialect_of[code],
                        "mapping": own["dialect"]["mapping"],
                        "extract_date": taken,
                        "kind": kind,
                        "replaces": correction["replaces"] if kind == "correction" else "",
                        "rows": len(export),
                        "defects": len(defects),
                        "sha256": _sha256(path),
                    }
                )

    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    manifest = manifest.sort_values(["extract_date", "force_code", "file"])  # a correction after what it corrects
    manifest_path = out_dir / MANIFEST
    manifest.to_csv(manifest_path, index=False, lineterminator="\n")
    collection = {
        "generator": truth["generator"],
        "year": year,
        "years": years,
        "seed": seed,
        "scale": scale,
        "growth_per_year": truth["growth_per_year"],
        "dialects": dialects,
        "defect_share": defect_share,
        "manifest": MANIFEST,
        "files_in_manifest": len(manifest),
        "force_dialects": dialect_of,
        "never_supplied": {
            "force_code": absent,
            "force": get_force(absent).name,
            "years": list(range(year, year + years)),
        },
        "correction": correction,
        "files": files,
        "by_year": by_year,
        **{key: truth[key] for key in ("targets", "officer_sd", "force_risk_sd", "planted", "force_parameters")},
    }
    truth_path = manifest_path.with_name(MANIFEST + ".truth.json")
    truth_path.write_text(json.dumps(collection, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest_path
