"""Command line: ``python -m toolkit COMMAND`` (or ``toolkit COMMAND``).

Commands: ``forces``, ``thresholds``, ``validate``, ``clean``, ``pseudonymise``, ``synth``, ``run``, and the national
store's ``load``, ``status`` and ``export``; ``--help`` on each says more. A
problem with the input ends with one clear message on standard error and a
non-zero exit, never a traceback: 1 for a problem with the input or a failed
force, 2 for a command line that does not parse, 3 for a fault in the toolkit
itself (set ``TOOLKIT_DEBUG=1`` to see its traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.config import DATA_DIR
from toolkit.errors import ToolkitError, ValidationError

if TYPE_CHECKING:
    from toolkit.dates import ExtractDate

EXIT_PROBLEM = 1
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # the shell's status for a process ended by Ctrl-C

logger = logging.getLogger("toolkit")


def _date(text: str) -> ExtractDate:
    # A date that does not parse is refused before toolkit.dates (and pandas under it) is imported: a command
    # line's mistakes are told at once. ExtractDate.parse reads the same ISO form.
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None
    from toolkit.dates import ExtractDate

    try:
        return ExtractDate.parse(text)
    except ToolkitError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _say(text: str = "", stream=None) -> None:
    (stream or sys.stdout).write(text + "\n")


def _forces(args: argparse.Namespace) -> int:
    from toolkit.forces import list_forces

    for force in list_forces():
        _say(f"{force.code}  {force.slug:<20}  {force.official_name}  ({force.children:,} children)")
    return 0


def _thresholds(args: argparse.Namespace) -> int:
    from toolkit.findings import list_thresholds

    _say("# Findings thresholds: copy the lines to change into a YAML file for `run --thresholds FILE`.")
    for row in list_thresholds():
        _say(f"{row['name']}: {row['default']:g}  # {row['means']} (rules: {', '.join(row['rules'])})")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from toolkit.ingest.extract import format_problems, read_extract_text, validate_extract

    raw = read_extract_text(args.file, sheet=args.sheet)
    problems = validate_extract(raw, args.extract_date)
    if problems.empty:
        _say(f"{args.file}: {len(raw):,} episodes meet the extract contract")
        return 0
    rows = problems["row"].dropna().nunique()
    _say(
        f"{args.file}: {len(problems):,} problem(s) in {rows:,} of {len(raw):,} row(s); "
        "rows are numbered as in a spreadsheet (header is row 1)"
    )
    _say(format_problems(problems, limit=args.limit))
    if args.problems_out:
        from toolkit.store import write_csv_for_people

        write_csv_for_people(Path(args.problems_out), problems)
        _say(f"every problem written to {args.problems_out}")
    return EXIT_PROBLEM


def _clean(args: argparse.Namespace) -> int:
    from toolkit.ingest.clean import clean_export, write_cleaning_outputs
    from toolkit.ingest.extract import read_extract_text
    from toolkit.ingest.mapping import CANONICAL, read_mapping

    mapping = read_mapping(args.mapping or CANONICAL)
    raw = read_extract_text(args.file, sheet=args.sheet)
    result = clean_export(raw, mapping, args.extract_date)
    paths = write_cleaning_outputs(result, args.out)
    _say_cleaning(f"{args.file} ({mapping.name}): ", result.counts())
    _say(f"clean table: {paths['episodes']}; quarantine: {paths['quarantine']}; change log: {paths['changes']}")
    if result.clean.empty:
        _say("error: no usable episodes: every row was quarantined or merged; check the mapping", sys.stderr)
        return EXIT_PROBLEM
    return 0


def _pseudonymise(args: argparse.Namespace) -> int:
    from toolkit.ingest.pseudonymise import pseudonymise_extract

    counts = pseudonymise_extract(args.file, args.key_file, args.out)
    _say(
        f"{args.file}: {counts['rows']:,} rows pseudonymised to {args.out}; dates of birth: "
        f"{counts['dob_present']:,} tokened, {counts['dob_invalid']:,} not a real ISO date (left blank); NHS numbers: "
        f"{counts['nhs_number_present']:,} tokened, {counts['nhs_number_invalid']:,} not valid (left blank); "
        f"blank names: {counts['forename_blank']:,} forenames, {counts['surname_blank']:,} surnames"
    )
    _say(f"  columns not written: {', '.join(counts['dropped']) or 'none'}")
    return 0


def _say_cleaning(opening: str, counts: dict, closing: str = "") -> None:
    """What cleaning did with an export's rows (:meth:`CleanResult.counts`), as `clean` and `load` both say it."""
    _say(
        f"{opening}{counts['rows_in']:,} rows in: {counts['rows_clean']:,} clean, "
        f"{counts['rows_quarantined']:,} quarantined, {counts['rows_merged']:,} exact duplicates merged{closing}"
    )
    for reason, rows in counts["quarantined_by_reason"].items():
        _say(f"  quarantined {reason}: {rows:,}")
    for rule, values in counts["corrections_by_rule"].items():
        _say(f"  corrected {rule}: {values:,} value(s)")


def _store_moment(args: argparse.Namespace):
    """The ``--period`` and ``--as-at`` of a store command, parsed before the store is opened."""
    from toolkit.store import Period, parse_as_at

    period = Period.parse(args.period) if args.period else None
    as_at = parse_as_at(args.as_at) if getattr(args, "as_at", None) else None
    return period, as_at


def _load_manifest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from toolkit.ingest.load import load_manifest, read_manifest

    files = len(read_manifest(args.manifest))  # checked whole before the first load
    with tqdm(total=files, unit="file", desc="loading", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        outcomes = load_manifest(
            args.manifest, store=args.store, wait=args.wait, progress=lambda _: bar.update(), workers=args.workers
        )
    added = [o for o in outcomes if o.added]
    rows = sum(o.counts["rows_in"] for o in added)
    quarantined = sum(o.counts["rows_quarantined"] for o in added)
    superseded = sum(len(o.superseded) for o in added)
    _say(
        f"{args.manifest}: {len(added)} of {files} file(s) loaded into {args.store} ({rows:,} rows in, "
        f"{quarantined:,} quarantined; {superseded} force-month(s) superseded by a later file); "
        f"{files - len(added)} already loaded; `python -m toolkit status` shows what the store holds"
    )
    return 0


def _load(args: argparse.Namespace) -> int:
    from toolkit.forces import get_force
    from toolkit.ingest.load import load_export
    from toolkit.store import describe_months, format_moment

    period, _ = _store_moment(args)
    outcome = load_export(
        args.file,
        args.extract_date,
        store=args.store,
        mapping=args.mapping,
        forces=args.force,
        period=period,
        sheet=args.sheet,
        wait=args.wait,
    )
    load = outcome.load
    if not outcome.added:
        _say(
            f"{args.file}: already loaded as load {load['load_id']} on {format_moment(load['loaded_at'])} "
            f"(from {load['file']}, the same SHA-256); nothing loaded"
        )
        return 0
    forces = load["forces"].split(";")
    _say_cleaning(
        f"{args.file} ({load['mapping']}): loaded as load {load['load_id']} into {outcome.store}: ",
        outcome.counts,
        f"; {len(forces)} force(s), {outcome.period}",
    )
    superseded = outcome.superseded
    if len(superseded):
        by_force = superseded.groupby(["load_id", "force_code"])["month"].agg(describe_months).reset_index()
        for (earlier, months), group in by_force.groupby(["load_id", "month"], sort=True):
            codes = list(group["force_code"])
            named = (
                ", ".join(f"{c} ({get_force(c).name})" for c in codes) if len(codes) <= 3 else f"{len(codes)} forces"
            )
            _say(f"  supersedes load {earlier} for {named} in {months}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from toolkit.store import NationalStore, format_status

    period, as_at = _store_moment(args)
    with NationalStore.open(args.store, wait=args.wait) as store:
        loads = store.read_loads()
        status = store.status(period, as_at)
        _say(format_status(status, store.path, loads, as_at))
    return 0


def _export(args: argparse.Namespace) -> int:
    from toolkit.store import NationalStore

    period, as_at = _store_moment(args)
    with NationalStore.open(args.store, wait=args.wait) as store:
        written = store.export(args.out, period, as_at)
    _say(
        f"wrote {written['rows']:,} clean episodes of {len(written['loads'])} load(s), {written['period']} as at "
        f"{written['as_at']}, to {args.out} as Parquet partitioned by force and year "
        f"({len(written['partitions'])} partitions; what was written: {args.out / '_export.json'})"
    )
    return 0


def _synth(args: argparse.Namespace) -> int:
    if args.per_force:
        return _synth_per_force(args)
    if args.dialects:
        raise ToolkitError("--dialects is for --per-force; a single extract takes --dialect NAME")
    from toolkit.ingest.provenance import provenance_path
    from toolkit.synthetic.generator import generate_extract, read_plan, write_extract

    plan = read_plan(args.plant) if args.plant else None
    episodes, truth = generate_extract(
        year=args.year,
        seed=args.seed,
        years=args.years,
        scale=args.scale,
        plan=plan,
        extract_date=args.extract_date,
    )
    if args.dialect:
        from toolkit.ingest.mapping import list_dialects, read_mapping
        from toolkit.synthetic.exports import export_dialect

        dialects = list_dialects()
        if args.dialect not in dialects:
            raise ToolkitError(f"unknown dialect {args.dialect!r}: data/mappings/ has {', '.join(dialects)}")
        mapping = read_mapping(dialects[args.dialect])
        episodes, defects = export_dialect(
            episodes, mapping, truth["extract_date"], seed=args.seed, defect_share=args.defects
        )
        truth["dialect"] = {
            "name": args.dialect,
            "mapping": str(dialects[args.dialect].name),
            "defect_share": args.defects,
            "defects": defects.to_dict("records"),
        }
    out, truth_path = write_extract(episodes, truth, args.out)
    _say(
        f"wrote {len(episodes):,} synthetic episodes to {out} (extract date {truth['extract_date']}); "
        f"ground truth in {truth_path}; provenance (synthetic) in {provenance_path(out)}"
    )
    return 0


def _synth_per_force(args: argparse.Namespace) -> int:
    """``synth --per-force``: every force's yearly exports in a folder, with a manifest."""
    import json

    from toolkit.synthetic.generator import read_plan
    from toolkit.synthetic.per_force import write_force_exports

    if args.dialect:
        raise ToolkitError("--per-force takes --dialects (mixed, or one dialect for every force), not --dialect")
    if args.extract_date:
        raise ToolkitError("--per-force takes no --extract-date: each year's export is taken on 31 January after it")
    plan = read_plan(args.plant) if args.plant else None
    manifest = write_force_exports(
        args.out,
        year=args.year,
        seed=args.seed,
        years=args.years,
        scale=args.scale,
        plan=plan,
        dialects=args.dialects or "mixed",
        defect_share=args.defects,
    )
    truth = json.loads(manifest.with_name(manifest.name + ".truth.json").read_text(encoding="utf-8"))
    correction = truth["correction"]
    _say(
        f"wrote {truth['files_in_manifest']} files to {args.out}: each force's export of each of {args.years} "
        f"year(s) but {truth['never_supplied']['force']}'s, which never supplies, and {correction['force']}'s "
        f"{correction['year']} resent with corrections (extract date {correction['extract_date']}); "
        f"manifest: {manifest}; ground truth beside it"
    )
    return 0


def _dask_scheduler(args: argparse.Namespace) -> str | None:
    """The scheduler address for ``--executor dask``; the two options must come together."""
    if args.executor == "dask" and not args.scheduler:
        raise ToolkitError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    if args.executor != "dask" and args.scheduler:
        raise ToolkitError("--scheduler is only for --executor dask")
    return args.scheduler if args.executor == "dask" else None


def _run(args: argparse.Namespace) -> int:
    # A wrong command line is told at once, before the run's libraries load: first what needs no library.
    scheduler = _dask_scheduler(args)
    if (args.input is None) == (args.store is None):
        raise ToolkitError("give run either --input FILE (with --extract-date) or --store PATH")
    if args.input is not None and args.extract_date is None:
        raise ToolkitError("--input needs --extract-date YYYY-MM-DD: the date the data were taken")
    from toolkit.publish.disclosure import check_threshold

    if not args.no_suppression:
        check_threshold(args.suppress_below, allow_off=False)  # 0 only by --no-suppression; warnings come later
    period, as_at = _store_moment(args)
    from toolkit.forces import find_force

    for force in args.forces or []:  # as the run would, but before its libraries load (five seconds of CPU)
        find_force(force)
    from toolkit.runner import run_reports

    result = run_reports(
        args.input,
        args.extract_date,
        args.out,
        store=args.store,
        period=period,
        as_at=as_at,
        forces=args.forces,
        workers=args.workers,
        kernels=args.kernels,
        scheduler=scheduler,
        work_dir=args.work,
        comparators=args.comparators,
        thresholds=args.thresholds,
        mapping=args.mapping,
        suppression_threshold=0 if args.no_suppression else args.suppress_below,
        progress=not args.quiet,
        status=args.status,
        synthetic=True if args.synthetic else None,  # without the flag, the input's provenance file decides
        previous=args.previous,
        contact=args.contact,
    )
    _say(f"{len(result.reports)} force report(s) written to {result.out_dir}; index: {result.out_dir / 'index.html'}")
    if result.overview_failure:
        _say(f"The {result.overview_failure}", sys.stderr)
    if result.failures:
        _say(f"{len(result.failures)} force(s) failed:", sys.stderr)
        for message in result.failures.values():
            _say(f"  - {message}", sys.stderr)
    if not result.ok:
        return EXIT_PROBLEM
    return 0


# The store commands' defaults, as the help says them without importing toolkit.store (pandas and numpy, most of
# a refusal's time): every other command builds the same parser. A test holds them to toolkit.store's own.
STORE_DEFAULT_HELP = DATA_DIR / "store.duckdb"
WAIT_DEFAULT_HELP = 30.0


def _add_store_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--store", type=Path, default=None, help=f"the national store (default {STORE_DEFAULT_HELP})")
    command.add_argument(
        "--wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"wait this long for another process using the store (default {WAIT_DEFAULT_HELP:g})",
    )
    command.set_defaults(store_command=True)


def _fill_store_options(args: argparse.Namespace) -> None:
    """A store command's ``--store`` and ``--wait`` where not given: toolkit.store's defaults."""
    from toolkit.store import DEFAULT_STORE, WAIT_SECONDS

    if args.store is None:
        args.store = DEFAULT_STORE
    if args.wait is None:
        args.wait = WAIT_SECONDS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(prog="toolkit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    forces = commands.add_parser("forces", help="list the 43 forces: code, slug, name, children")
    forces.set_defaults(handler=_forces)

    thresholds = commands.add_parser("thresholds", help="list every findings threshold: default, meaning, rules")
    thresholds.set_defaults(handler=_thresholds)

    validate = commands.add_parser("validate", help="check an extract against the contract; list every problem")
    validate.add_argument("file", type=Path, help="extract: .csv, .parquet or .xlsx")
    validate.add_argument("--extract-date", type=_date, required=True, help="date the data were taken, YYYY-MM-DD")
    validate.add_argument("--sheet", default=0, help="Excel sheet name (default: the first)")
    validate.add_argument("--limit", type=int, default=50, help="problems to print (default 50)")
    validate.add_argument("--problems-out", type=Path, help="also write every problem to this CSV")
    validate.set_defaults(handler=_validate)

    synth = commands.add_parser("synth", help="write a realistic synthetic national extract")
    synth.add_argument("--year", type=int, required=True, help="first calendar year of reports")
    synth.add_argument("--seed", type=int, required=True, help="random seed (same seed, same bytes, in every form)")
    synth.add_argument("--years", type=int, default=1, help="consecutive years (default 1)")
    synth.add_argument("--scale", type=float, default=1.0, help="fraction of national volume (default 1.0)")
    synth.add_argument("--plant", type=Path, help="YAML plan of force effects to plant (see data/plans/)")
    synth.add_argument("--extract-date", type=_date, help="default: 31 January after the last year")
    synth.add_argument(
        "--dialect",
        metavar="NAME",
        help="write as this force system would, with defects injected: a mapping of data/mappings/ (e.g. niche_rms)",
    )
    synth.add_argument(
        "--defects",
        type=float,
        default=0.01,
        help="with --dialect or --per-force: share of rows damaged (default 0.01)",
    )
    synth.add_argument(
        "--per-force",
        action="store_true",
        help="write each force's own export of each year into the folder --out, with manifest.csv: "
        "one force resends a year with corrections, one never supplies",
    )
    synth.add_argument(
        "--dialects",
        metavar="mixed|NAME",
        help="with --per-force: mixed (the default: each force keeps one system's dialect) or one dialect for all",
    )
    synth.add_argument(
        "--out", type=Path, required=True, help="output .csv, .parquet or .xlsx (a folder for --per-force)"
    )
    synth.set_defaults(handler=_synth)

    clean = commands.add_parser("clean", help="clean a force's export into the canonical table, quarantining bad rows")
    clean.add_argument("file", type=Path, help="export: .csv, .parquet or .xlsx")
    clean.add_argument("--mapping", type=Path, help="mapping YAML of the export's dialect (default: canonical)")
    clean.add_argument("--extract-date", type=_date, required=True, help="date the data were taken, YYYY-MM-DD")
    clean.add_argument("--out", type=Path, required=True, help="folder for the clean table, quarantine and logs")
    clean.add_argument("--sheet", default=0, help="Excel sheet name (default: the first)")
    clean.set_defaults(handler=_clean)

    pseudonymise = commands.add_parser(
        "pseudonymise", help="at the force: turn names, date of birth and NHS number into linkage tokens; drop them"
    )
    pseudonymise.add_argument(
        "file", type=Path, help="canonical extract with forename, surname, date_of_birth and nhs_number columns"
    )
    pseudonymise.add_argument(
        "--key-file", type=Path, required=True, help="the forces' shared key: a file of at least 32 random bytes"
    )
    pseudonymise.add_argument("--out", type=Path, required=True, help="the pseudonymised extract to write (.csv)")
    pseudonymise.set_defaults(handler=_pseudonymise)

    load = commands.add_parser(
        "load", help="clean a force's export and load it into the national store (one transaction)"
    )
    load.add_argument("file", type=Path, help="export: .csv, .parquet or .xlsx")
    load.add_argument("--mapping", type=Path, help="mapping YAML of the export's dialect (default: canonical)")
    load.add_argument("--extract-date", type=_date, required=True, help="date the data were taken, YYYY-MM-DD")
    load.add_argument(
        "--force",
        action="append",
        metavar="FORCE",
        help="a force the export covers (code, slug or name); repeat for several (default: the forces in the file)",
    )
    load.add_argument(
        "--period", metavar="FROM..TO", help="months it covers, e.g. 2024-01..2024-12 (default: its episodes' span)"
    )
    load.add_argument("--sheet", default=0, help="Excel sheet name (default: the first)")
    _add_store_options(load)
    load.set_defaults(handler=_load)

    manifest = commands.add_parser(
        "load-manifest", help="load every export a manifest lists into the national store, in its order"
    )
    manifest.add_argument(
        "manifest",
        type=Path,
        help="manifest.csv: file, force_code, period_from, period_to, mapping, extract_date (synth --per-force)",
    )
    manifest.add_argument(
        "--workers", type=int, default=2, help="exports cleaned in parallel, loaded in turn (default 2)"
    )
    _add_store_options(manifest)
    manifest.set_defaults(handler=_load_manifest)

    status = commands.add_parser("status", help="what the national store holds: loaded, superseded, missing forces")
    status.add_argument("--period", metavar="FROM..TO", help="months to show (default: every month loaded)")
    status.add_argument("--as-at", metavar="WHEN", help="the store as it stood then: ISO 8601 date or date and time")
    _add_store_options(status)
    status.set_defaults(handler=_status)

    export = commands.add_parser(
        "export", help="write the store's clean episodes as Parquet partitioned by force and year"
    )
    export.add_argument("--out", type=Path, required=True, help="folder for the dataset (replaced whole)")
    export.add_argument("--period", metavar="FROM..TO", help="months to write (default: every month loaded)")
    export.add_argument("--as-at", metavar="WHEN", help="the store as it stood then: ISO 8601 date or date and time")
    _add_store_options(export)
    export.set_defaults(handler=_export)

    run = commands.add_parser(
        "run", help="write a report for every force: from an extract (--input) or the national store (--store)"
    )
    run.add_argument("--input", type=Path, help="extract: .csv, .parquet or .xlsx (or give --store)")
    run.add_argument("--extract-date", type=_date, help="with --input: date the data were taken, YYYY-MM-DD")
    run.add_argument("--store", type=Path, help="report from this national store (made by `toolkit load`)")
    run.add_argument(
        "--period", metavar="FROM..TO", help="with --store: months to report, e.g. 2024-01..2024-12 (default: all)"
    )
    run.add_argument("--as-at", metavar="WHEN", help="with --store: the store as it stood then (ISO 8601)")
    run.add_argument("--out", type=Path, default=Path("reports"), help="report folder (default reports/)")
    run.add_argument(
        "--forces", nargs="+", metavar="FORCE", help="only these forces: ONS codes, slugs or names (west-midlands)"
    )
    run.add_argument("--workers", type=int, default=2, help="reports rendered in parallel (default 2)")
    run.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local: worker threads or processes on this machine (default); dask: tasks on a Dask cluster",
    )
    run.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    run.add_argument(
        "--kernels",
        choices=["warm", "fresh"],
        default="warm",
        help="warm: one reused kernel per worker, reset between reports (default); fresh: a new kernel per report",
    )
    run.add_argument("--work", type=Path, help="folder for prepared tables (default data/processed)")
    run.add_argument("--comparators", type=Path, help="comparator groups YAML, e.g. the official lists")
    run.add_argument(
        "--thresholds", type=Path, help="YAML of findings thresholds to override (see toolkit.findings.THRESHOLDS)"
    )
    run.add_argument("--mapping", type=Path, help="mapping YAML when the input is a force's own export")
    run.add_argument("--suppress-below", type=int, default=5, help="smallest count published (default 5; at least 3)")
    run.add_argument("--no-suppression", action="store_true", help="publish small counts: internal use only")
    run.add_argument(
        "--contact", help="who readers ask about the figures, e.g. 'Data team, data@example.org' (every page's footer)"
    )
    run.add_argument(
        "--status",
        choices=["draft", "published"],
        default="draft",
        help="shown at the top of every page and recorded in run.json (default draft: not for publication)",
    )
    run.add_argument(
        "--synthetic",
        action="store_true",
        help="mark every page as synthetic data, for an input without a provenance file saying so",
    )
    run.add_argument(
        "--previous",
        type=Path,
        help="a previous run's findings.json: mark findings new or enduring, and say what became of the old ones",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; return the exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "store_command", False):
            _fill_store_options(args)
        status = args.handler(args)
        sys.stdout.flush()  # here, not at exit: a reader that has gone (`| head`) is handled below
        return status
    except ValidationError as error:
        from toolkit.ingest.extract import format_problems

        _say(f"error: {error}", sys.stderr)
        _say(format_problems(error.problems), sys.stderr)
        _say("check the whole file with: python -m toolkit validate FILE --extract-date YYYY-MM-DD", sys.stderr)
        return EXIT_PROBLEM
    except ToolkitError as error:
        _say(f"error: {error}", sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)  # renders still ending as the process exits have nothing to add
        _say("interrupted", sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`... | head`): nothing more to say, and nothing wrong
        # Standard output is pointed at nothing, so that the interpreter's last flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a fault in the toolkit: say so plainly, no traceback by default
        if os.environ.get("TOOLKIT_DEBUG"):
            traceback.print_exc()
        _say(
            f"internal error: {type(error).__name__}: {error}. This is a fault in the toolkit, "
            "not in your data; please report it (set TOOLKIT_DEBUG=1 for details).",
            sys.stderr,
        )
        return EXIT_INTERNAL
