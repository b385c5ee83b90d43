"""Load a force's export into the national store; read the store back as cleaning's tables.

:func:`load_export` cleans an export with the cleaning every run uses
(:func:`toolkit.ingest.clean.clean_export`: what it keeps, corrects and sets
aside is unchanged) and adds the outcome to the national store
(:class:`toolkit.store.NationalStore`) as one load, in one transaction:

- the load covers forces (default: every force with a row in the file) over a
  period of calendar months (default: the span of its clean episodes' months);
  each clean episode belongs to the month of its ``reported_at``, a row set
  aside to the month cleaning read in its ``reported_at`` (or, with no known
  force or such month in the period, to the load as a whole), a corrected value
  or merged duplicate to the month of its row;
- a file already loaded (the same SHA-256) loads nothing;
- for each (force, month) it covers, the load supersedes the earlier loads:
  nothing is deleted, and a read as at an earlier moment still sees them.

:func:`read_cleaned` is how a run reads the store: the clean episodes,
quarantine, change log, translations and merged duplicates of a period as at a
moment, as a :class:`toolkit.ingest.clean.CleanResult` in the very types
cleaning produces, with the loads read.

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> header = "force_code,episode_id,person_id,reported_at,age,category,risk_initial\\n"
>>> _ = (folder / "first.csv").write_text(header + "E23000014,a,p,2024-03-05T21:40:00,15,missing,low\\n"
...     "E23000014,b,q,2024-04-01T08:00:00,14,absent,no_apparent_risk\\n")
>>> store = folder / "store.duckdb"
>>> first = load_export(folder / "first.csv", "2025-01-31", store=store)
>>> first.added, first.load["rows_clean"], str(first.period)
(True, 2, '2024-03..2024-04')
>>> load_export(folder / "first.csv", "2025-01-31", store=store).added  # the same file again: nothing loaded
False
>>> _ = (folder / "april.csv").write_text(header + "E23000014,c,q,2024-04-02T09:00:00,14,missing,high\\n")
>>> second = load_export(folder / "april.csv", "2025-01-31", store=store, period="2024-04")
>>> second.superseded.astype(str).values.tolist()  # April of West Midlands was load 1's
[['E23000014', '2024-04-01', '1']]
>>> read_cleaned(store).result.clean["episode_id"].tolist()
['a', 'c']
>>> read_cleaned(store, as_at=first.load["loaded_at"]).result.clean["episode_id"].tolist()
['a', 'b']
"""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit
from toolkit.config import PROJECT_ROOT
from toolkit.dates import ExtractDate
from toolkit.errors import ToolkitError
from toolkit.forces import find_force, get_force
from toolkit.ingest.clean import (
    CleanResult,
    _Ledger,
    blank_null_markers,
    clean_export,
    map_columns,
    parse_dates,
    trim_whitespace,
)
from toolkit.ingest.extract import read_extract_text
from toolkit.ingest.mapping import CANONICAL, Mapping, read_mapping
from toolkit.ingest.provenance import read_provenance
from toolkit.ingest.schema import CODES, COLUMNS, DATETIME_COLUMNS
from toolkit.store import (
    DEFAULT_STORE,
    WAIT_SECONDS,
    NationalStore,
    Period,
    describe_months,
    file_sha256,
)

__all__ = [
    "CLEAN_COLUMNS",
    "MANIFEST_COLUMNS",
    "LoadOutcome",
    "StoredCleaning",
    "load_export",
    "load_manifest",
    "read_cleaned",
    "read_manifest",
    "store_cleaned",
]


def _store_type(name: str, required: bool) -> str:
    kind = "TIMESTAMP" if name in DATETIME_COLUMNS else "TINYINT" if name == "age" else "VARCHAR"
    return f"{kind} NOT NULL" if required else kind


# The clean table as the store keeps it: cleaning's columns, the contract's typed from the contract itself
# (dates as timestamps, the age as a small integer, codes and ids as text; required columns never blank).
CLEAN_COLUMNS = {
    "source_row": "BIGINT NOT NULL",
    **{name: _store_type(name, required) for name, required in COLUMNS.items()},
    "duration_hours": "DOUBLE",
}
_EXPORT = "export: "  # how the quarantine names the export's own columns (toolkit.ingest.clean)


@dataclass(frozen=True)
class LoadOutcome:
    """What :func:`load_export` did.

    Attributes
    ----------
    store : pathlib.Path
    load : dict
        The load log's row (:data:`toolkit.store.TABLES` ``loads``): the new load's, or, when the file
        was loaded before, that earlier load's.
    added : bool
        Whether this call loaded the file.
    period : Period
        The months the load covers.
    counts : dict or None
        The cleaning's counts (:meth:`CleanResult.counts`); ``None`` when nothing was loaded.
    superseded : pandas.DataFrame
        ``force_code``, ``month``, ``load_id``: each (force, month) this load took over, and the load read
        there before it.
    """

    store: Path
    load: dict
    added: bool
    period: Period
    counts: dict | None
    superseded: pd.DataFrame


@dataclass(frozen=True)
class StoredCleaning:
    """The store read for a period as at a moment (:func:`read_cleaned`).

    Attributes
    ----------
    result : CleanResult
        What cleaning would give for those rows, in its types. With one load read, its tables are that
        file's cleaning exactly; with several, ``source_row`` numbers the rows as if the loads' files were
        one file, in load order (each load's ``row_offset`` is added), so no two rows share a number.
    loads : pandas.DataFrame
        The load log's rows of the loads read, with ``row_offset``.
    cells : pandas.DataFrame
        ``force_code``, ``month``, ``load_id``: every (force, month) read, and the load it was read from.
    period : Period or None
        None for an empty store.
    as_at : datetime
        UTC.
    store : pathlib.Path
    """

    result: CleanResult
    loads: pd.DataFrame
    cells: pd.DataFrame
    period: Period | None
    as_at: datetime
    store: Path


def _month_starts(stamps: pd.Series) -> pd.Series:
    """The first moment of each timestamp's month (NaT stays NaT): the month an episode belongs to."""
    values = stamps.to_numpy(dtype="datetime64[s]").astype("datetime64[M]").astype("datetime64[s]")
    return pd.Series(values, index=stamps.index)


def _report_months(quarantine: pd.DataFrame, mapping: Mapping) -> pd.Series:
    """The month of each quarantined row's ``reported_at`` as cleaning read it; NaT where it could not be read.

    The quarantine keeps the export's own values; the same steps of the cleaning read the date from them
    again (with a ledger of their own, thrown away), so a row set aside is placed by the date cleaning saw.
    """
    if quarantine.empty:
        return pd.Series(np.array([], dtype="datetime64[s]"), index=quarantine.index)
    exported = quarantine[[c for c in quarantine.columns if c.startswith(_EXPORT)]].reset_index(drop=True)
    exported.columns = [c[len(_EXPORT) :] for c in exported.columns]
    ledger = _Ledger()
    frame = trim_whitespace(map_columns(exported, mapping), ledger)
    frame = parse_dates(blank_null_markers(frame, ledger, mapping), ledger, mapping)
    months = _month_starts(frame["reported_at"])
    months.index = quarantine.index
    return months


def _rows_for_store(
    result: CleanResult, mapping: Mapping, forces: list[str], period: Period
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Cleaning's tables as the store's rows (:data:`toolkit.store.LOAD_ROWS`), each placed in its (force, month).

    Returns the rows by table and the export's columns, in order.
    """
    first, last = pd.Timestamp(period.first), pd.Timestamp(period.last)
    clean = result.clean
    months = _month_starts(clean["reported_at"])
    quarantine = result.quarantine
    reported = _report_months(quarantine, mapping)
    placed = quarantine["force_code"].isin(forces).to_numpy() & reported.between(first, last).to_numpy()
    exported = [c for c in quarantine.columns if c.startswith(_EXPORT)]
    names = [c[len(_EXPORT) :] for c in exported]

    # The (force, month) of every row of the export, by its source row: a merged duplicate's is that of the row kept.
    cell = pd.concat(
        [
            pd.DataFrame({"force_code": clean["force_code"].astype(object), "month": months}).set_axis(
                clean["source_row"]
            ),
            pd.DataFrame(
                {
                    "force_code": quarantine["force_code"].astype(object).where(placed),
                    "month": reported.where(placed),
                }
            ).set_axis(quarantine["source_row"]),
        ]
    )
    merged = result.merged
    kept = cell.reindex(merged["kept_row"].astype("int64")).set_axis(merged["source_row"].astype("int64"))
    cell = pd.concat([cell, kept])

    def placed_in(source_rows: pd.Series) -> pd.DataFrame:
        found = cell.reindex(source_rows.astype("int64"))
        return pd.DataFrame(
            {"force_code": found["force_code"].astype("str").to_numpy(), "month": found["month"].to_numpy()}
        )

    def position(frame: pd.DataFrame) -> np.ndarray:
        return np.arange(len(frame), dtype="int64")

    def text(values: pd.Series) -> np.ndarray:
        return values.astype("str").to_numpy()  # as the log's CSV writes it: a date as 2024-03-05 21:40:00

    changes, translations = result.changes, result.translations
    return {
        "episodes": clean.assign(month=months),
        "quarantine": pd.DataFrame(
            {
                "month": reported.where(placed).to_numpy(),
                "source_row": quarantine["source_row"].astype("int64").to_numpy(),
                "reason_code": text(quarantine["reason_code"]),
                "reason": text(quarantine["reason"]),
                "all_reasons": text(quarantine["all_reasons"]),
                "force_code": text(quarantine["force_code"]),
                "export_values": [
                    json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False)
                    for values in quarantine[exported].itertuples(index=False, name=None)
                ],
            }
        ),
        "changes": pd.DataFrame(
            {
                "position": position(changes),
                **placed_in(changes["source_row"]),
                "source_row": changes["source_row"].astype("int64").to_numpy(),
                "column": text(changes["column"]),
                "before": text(changes["before"]),
                "after": text(changes["after"]),
                "rule": text(changes["rule"]),
            }
        ),
        "translations": pd.DataFrame(
            {
                "position": position(translations),
                "column": text(translations["column"]),
                "before": text(translations["before"]),
                "after": text(translations["after"]),
                "count": translations["count"].astype("int64").to_numpy(),
                "rule": text(translations["rule"]),
            }
        ),
        "merged": pd.DataFrame(
            {
                "position": position(merged),
                **placed_in(merged["source_row"]),
                "source_row": merged["source_row"].astype("int64").to_numpy(),
                "kept_row": merged["kept_row"].astype("int64").to_numpy(),
            }
        ),
    }, names


def _covered_forces(result: CleanResult, requested: list[str] | None, export: Path) -> list[str]:
    """The forces the load covers: those given, which must include every force the file has rows of."""
    covered = result.covered_forces()
    if requested is None:
        return covered
    others = sorted(set(covered) - set(requested))
    if others:
        named = ", ".join(f"{code} ({get_force(code).name})" for code in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        raise ToolkitError(
            f"{export} holds rows of {len(others)} force(s) that --force does not name ({named}{more}): "
            "name every force the file holds, or none"
        )
    return sorted(set(requested))


def _find_earlier_load(store: Path, sha256: str, wait: float) -> LoadOutcome | None:
    """The outcome "nothing loaded" when the store already holds the file with this SHA-256, else ``None``."""
    if not store.is_file():
        return None
    with NationalStore.open(store, wait=wait) as national:
        earlier = national.find_load(sha256)
    if earlier is None:
        return None
    covered = Period(earlier["period_from"], earlier["period_to"])
    return LoadOutcome(store, earlier, False, covered, None, pd.DataFrame())


def _clean_file(export: Path, extract: ExtractDate, mapping: Path, sheet: str | int = 0) -> CleanResult:
    """Read and clean one export, as :func:`load_export` does (a function of its own, so a worker can run it)."""
    return clean_export(read_extract_text(export, sheet=sheet), read_mapping(mapping), extract)


def _clean_in_order(jobs: list[tuple], workers: int) -> Iterator[CleanResult]:
    """Each job's cleaned export, in the jobs' order; ``workers`` processes clean ahead of the one reading.

    At most two files per worker wait cleaned, so memory stays that of a few exports however long the
    manifest. A worker's error is raised when its file's turn comes, so the files before it are loaded first.
    """
    if workers <= 1:
        yield from (_clean_file(*job) for job in jobs)
        return
    # spawn, not fork: the parent has imported DuckDB, whose threads a forked child would inherit half-made.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending: deque[Future] = deque()
        for job in jobs:
            pending.append(pool.submit(_clean_file, *job))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


def load_export(
    export: str | Path,
    extract_date: ExtractDate | date | str,
    *,
    store: str | Path | None = None,
    mapping: str | Path | None = None,
    forces: list[str] | None = None,
    period: Period | str | None = None,
    sheet: str | int = 0,
    wait: float = WAIT_SECONDS,
    loaded_at: datetime | None = None,
) -> LoadOutcome:
    """Clean a force's export and add it to the national store as one load, whole or not at all.

    Parameters
    ----------
    export : path-like
        The export: ``.csv``, ``.parquet`` or ``.xlsx``.
    extract_date : date or str
        When the data were taken.
    store : path-like, optional
        The store (default :data:`toolkit.store.DEFAULT_STORE`); made if it does not exist.
    mapping : path-like, optional
        The export's dialect (default: the canonical contract).
    forces : list of str, optional
        The forces the load covers (codes, slugs or names): default, every force with a row in the file.
        A force given with no row in the file is covered with no episodes.
    period : Period or str, optional
        The months it covers (``FROM..TO``): default, the span of its clean episodes' months.
    sheet : str or int
        For Excel, the sheet to read.
    wait : float
        Seconds to wait for another process to finish with the store.
    loaded_at : datetime, optional
        The load's time (UTC), for rebuilding a store in order; default now. Later than the last load's.

    Returns
    -------
    LoadOutcome

    Raises
    ------
    ToolkitError
        The file, mapping, period or a force is not usable; no row of the file is usable; a clean
        episode lies outside the period; the file has rows of a force ``forces`` does not name; the store
        is in use; or the rows do not add up. Nothing is loaded then.
    """
    export = Path(export)
    extract = ExtractDate.parse(extract_date)
    rules = read_mapping(mapping or CANONICAL)
    wanted = Period.parse(period) if isinstance(period, str) else period
    requested = [find_force(force).code for force in forces] if forces else None
    store = Path(store or DEFAULT_STORE)
    sha256 = file_sha256(export)
    earlier = _find_earlier_load(store, sha256, wait)
    if earlier is not None:
        return earlier
    result = clean_export(read_extract_text(export, sheet=sheet), rules, extract)
    return store_cleaned(
        result, export, extract, store=store, mapping=rules, forces=requested, period=wanted, wait=wait,
        loaded_at=loaded_at, sha256=sha256,
    )  # fmt: skip


def store_cleaned(
    result: CleanResult,
    export: str | Path,
    extract_date: ExtractDate | date | str,
    *,
    store: str | Path | None = None,
    mapping: Mapping | str | Path | None = None,
    forces: list[str] | None = None,
    period: Period | str | None = None,
    wait: float = WAIT_SECONDS,
    loaded_at: datetime | None = None,
    sha256: str | None = None,
) -> LoadOutcome:
    """Add an export already cleaned (``result``, by :func:`toolkit.ingest.clean.clean_export`) as one load.

    :func:`load_export` cleans, then calls this; a run given a file (``toolkit run --input``) validates
    and cleans it as it always has, then calls this to put it in its temporary store. The parameters
    are :func:`load_export`'s; ``sha256`` is the file's, when the caller has it already.
    """
    export = Path(export)
    extract = ExtractDate.parse(extract_date)
    rules = mapping if isinstance(mapping, Mapping) else read_mapping(mapping or CANONICAL)
    wanted = Period.parse(period) if isinstance(period, str) else period
    requested = [find_force(force).code for force in forces] if forces else None
    store = Path(store or DEFAULT_STORE)
    sha256 = sha256 or file_sha256(export)
    if result.clean.empty:
        raise ToolkitError(
            f"{export}: no usable episodes: all {result.rows_in:,} rows were quarantined or merged; nothing was "
            "loaded (check the mapping with `python -m toolkit clean`)"
        )
    codes = _covered_forces(result, requested, export)
    months = _month_starts(result.clean["reported_at"])
    covered = wanted or Period.spanning(months.unique())
    outside = ~months.between(pd.Timestamp(covered.first), pd.Timestamp(covered.last))
    if outside.any():
        raise ToolkitError(
            f"{export}: {int(outside.sum()):,} clean episode(s) were reported outside the period {covered} "
            f"(in {describe_months(months[outside].unique())}); give a period that holds them all, or none"
        )
    rows, export_columns = _rows_for_store(result, rules, codes, covered)
    cells = pd.MultiIndex.from_product([codes, covered.months()], names=["force_code", "month"]).to_frame(index=False)
    counts = result.counts()
    record = {
        "file": str(export),
        "sha256": sha256,
        "mapping": rules.name,
        "mapping_sha256": file_sha256(rules.path),
        "extract_date": extract.day,
        "forces": ";".join(codes),
        "period_from": covered.first,
        "period_to": covered.last,
        "rows_in": counts["rows_in"],
        "rows_clean": counts["rows_clean"],
        "rows_quarantined": counts["rows_quarantined"],
        "rows_merged": counts["rows_merged"],
        "export_columns": json.dumps(export_columns, ensure_ascii=False),
        "toolkit_version": toolkit.__version__,
        # What the file says of itself (the generator marks its extracts synthetic), kept with the load so that
        # a run from the store can say what the data are.
        "provenance": json.dumps(read_provenance(export), ensure_ascii=False, sort_keys=True),
    }
    with NationalStore.open(store, write=True, clean_columns=CLEAN_COLUMNS, wait=wait) as national:
        load, added = national.add_load(record, cells, rows, loaded_at)
        superseded = national.superseded_by(load["load_id"]) if added else pd.DataFrame()
    return LoadOutcome(store, load, added, covered, counts if added else None, superseded)


def _as_clean_table(stored: pd.DataFrame) -> pd.DataFrame:
    """Stored episodes in cleaning's types: those :func:`toolkit.ingest.extract.to_episodes` gives, column by column.

    (The tests hold a read of the store equal to cleaning's own table, so the two cannot drift apart.)
    """
    out = {"source_row": stored["source_row"].astype("int64")}
    for name in COLUMNS:
        # A store not written to since the contract gained optional columns lacks them (NationalStore adds them
        # when it is next opened to write): its episodes did not give them.
        values = stored[name] if name in stored.columns else pd.Series(pd.NA, index=stored.index, dtype="string")
        if name in DATETIME_COLUMNS:
            out[name] = values.astype("datetime64[s]")
        elif name == "age":
            out[name] = values.astype("Int8")
        elif name in CODES:
            # Each of the few distinct codes is looked up once (a lookup per value takes ten times longer).
            found, distinct = pd.factorize(values)
            lookup = np.append(pd.Index(CODES[name]).get_indexer(distinct), -1)  # a blank (-1) stays blank
            out[name] = pd.Categorical.from_codes(lookup[found], categories=list(CODES[name]))
        else:
            out[name] = values.astype("string")
    out["duration_hours"] = stored["duration_hours"].astype("float64")
    return pd.DataFrame(out).reset_index(drop=True)


def _as_quarantine(stored: pd.DataFrame, export_columns: list[str]) -> pd.DataFrame:
    """Stored quarantine rows as cleaning's quarantine: its columns, then the export's own values by column."""
    values = pd.DataFrame(
        [json.loads(text) for text in stored["export_values"]], columns=export_columns, index=stored.index
    )
    frame = pd.concat(
        [stored[["source_row", "reason_code", "reason", "all_reasons", "force_code"]], values.add_prefix(_EXPORT)],
        axis=1,
    )
    return frame.astype({c: "str" for c in frame.columns if c != "source_row"}).reset_index(drop=True)


def read_cleaned(
    store: str | Path | None = None,
    period: Period | str | None = None,
    as_at: str | datetime | None = None,
    wait: float = WAIT_SECONDS,
) -> StoredCleaning:
    """Read the store for a period as at a moment, as cleaning's tables: the one way a run reads the store.

    For every (force, month) of the period, the rows of its effective load as at ``as_at`` (the latest
    load made by then that covers it), and the rows of those loads that belong to no force or month.

    Parameters
    ----------
    store : path-like, optional
        Default :data:`toolkit.store.DEFAULT_STORE`.
    period : Period or str, optional
        ``FROM..TO``; default, every month any load covers.
    as_at : str or datetime, optional
        An ISO 8601 date (its end) or date and time (UTC unless it names its offset); default now.
    wait : float
        Seconds to wait for a load in progress to finish.

    Returns
    -------
    StoredCleaning
        ``result`` is a :class:`CleanResult`: ``clean`` in the contract's types exactly as cleaning makes
        it, and the quarantine, change log, translations and merged duplicates with cleaning's columns.
    """
    with NationalStore.open(store, wait=wait) as national:
        stored = national.read(Period.parse(period) if isinstance(period, str) else period, as_at)
    loads = stored.loads.copy()
    loads["row_offset"] = loads["rows_in"].cumsum().shift(fill_value=0).astype("int64")
    offsets = dict(zip(loads["load_id"], loads["row_offset"], strict=True))

    def renumbered(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
        frame = frame.copy()
        shift = frame["load_id"].map(offsets).astype("int64")
        for column in columns:
            frame[column] = frame[column].astype("int64") + shift
        return frame

    export_columns = list(dict.fromkeys(c for text in loads["export_columns"] for c in json.loads(text)))
    quarantine = _as_quarantine(renumbered(stored.quarantine, "source_row"), export_columns)
    changes = renumbered(stored.changes, "source_row")[["source_row", "column", "before", "after", "rule"]]
    translations = stored.translations[["column", "before", "after", "count", "rule"]]
    merged = renumbered(stored.merged, "source_row", "kept_row")[["source_row", "kept_row"]]
    clean = _as_clean_table(renumbered(stored.episodes, "source_row"))
    texts = {"column": "str", "before": "str", "after": "str", "rule": "str"}
    result = CleanResult(
        clean=clean,
        quarantine=quarantine,
        changes=changes.astype(texts).reset_index(drop=True),
        translations=translations.astype({**texts, "count": "int64"}).reset_index(drop=True),
        merged=merged.astype("int64").reset_index(drop=True),
        rows_in=len(clean) + len(quarantine) + len(merged),
        mapping=" + ".join(dict.fromkeys(loads["mapping"])),
    )
    return StoredCleaning(result, loads, stored.cells, stored.period, stored.as_at, national.path)


MANIFEST_COLUMNS = ("file", "force_code", "period_from", "period_to", "mapping", "extract_date")


def read_manifest(manifest: str | Path) -> pd.DataFrame:
    """The files a manifest lists, checked: each inside the manifest's folder, with a mapping, forces and period.

    A manifest (``manifest.csv``, as ``toolkit synth --per-force`` writes one, or as an inspectorate keeps for
    the exports it receives) has a row per file in the order to load them, with the columns of
    :data:`MANIFEST_COLUMNS`: ``file`` relative to the manifest's folder, ``mapping`` relative to the
    repository (or absolute), ``period_from`` and ``period_to`` any day of the first and last months.

    Raises
    ------
    ToolkitError
        The manifest cannot be read, lacks a column, or a row names a file outside its folder or a month or
        date that cannot be read; the message names the row.
    """
    manifest = Path(manifest)
    try:
        rows = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ToolkitError(f"{manifest}: cannot read the manifest ({error})") from None
    lacking = [c for c in MANIFEST_COLUMNS if c not in rows.columns]
    if lacking:
        raise ToolkitError(f"{manifest}: the manifest has no column {', '.join(lacking)}")
    folder = manifest.resolve().parent
    checked = []
    for number, row in enumerate(rows.itertuples(index=False), start=2):  # line 1 is the header
        where = f"{manifest}, line {number}"
        path = (folder / row.file).resolve()
        if folder not in path.parents:  # a value read from a file is untrusted: it may not point elsewhere
            raise ToolkitError(f"{where}: file {row.file!r} is outside the manifest's folder")
        mapping = Path(row.mapping)
        mapping = mapping if mapping.is_absolute() else PROJECT_ROOT / mapping
        try:
            first, last = (pd.Timestamp(row.period_from), pd.Timestamp(row.period_to))
            extract = ExtractDate.parse(row.extract_date)
        except (ValueError, ToolkitError) as error:
            raise ToolkitError(f"{where}: {error}") from None
        period = f"{first:%Y-%m}..{last:%Y-%m}"
        checked.append((path, mapping, row.force_code, period, extract))
    return pd.DataFrame(checked, columns=["path", "mapping", "force_code", "period", "extract_date"])


def load_manifest(
    manifest: str | Path,
    *,
    store: str | Path | None = None,
    wait: float = WAIT_SECONDS,
    progress=None,
    workers: int = 1,
) -> list[LoadOutcome]:
    """Load every file a manifest lists, in its order, each as its own load (what :func:`load_export` does).

    A file loaded before loads nothing, so a manifest may be loaded again after a failure, or after
    rows are added to it. ``progress`` is called with each outcome as it is made. Cleaning is most of a
    load and needs no store, so ``workers`` processes clean the files ahead; the loads still go into the
    store one at a time, in the manifest's order, and the store ends the same whatever ``workers`` is.

    Raises
    ------
    ToolkitError
        The manifest is not usable (:func:`read_manifest`), or a file cannot be loaded: the loads before it
        stay, and the message names the file.
    """
    rows = read_manifest(manifest)
    store = Path(store or DEFAULT_STORE)
    hashes = [file_sha256(path) for path in rows["path"]]
    known = _loaded_hashes(store, wait)
    to_clean = [
        (row.path, row.extract_date, row.mapping)
        for row, sha256 in zip(rows.itertuples(index=False), hashes, strict=True)
        if sha256 not in known
    ]
    cleaned = _clean_in_order(to_clean, workers)
    added: set[str] = set()  # files loaded by this manifest so far
    outcomes = []
    try:
        for row, sha256 in zip(rows.itertuples(index=False), hashes, strict=True):
            try:
                outcome = _find_earlier_load(store, sha256, wait) if sha256 in known else None
                if outcome is None:
                    result = next(cleaned)
                    # A file listed twice is cleaned twice, but loaded once: its second turn finds the first load.
                    outcome = _find_earlier_load(store, sha256, wait) if sha256 in added else None
                    outcome = outcome or store_cleaned(
                        result, row.path, row.extract_date, store=store, mapping=row.mapping,
                        forces=[row.force_code], period=row.period, wait=wait, sha256=sha256,
                    )  # fmt: skip
                    added.add(sha256)
            except ToolkitError as error:
                done = sum(o.added for o in outcomes)
                # Cleaning's messages about a mapping do not say which file they were cleaning.
                where = "" if str(row.path) in str(error) else f"{row.path}: "
                raise ToolkitError(
                    f"{where}{error} ({done} file(s) of {manifest} loaded before it stay loaded)"
                ) from None
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    finally:
        cleaned.close()  # stops the workers when a load fails
    return outcomes


def _loaded_hashes(store: Path, wait: float) -> set[str]:
    """The SHA-256 of every file the store holds a load of (none when there is no store yet)."""
    if not store.is_file():
        return set()
    with NationalStore.open(store, wait=wait) as national:
        return national.loaded_hashes()
