"""The `tally` command: a thin layer that runs the Dagster jobs in-process (SPEC 5).

Exit status: 0 success, every check passed; 1 the run finished and wrote everything, but a
blocking (error) check failed; 2 bad input or a run that could not complete (one-line reason);
3 the run finished, only warning checks failed. Failed checks are listed and alerted.
"""

import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
from pathlib import Path

from lake.home import ENGINES
from lake.records import Unreadable
from orchestration.parser import build_parser
from orchestration.piped import UntilReaderGoes
from orchestration.runner import UsageError, deliver_waiting, execute, refuse_if_busy

EXIT_OK, EXIT_CHECKS_FAILED, EXIT_ERROR, EXIT_WARNINGS = 0, 1, 2, 3


def _validate_inputs(home: Path) -> None:
    """Refuse a bad price book or reference data before any data is touched."""
    from lake.home import Home
    from lake.price_book import load_price_book, price_book_files, price_book_tables
    from lake.reference import load_reference
    from transforms.pricebook import PriceBookError
    from transforms.reference import ReferenceDataError

    h = Home.at(home)
    try:
        book = load_price_book(price_book_files(h.pricing), base=h.root)
        load_reference(h.landing_reference, price_book_tables(book)["plans"])
    except (PriceBookError, ReferenceDataError) as exc:
        raise UsageError(str(exc)) from None


def _on(engine: str) -> str:
    """How a command's first line names a warehouse engine other than the default."""
    return "" if engine == "duckdb" else f", on {engine}"


def _check_engine(engine: str) -> None:
    """Refuse an unknown engine (from TALLY_ENGINE; --engine has its choices), or the Spark
    engine when its extra is not installed, in one line."""
    if engine not in ENGINES:
        raise UsageError(f"TALLY_ENGINE={engine}: use one of {', '.join(ENGINES)}")
    if engine == "spark":
        import importlib.util

        if not (
            importlib.util.find_spec("pyspark") and importlib.util.find_spec("dbt.adapters.spark")
        ):
            raise UsageError(
                "--engine spark needs dbt-spark and PySpark: run `make spark` "
                "(pip install -e '.[spark]'), and have Java 17 on the PATH"
            )


def _worst(a: int, b: int) -> int:
    """The more serious of two exit statuses: error, then failed checks, then warnings."""
    rank = {EXIT_OK: 0, EXIT_WARNINGS: 1, EXIT_CHECKS_FAILED: 2, EXIT_ERROR: 3}
    return max(a, b, key=rank.__getitem__)


def _failed_checks(alerts) -> dict[str, list[str]]:
    """The checks that failed, by severity (run failures are not checks)."""
    checks = [a for a in alerts if not a.check.startswith("run:")]
    return {
        severity: sorted(a.check for a in checks if a.severity == severity)
        for severity in ("error", "warning")
    }


def _print_failed(failed: dict[str, list[str]]) -> None:
    for severity in ("error", "warning"):
        if failed.get(severity):
            names = failed[severity]
            print(f"checks failed ({severity}, {len(names)}): " + ", ".join(names))


def _report(finished) -> int:
    """Print what failed and choose the exit status (see the module docstring): a run with a
    step it could not complete (not only failed checks) is an error, whatever else failed."""
    alerts = finished.alerts
    checks = [a for a in alerts if not a.check.startswith("run:")]
    _print_failed(_failed_checks(alerts))
    if not finished.success:
        steps = [a.check.split(":", 2)[2] for a in alerts if a.check.startswith("run:")]
        reasons = [a.summary for a in alerts if a.check.startswith("run:")]
        print(
            f"run failed at: {', '.join(steps) or 'unknown step'}: {reasons[0] if reasons else ''}"
        )
        if finished.incomplete or not checks:
            return EXIT_ERROR
    if any(a.severity == "error" for a in checks):
        return EXIT_CHECKS_FAILED
    return EXIT_WARNINGS if checks else EXIT_OK


def generate_world(home: Path, cfg, *, quiet: bool = False) -> None:
    from demo.generate import generate
    from lake.home import Home

    def progress(message: str) -> None:
        if not quiet:
            print(f"generate: {message}", flush=True)

    summary = generate(Home.at(home), cfg, progress=progress)
    print(
        f"generated {summary.events:,} events ({summary.raw_rows:,} raw rows: {summary.duplicates:,} duplicates, "
        f"{summary.faults:,} faulty) in {summary.files} files under {home}/landing"
    )


def _make_room(home_dir: Path, force: bool) -> None:
    """Refuse a home that holds data, unless `force`: then clear what tally keeps there."""
    from lake.home import Home

    home = Home.at(home_dir)
    held = home.held()
    if held and not force:
        raise UsageError(
            f"{home_dir} already holds data ({', '.join(p.name for p in held)}): "
            "give another --home, or --force to replace it"
        )
    for folder in held:
        shutil.rmtree(folder)


def cmd_generate(args) -> int:
    from demo.generate import GenerateConfig

    _make_room(args.home, args.force)
    cfg = GenerateConfig(
        customers=args.customers,
        days=args.days,
        events_per_day=args.events_per_day,
        start=args.start,
        seed=args.seed,
    )
    generate_world(args.home, cfg)
    return EXIT_OK


def run_range(
    home: Path,
    first: dt.date,
    last: dt.date,
    *,
    summary: bool = True,
    full_refresh: bool = False,
    engine: str = "duckdb",
    quiet: bool = False,
) -> int:
    """The nightly job over [first, last], then the summary; the exit status (see the module
    docstring). `full_refresh` rebuilds the incremental models from all of the lake; `quiet`
    shows no progress."""
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    refuse_if_busy(home)
    began = dt.datetime.now(dt.UTC)
    standing = None if full_refresh else _nothing_new(home, engine)
    if standing is not None:
        print(
            f"run: {first} .. {last} (home {home}): nothing new since run "
            f"{standing.run_id[:8]} at {standing.finished_at}; the marts are current"
        )
        for line in deliver_waiting(home):
            print(line)
        _print_failed(standing.failed_checks)
        return _summarized(home, standing.status, summary, engine, began)
    _validate_inputs(home)
    print(f"run: {first} .. {last} (home {home}{_on(engine)})")
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    finished = execute(
        home,
        "nightly_billing",
        tags=tags,
        full_refresh=full_refresh,
        engine=engine,
        progress=_progress(quiet),
    )
    status = _report(finished)
    if status != EXIT_ERROR:
        from lake.home import Home
        from orchestration.outcome import record

        record(Home.at(home, engine), status, _failed_checks(finished.alerts), finished.run_id)
    return _summarized(home, status, summary, engine, began)


def _progress(quiet: bool):
    """What shows a job's steps as they run, on this command's stdout; None when quiet."""
    from orchestration.progress import Progress

    return None if quiet else Progress(sys.stdout)


def _nothing_new(home_dir: Path, engine: str):
    """The last run's outcome when nothing has changed since it: no new landing file and the
    lake, price book, references and models as its build left them. None otherwise."""
    from lake.freshness import unchanged_since_built
    from lake.home import Home
    from lake.ingest import new_landing_files
    from orchestration.defs.dbt.paths import models_fingerprint
    from orchestration.outcome import standing

    home = Home.at(home_dir, engine)
    outcome = standing(home)
    if outcome is None or new_landing_files(home) or not _readable(home):
        return None
    return outcome if unchanged_since_built(home, models_fingerprint()) else None


def _readable(home) -> bool:
    """Whether the marts can be read: a DuckDB warehouse cut short is built again."""
    from orchestration.warehouse import WarehouseBusy, why_unusable

    if home.engine != "duckdb" or not home.warehouse.exists():
        return True
    try:
        return why_unusable(home.warehouse) is None
    except WarehouseBusy:
        return False  # the run says so, at its dbt step


def _summarized(home: Path, status: int, summary: bool, engine: str, since: dt.datetime) -> int:
    if summary and status != EXIT_ERROR:
        from orchestration.summary import print_summary

        print_summary(home, engine, since)
    return status


def cmd_run(args) -> int:
    return run_range(
        args.home,
        args.from_date,
        args.to_date,
        full_refresh=args.full_refresh,
        engine=args.engine,
        quiet=args.quiet,
    )


def close_month(
    home_dir: Path,
    month: dt.date,
    *,
    summary: bool = True,
    engine: str = "duckdb",
    quiet: bool = False,
    payment_terms_days: int = 30,
) -> int:
    """Issue `month` once, then the summary; the exit status (see the module docstring)."""
    from lake.home import Home
    from lake.issued import is_issued, remove_uncommitted_closes
    from orchestration.close_gate import why_not_close
    from publish.documents import write_documents

    home = Home.at(home_dir, engine)
    refuse_if_busy(home_dir)
    began = dt.datetime.now(dt.UTC)
    if is_issued(home, month):
        # Issued invoices never change: nothing to run, nothing to alert. Documents a crash
        # after the commit left unwritten are written now.
        remove_uncommitted_closes(home)
        written = write_documents(home, month)
        note = f"; {written} missing invoice document(s) written" if written else ""
        print(f"close: {month:%Y-%m} is already issued; nothing changed{note}")
        return EXIT_OK
    refusal = why_not_close(home, month, dt.datetime.now(dt.UTC).date())
    if refusal and refusal.blocking_findings:
        print(f"tally: {refusal.reason}", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    if refusal:
        raise UsageError(refusal.reason)
    print(f"close: {month:%Y-%m}{_on(engine)}")
    finished = execute(
        home_dir,
        "month_close",
        partition_key=month.isoformat(),
        engine=engine,
        payment_terms_days=payment_terms_days,
        progress=_progress(quiet),
    )
    status = _report(finished)
    return _summarized(home_dir, status, summary, engine, began)


def cmd_close(args) -> int:
    return close_month(
        args.home,
        args.month,
        engine=args.engine,
        quiet=args.quiet,
        payment_terms_days=args.payment_terms,
    )


def cmd_simulate(args) -> int:
    import polars as pl

    from lake.events import month_events
    from lake.home import Home
    from lake.price_book import load_price_book, price_book_files
    from orchestration.warehouse import current_subtotals
    from transforms.pricebook import PriceBookError
    from transforms.rating import month_bounds
    from transforms.simulate import SimulationError, simulate_month, simulation_frame

    home = Home.at(args.home, args.engine)
    subscriptions = home.lake_reference / "subscriptions.parquet"
    if not subscriptions.exists():
        raise UsageError(f"nothing ingested under {home.root}: run `tally run` first")
    if args.output and args.output.suffix not in (".csv", ".parquet"):
        raise UsageError(f"--output {args.output}: use a .csv or .parquet file")
    if args.price_book.is_dir():  # a whole candidate pricing/ folder
        files, base = price_book_files(args.price_book), args.price_book
    elif args.price_book.is_file():
        files, base = [args.price_book], args.price_book.parent
    else:
        raise UsageError(f"--price-book {args.price_book}: no such file or folder")
    events = month_events(home, *month_bounds(args.month))
    no_usage = events.head(1).collect().height == 0
    try:
        book = load_price_book(files, base=base)
        results = simulate_month(
            book,
            args.month,
            events=events,
            subscriptions=pl.read_parquet(subscriptions),
            current=current_subtotals(home, args.month),
        )
    except (PriceBookError, SimulationError) as exc:
        raise UsageError(str(exc)) from None
    frame = simulation_frame(results)
    print(f"simulate: {args.month:%Y-%m} under {args.price_book} (nothing is written to the marts)")
    if no_usage:
        print(
            f"  note: the lake has no usage in {args.month:%Y-%m}: the figures are the "
            "subscriptions' fees and minimums only"
        )
    print_frame(frame, "table")
    print_frame(
        frame.group_by("currency")
        .agg(pl.col("current", "simulated", "difference").sum())
        .sort("currency"),
        "table",
    )
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if args.output.suffix == ".parquet":
            frame.write_parquet(args.output)
        else:
            frame.write_csv(args.output)
        print(f"written to {args.output}")
    return EXIT_OK


TABLE_ROWS = 200  # a table longer than this is cut; csv and json print every row


def print_frame(frame, fmt: str) -> None:
    """A query's result on stdout: a table for people, or every row as CSV or JSON (an array
    of objects; decimals as strings, so money keeps every digit)."""
    import polars as pl

    if fmt == "csv":
        sys.stdout.write(frame.write_csv())
    elif fmt == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        with pl.Config(
            tbl_rows=TABLE_ROWS,
            tbl_cols=-1,
            tbl_width_chars=65_000,  # Polars' most: no wrapped cells
            fmt_str_lengths=10_000,
            tbl_hide_dataframe_shape=True,
            tbl_hide_column_data_types=True,
            tbl_hide_dtype_separator=True,
        ):
            print(frame)
        if frame.height > TABLE_ROWS:
            print(f"({frame.height:,} rows; --format csv or json prints every one)")


def cmd_query(args) -> int:
    from lake.home import Home
    from orchestration.reader import QueryLimits, QueryRefused
    from orchestration.warehouse import query

    home = Home.at(args.home, args.engine)
    if not home.has_warehouse():
        raise UsageError(
            f"no {home.engine} warehouse at {home.warehouse_folder}: run `tally run` first"
        )
    limits = QueryLimits(seconds=args.timeout, memory_bytes=args.memory_limit)
    try:
        frame = query(home, args.sql, limits)
    except QueryRefused as exc:
        raise UsageError(str(exc)) from None
    if args.format == "csv":
        nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
        if nested:
            raise UsageError(
                f"--format csv cannot hold column {nested[0]!r} ({frame.schema[nested[0]]}: "
                "values inside values); use --format json, or flatten it in SQL"
            )
    print_frame(frame, args.format)
    return EXIT_OK


def cmd_demo(args) -> int:
    from demo.generate import GenerateConfig
    from orchestration.summary import print_summary
    from transforms.rating import month_bounds

    cfg = GenerateConfig()
    _make_room(args.home, args.force)
    began = dt.datetime.now(dt.UTC)
    generate_world(args.home, cfg, quiet=args.quiet)
    last = cfg.start + dt.timedelta(days=cfg.days - 1)
    status = run_range(args.home, cfg.start, last, summary=False, quiet=args.quiet)
    if status == EXIT_ERROR:
        return status
    # Every month before the last is closed; the last stays open, as the current month is on
    # the night its usage ends (the month-close schedule waits for late data): its drafts,
    # spend to date and spend notifications are what the customer pages show.
    month = cfg.start.replace(day=1)
    while month_bounds(month)[1] <= last.replace(day=1):
        status = _worst(status, close_month(args.home, month, summary=False, quiet=args.quiet))
        month = month_bounds(month)[1]
    print_summary(args.home, since=began)
    print(
        "  (the demo's billed_invoices.csv has deliberate slips: missing and hand-edited invoices;"
        " the warnings they raise are expected)"
    )
    return EXIT_OK if status == EXIT_WARNINGS else status


def cmd_report(args) -> int:
    from lake.home import Home
    from orchestration.warehouse import reading
    from publish.reports import build_reports

    home = Home.at(args.home, args.engine)
    if not home.has_warehouse():
        raise UsageError(f"no warehouse under {home.root}: run `tally run` first")
    with reading(home) as warehouse:
        built = build_reports(home, warehouse, now=dt.datetime.now(dt.UTC))
    print(f"report: {built.folder / 'index.html'} and {built.customers} customer pages")
    return EXIT_OK


# Commands that make a home; the others need one that exists.
MAKES_HOME = ("generate", "demo")
COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "close": cmd_close,
    "simulate": cmd_simulate,
    "query": cmd_query,
    "report": cmd_report,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.home = args.home.expanduser().resolve()
    for name in ("customers", "days", "events_per_day"):
        if getattr(args, name, 1) is not None and getattr(args, name, 1) < 1:
            print(f"tally: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return EXIT_ERROR
    try:
        _check_engine(getattr(args, "engine", "duckdb"))
        if args.command not in MAKES_HOME and not args.home.is_dir():
            raise UsageError(
                f"no such home: {args.home} (make one with `tally demo --home {args.home}` or "
                "`tally generate`, or give --home / TALLY_HOME)"
            )
        return COMMANDS[args.command](args)
    except (UsageError, Unreadable) as exc:
        print(f"tally: {exc}", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    """The `tally` console script: `main`, then leave without tearing the interpreter down.

    When `main` returns, every file is written and closed and the Dagster instance is disposed;
    what remains is Python freeing the half million objects of Dagster, dbt and Great
    Expectations one at a time, about 2 s of every command. Output is flushed first.
    """
    sys.stdout = UntilReaderGoes(sys.stdout)
    status = main()
    logging.shutdown()
    sys.stdout.flush()
    with contextlib.suppress(BrokenPipeError):
        sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    entry()
