"""The `tally` command line: its commands, options, help texts and examples. What
each command does is in cli/commands.py."""

import argparse
import datetime as dt
import os
import re
import textwrap
from pathlib import Path

from lake.home import ENGINES

QUERY_FORMATS = ("table", "csv", "json")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 <= seconds <= 86400:
        raise argparse.ArgumentTypeError(f"{value!r}: give 0 to 86400 seconds")
    return seconds


def _positive_seconds(value: str) -> float:
    seconds = _seconds(value)
    if seconds < 0.5:
        raise argparse.ArgumentTypeError(f"{value!r}: give at least 0.5 seconds")
    return seconds


def _month(value: str) -> dt.date:
    try:  # one format, as for dates: two digits for the month (2026-09, not 2026-9)
        if not re.fullmatch(r"\d{4}-\d{2}", value):
            raise ValueError
        return dt.date.fromisoformat(f"{value}-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month YYYY-MM") from None


def _days(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 3650:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days from 0 to 3650")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0
    if not 0 < seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds up to 86400")
    return seconds


_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def _size(value: str) -> int:
    """A memory size as DuckDB writes one (`3GB`, `512MiB`), in bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
    unit = _UNITS.get(match[2].lower()) if match else None
    size = int(float(match[1]) * unit) if unit else 0
    if size < 64 * 1024**2:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a memory size of at least 64MB (write it as 3GB or 512MiB)"
        )
    return size


EXIT_CODES = """\
exit status:
  0  success: every check passed
  1  the run finished and wrote everything, but a blocking (error) check failed
  2  bad input, or a run that could not complete (the reason in one line)
  3  the run finished; only warning checks failed"""
# The statuses each command can return, as its --help says them.
CLOSE_CODES = """\
exit status:
  0  the month is issued (or was already, or had no invoice to issue); every check passed
  1  a blocking (error) finding refused the close, or an error check failed after issuing
  2  bad input, or a state to fix first (run first, close the month before, wait for the
     month to end); the reason in one line
  3  the month is issued; only warning checks failed"""
DEMO_CODES = """\
exit status:
  0  done: the world was generated, run and closed (its warnings are expected: the demo's
     billing system has deliberate slips)
  1  a blocking (error) check failed
  2  bad input, or a run that could not complete (the reason in one line)"""
WATCH_CODES = """\
exit status:
  0  stopped by Ctrl-C or SIGTERM (after the micro-batch in progress)
  2  bad input, or a home without a full build yet (the reason in one line)"""
READ_CODES = """\
exit status:
  0  success
  2  bad input, or the command was refused or stopped (the reason in one line)"""

HOME_HELP = "the tally home, a folder (env TALLY_HOME; default ./data)"


def _command(
    sub,
    name: str,
    parents: list,
    summary: str,
    description: str,
    example: str,
    statuses: str = READ_CODES,
):
    """A subcommand whose --help says what it does, its formats, an example and the exit
    statuses it can return."""
    return sub.add_parser(
        name,
        parents=parents,
        help=summary,
        description=textwrap.fill(description, 88),
        epilog=f"example:\n  {example}\n\n{statuses}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(
        prog="tally",
        description=textwrap.fill(
            "Usage-based billing warehouse: raw usage exports in, rated usage, invoices, a "
            "credit ledger, revenue marts and reconciliation out. `tally COMMAND --help` says "
            "more about each command.",
            88,
        ),
        epilog="quick start:\n  tally demo --home data        # a synthetic world, run and "
        f'closed\n  tally query --home data "select * from marts.fct_invoices"\n\n{EXIT_CODES}',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tally {version('tally')}")
    default_home = Path(os.environ.get("TALLY_HOME", "data"))
    default_engine = os.environ.get("TALLY_ENGINE", "duckdb")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=Path, default=default_home, help=HOME_HELP)
    engine = argparse.ArgumentParser(add_help=False)
    engine.add_argument(
        "--engine",
        choices=ENGINES,
        default=default_engine,
        help="the warehouse engine: duckdb (in-process, the default) or spark (dbt-spark; "
        "`make spark` installs it) (env TALLY_ENGINE)",
    )
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "--quiet", "-q", action="store_true", help="print only the result, no progress"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = _command(
        sub,
        "generate",
        [common],
        "write a synthetic world into a home",
        "Write a synthetic world into the home: a price book (pricing/plans.yaml), reference "
        "data (landing/reference/*.csv) and usage exports (landing/usage/, CSV, gzipped CSV, "
        "JSON lines, CloudEvents and Parquet, with duplicates, late events and faulty rows). "
        "Refuses a home that already holds data unless --force.",
        "tally generate --home /tmp/world --customers 10 --days 31 --start 2026-09-01",
    )
    g.add_argument("--customers", type=int, default=40, help="customers (default 40)")
    g.add_argument("--days", type=int, default=61, help="days of usage (default 61)")
    g.add_argument(
        "--events-per-day", type=int, default=5000, help="events a day, all customers (5000)"
    )
    g.add_argument(
        "--start",
        type=_date,
        default=dt.date(2026, 9, 1),
        metavar="YYYY-MM-DD",
        help="first day of usage (default 2026-09-01)",
    )
    g.add_argument("--seed", type=int, default=7, help="random seed: same seed, same world")
    g.add_argument(
        "--force",
        action="store_true",
        help="replace what the home holds (its landing files, price book, lake, warehouse, "
        "alerts, exports and runs) with the new world",
    )

    r = _command(
        sub,
        "run",
        [common, engine, quiet],
        "ingest, rate, build marts, check, alert",
        "The nightly run: ingest the new usage exports under landing/usage (every raw row "
        "accepted, quarantined with a reason, or counted as a duplicate), rate usage, build "
        "the invoices, credit ledger and revenue marts for the usage days --from..--to and "
        "the periods they touch, run the checks and write alerts. Prints progress, then a "
        "summary. Nothing new since the last run: nothing is rebuilt.",
        "tally run --home data --from 2026-09-01 --to 2026-10-31",
        statuses=EXIT_CODES,
    )
    r.add_argument(
        "--from",
        dest="from_date",
        type=_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="first usage day of the run (a Dagster partition)",
    )
    r.add_argument(
        "--to",
        dest="to_date",
        type=_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="last usage day of the run, included",
    )
    r.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the daily usage aggregate from every date of the lake, not only the "
        "dates new exports touched",
    )

    c = _command(
        sub,
        "close",
        [common, engine, quiet],
        "issue a month's invoices",
        "Issue the month's invoices: audit every invariant, then freeze the month's invoices "
        "(lake/issued/) and write each invoice's documents under exports/. A month already "
        "issued changes nothing and exits 0; later corrections become adjustments.",
        "tally close --home data --month 2026-09",
        statuses=CLOSE_CODES,
    )
    c.add_argument("--month", type=_month, required=True, metavar="YYYY-MM", help="the month")
    c.add_argument(
        "--payment-terms",
        type=_days,
        default=os.environ.get("TALLY_PAYMENT_TERMS_DAYS", "30"),
        metavar="DAYS",
        help="days from the issue date to the due date (default 30; env TALLY_PAYMENT_TERMS_DAYS)",
    )

    s = _command(
        sub,
        "simulate",
        [common, engine],
        "rate a month under a candidate price book",
        "Rate a month's usage under a candidate price book and print, per invoice, the "
        "current and simulated subtotal and their difference, then totals per currency. "
        "Writes nothing to the marts.",
        "tally simulate --home data --price-book new.yaml --month 2026-10 --output diff.csv",
    )
    s.add_argument(
        "--price-book",
        type=Path,
        required=True,
        metavar="FILE",
        help="a price book YAML file or a folder of them",
    )
    s.add_argument("--month", type=_month, required=True, metavar="YYYY-MM", help="the month")
    s.add_argument(
        "--output", type=Path, metavar="FILE", help="also write the table to a .csv or .parquet"
    )

    q = _command(
        sub,
        "query",
        [common, engine],
        "run read-only SQL against the warehouse",
        "Run one SELECT against the warehouse (schemas marts, staging, intermediate, "
        "reconciliation) and print the result: a table, or every row as CSV or JSON (money "
        "as exact decimal strings). Read-only: nothing in the warehouse or on disk changes.",
        'tally query --home data --format csv "select * from marts.fct_invoices"',
    )
    q.add_argument("sql", metavar="SQL", help="one SELECT (WITH, FROM-first, DESCRIBE, SHOW)")
    q.add_argument(
        "--format",
        choices=QUERY_FORMATS,
        default="table",
        help="table (default; long results cut), csv or json (every row, nothing cut)",
    )
    q.add_argument(
        "--timeout",
        type=_seconds,
        default=60,
        metavar="SECONDS",
        help="stop a query that runs longer than this (default 60)",
    )
    q.add_argument(
        "--memory-limit",
        type=_size,
        default="3GB",
        metavar="SIZE",
        help="stop a query whose work or result needs more memory than this (default 3GB)",
    )

    _command(
        sub,
        "report",
        [common, engine],
        "rebuild the HTML reports from the marts",
        "Rebuild reports/ from the marts, as every run does: index.html for finance (revenue, "
        "deferred revenue, issued vs the billing system, open findings, top customers) and "
        "customers/<customer_id>.html with its .json for each customer. The pages open from "
        "disk with no network; serve the folder with any static file server.",
        "tally report --home data && python -m http.server -d data/reports 8000",
    )

    w = _command(
        sub,
        "watch",
        [common, engine],
        "live spend: a micro-batch each time exports land",
        "Run in the foreground and watch landing/usage (file-system notifications, and a look "
        "every --interval seconds). When new files have settled (unchanged for --settle "
        "seconds; dot-files and *.tmp are never read), run a micro-batch: ingest them, rebuild "
        "the spend marts (mart_customer_spend, fct_spend_notifications; no tests), raise spend "
        "notifications and rewrite the pages and feeds of the customers whose figures changed. "
        "The nightly `tally run` stays the full build (tests, reconciliation, finance page) and "
        "waits for a micro-batch in progress; month close needs it after micro-batches. "
        "Ctrl-C or SIGTERM ends the watch after the current micro-batch. Needs one full "
        "`tally run` in the home first.",
        "tally watch --home data --interval 10",
        statuses=WATCH_CODES,
    )
    w.add_argument(
        "--interval",
        type=_positive_seconds,
        default=10.0,
        metavar="SECONDS",
        help="look for new files at least this often (default 10)",
    )
    w.add_argument(
        "--settle",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="a file modified less than this long ago may still be being written: it waits "
        "(default 2)",
    )

    d = _command(
        sub,
        "demo",
        [common, quiet],
        "generate + run + close + summary",
        "Generate a synthetic world into the home, run it, close every month but the last (left "
        "open, as the current month is: its drafts, spend to date and spend notifications are "
        "what the customer reports show), write the reports and print the summary. Refuses a "
        "home that already holds data unless --force.",
        "tally demo --home data",
        statuses=DEMO_CODES,
    )
    d.add_argument(
        "--force", action="store_true", help="replace what the home holds with the demo world"
    )
    return parser
