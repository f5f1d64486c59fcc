"""The `tally` commands, each given the home it works on (cli.main builds it once): a thin
layer that runs the Dagster jobs in-process and prints what a billing engineer needs.

Exit status: 0 success, every check passed; 1 the run finished and wrote everything, but a
blocking (error) check failed; 2 bad input or a run that could not complete (one-line reason);
3 the run finished, only warning checks failed. Failed checks are listed and alerted.
"""

import datetime as dt
import shutil
import sys

from lake.home import ENGINES, Home
from orchestration.runner import deliver_waiting, execute, refuse_if_busy

EXIT_OK, EXIT_CHECKS_FAILED, EXIT_ERROR, EXIT_WARNINGS = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input, or a state to fix first: reported as one line, exit status 2."""


def _validate_inputs(home: Home) -> None:
    """Refuse a bad price book or reference data before any data is touched."""
    from lake.price_book import load_price_book, price_book_files, price_book_tables
    from lake.reference import load_reference, load_seller
    from transforms.pricebook import PriceBookError
    from transforms.reference import ReferenceDataError

    try:
        book = load_price_book(price_book_files(home.pricing), base=home.root)
        tables = price_book_tables(book)
        load_reference(
            home.landing_reference, tables["plans"], tables["coupons"], tables["charges"]
        )
        load_seller(home.landing_reference)
    except (PriceBookError, ReferenceDataError) as exc:
        raise UsageError(str(exc)) from None


def _on(engine: str) -> str:
    """How a command's first line names a warehouse engine other than the default."""
    return "" if engine == "duckdb" else f", on {engine}"


def check_engine(engine: str) -> None:
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


def generate_world(home: Home, cfg, *, quiet: bool = False) -> None:
    from demo.generate import generate

    def progress(message: str) -> None:
        if not quiet:
            print(f"generate: {message}", flush=True)

    summary = generate(home, cfg, progress=progress)
    print(
        f"generated {summary.events:,} events ({summary.raw_rows:,} raw rows: {summary.duplicates:,} duplicates, "
        f"{summary.faults:,} faulty) in {summary.files} files under {home.root}/landing"
    )


def _make_room(home: Home, force: bool) -> None:
    """Refuse a home that holds data, unless `force`: then clear what tally keeps there."""
    held = home.held()
    if held and not force:
        raise UsageError(
            f"{home.root} already holds data ({', '.join(p.name for p in held)}): "
            "give another --home, or --force to replace it"
        )
    for folder in held:
        shutil.rmtree(folder)


def cmd_generate(args, home: Home) -> int:
    from demo.generate import GenerateConfig

    _make_room(home, args.force)
    cfg = GenerateConfig(
        customers=args.customers,
        days=args.days,
        events_per_day=args.events_per_day,
        start=args.start,
        seed=args.seed,
    )
    generate_world(home, cfg)
    return EXIT_OK


def run_range(
    home: Home,
    first: dt.date,
    last: dt.date,
    *,
    summary: bool = True,
    full_refresh: bool = False,
    quiet: bool = False,
) -> int:
    """The nightly job over [first, last], then the summary; the exit status (see the module
    docstring). `full_refresh` rebuilds the incremental models from all of the lake; `quiet`
    shows no progress."""
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    refuse_if_busy(home, waits_for_live=True)
    began = dt.datetime.now(dt.UTC)
    standing = None if full_refresh else _nothing_new(home)
    if standing is not None:
        print(
            f"run: {first} .. {last} (home {home.root}): nothing new since run "
            f"{standing.run_id[:8]} at {standing.finished_at}; the marts are current"
        )
        for line in deliver_waiting(home):
            print(line)
        _print_failed(standing.failed_checks)
        return _summarized(home, standing.status, summary, began)
    _validate_inputs(home)
    print(f"run: {first} .. {last} (home {home.root}{_on(home.engine)})")
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    finished = execute(
        home,
        "nightly_billing",
        tags=tags,
        full_refresh=full_refresh,
        progress=_progress(quiet),
    )
    status = _report(finished)
    if status != EXIT_ERROR:
        from cli.outcome import record

        record(home, status, _failed_checks(finished.alerts), finished.run_id)
    return _summarized(home, status, summary, began)


def _progress(quiet: bool):
    """What shows a job's steps as they run, on this command's stdout; None when quiet."""
    from cli.progress import Progress

    return None if quiet else Progress(sys.stdout)


def _nothing_new(home: Home):
    """The last run's outcome when nothing has changed since it: no new landing file and the
    lake, price book, references and models as its build left them. None otherwise."""
    from cli.outcome import standing
    from lake.freshness import unchanged_since_built
    from lake.ingest import new_landing_files
    from warehouse.dbt import models_fingerprint

    outcome = standing(home)
    if outcome is None or new_landing_files(home) or not _readable(home):
        return None
    return outcome if unchanged_since_built(home, models_fingerprint()) else None


def _readable(home: Home) -> bool:
    """Whether the marts can be read: a DuckDB warehouse cut short is built again."""
    from warehouse.build import WarehouseBusy, why_unusable

    if home.engine != "duckdb" or not home.warehouse.exists():
        return True
    try:
        return why_unusable(home.warehouse) is None
    except WarehouseBusy:
        return False  # the run says so, at its dbt step


def _summarized(
    home: Home, status: int, summary: bool, since: dt.datetime, *, closing: bool = False
) -> int:
    if summary and status != EXIT_ERROR:
        from cli.summary import print_summary

        print_summary(home, since, closing=closing)
    return status


def cmd_run(args, home: Home) -> int:
    return run_range(
        home,
        args.from_date,
        args.to_date,
        full_refresh=args.full_refresh,
        quiet=args.quiet,
    )


def close_month(
    home: Home,
    month: dt.date,
    *,
    summary: bool = True,
    quiet: bool = False,
    payment_terms_days: int = 30,
) -> int:
    """Issue `month` once, then the summary; the exit status (see the module docstring)."""
    from lake.issued import is_issued, remove_uncommitted_closes
    from publish.documents import write_documents
    from transforms.close import why_not_close
    from warehouse.closing import HomeToClose, invoices_to_issue

    refuse_if_busy(home)
    began = dt.datetime.now(dt.UTC)
    if is_issued(home, month):
        # Issued invoices never change: nothing to run, nothing to alert. Documents a crash
        # after the commit left unwritten are written now.
        remove_uncommitted_closes(home)
        written = write_documents(home, month)
        note = f"; {written} missing invoice document(s) written" if written else ""
        print(f"close: {month:%Y-%m} is already issued; nothing changed{note}")
        return EXIT_OK
    refusal = why_not_close(HomeToClose(home), month, dt.datetime.now(dt.UTC).date())
    if refusal and refusal.blocking_findings:
        print(f"tally: {refusal.reason}", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    if refusal:
        raise UsageError(refusal.reason)
    if invoices_to_issue(home, month) == 0:
        print(
            f"close: {month:%Y-%m} has no invoice to issue (no billing period ends in it): "
            "nothing issued, nothing recorded"
        )
        return EXIT_OK
    print(f"close: {month:%Y-%m}{_on(home.engine)}")
    finished = execute(
        home,
        "month_close",
        partition_key=month.isoformat(),
        payment_terms_days=payment_terms_days,
        progress=_progress(quiet),
    )
    status = _report(finished)
    return _summarized(home, status, summary, began, closing=True)


def cmd_close(args, home: Home) -> int:
    return close_month(
        home,
        args.month,
        quiet=args.quiet,
        payment_terms_days=args.payment_terms,
    )


def _lake_table(path):
    """A lake table, or None where the lake has none yet."""
    import polars as pl

    return pl.read_parquet(path) if path.exists() else None


def _current_coupons(home: Home) -> dict:
    """The coupons of the price book the last run wrote to the lake, by id."""
    from transforms.coupons import coupons_from_tables

    coupons = _lake_table(home.lake_pricing / "coupons.parquet")
    targets = _lake_table(home.lake_pricing / "coupon_targets.parquet")
    if coupons is None or targets is None:
        return {}
    return coupons_from_tables(coupons, targets)


def cmd_simulate(args, home: Home) -> int:
    import polars as pl

    from lake.events import events_before, month_events
    from lake.price_book import load_price_book, price_book_files
    from transforms.pricebook import PriceBookError
    from transforms.rating import month_bounds
    from transforms.simulate import (
        SimulationError,
        other_cadence,
        simulate_month,
        simulation_frame,
    )
    from warehouse.figures import current_subtotals

    subscriptions = home.lake_reference / "subscriptions.parquet"
    if not subscriptions.exists():
        raise UsageError(f"nothing ingested under {home.root}: run `tally run` first")
    if args.output and args.output.suffix not in (".csv", ".parquet"):
        raise UsageError(f"--output {args.output}: use a .csv or .parquet file")
    if args.price_book.is_dir():  # a whole candidate pricing/ folder
        try:
            files, base = price_book_files(args.price_book), args.price_book
        except PriceBookError as exc:
            raise UsageError(str(exc)) from None
        if not files:
            raise UsageError(f"--price-book {args.price_book}: no *.yaml price-book file in it")
    elif args.price_book.is_file():
        files, base = [args.price_book], args.price_book.parent
    else:
        raise UsageError(f"--price-book {args.price_book}: no such file or folder")
    events = month_events(home, *month_bounds(args.month))
    no_usage = events.head(1).collect().height == 0
    subscribed = pl.read_parquet(subscriptions)
    try:
        book = load_price_book(files, base=base)
        results = simulate_month(
            book,
            args.month,
            events=events,
            subscriptions=subscribed,
            current=current_subtotals(home, args.month),
            history=events_before(home, args.month, book.recurring_metrics),
            redemptions=_lake_table(home.lake_reference / "coupon_redemptions.parquet"),
            current_coupons=_current_coupons(home),
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
    if left_out := other_cadence(book, subscribed):
        print(
            f"  note: left out, billed by quarter, year or anniversary or with the base fee "
            f"in advance rather than by calendar month in arrears: {', '.join(left_out)}"
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


def cmd_query(args, home: Home) -> int:
    from warehouse.reader import QueryLimits, QueryRefused
    from warehouse.reading import query

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


def cmd_demo(args, home: Home) -> int:
    from cli.summary import print_summary
    from demo.generate import GenerateConfig
    from transforms.rating import month_bounds

    cfg = GenerateConfig()
    _make_room(home, args.force)
    began = dt.datetime.now(dt.UTC)
    generate_world(home, cfg, quiet=args.quiet)
    last = cfg.start + dt.timedelta(days=cfg.days - 1)
    status = run_range(home, cfg.start, last, summary=False, quiet=args.quiet)
    if status == EXIT_ERROR:
        return status
    # Every month before the last is closed; the last stays open, as the current month is on
    # the night its usage ends (the month-close schedule waits for late data): its drafts,
    # spend to date and spend notifications are what the customer pages show.
    month = cfg.start.replace(day=1)
    while month_bounds(month)[1] <= last.replace(day=1):
        status = _worst(status, close_month(home, month, summary=False, quiet=args.quiet))
        month = month_bounds(month)[1]
    print_summary(home, since=began)
    print(
        "  (the demo's billed_invoices.csv has deliberate slips: missing and hand-edited invoices;"
        " the warnings they raise are expected)"
    )
    return EXIT_OK if status == EXIT_WARNINGS else status


def cmd_report(args, home: Home) -> int:
    from publish.reports import build_reports
    from warehouse.reading import reading

    if not home.has_warehouse():
        raise UsageError(f"no warehouse under {home.root}: run `tally run` first")
    with reading(home) as warehouse:
        built = build_reports(home, warehouse, now=dt.datetime.now(dt.UTC))
    print(f"report: {built.folder / 'index.html'} and {built.customers} customer pages")
    return EXIT_OK
