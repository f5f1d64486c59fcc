"""`tally`: the command line (its parser is cli/parser.py, its commands cli/commands.py)."""

import contextlib
import logging
import os
import sys

from cli.commands import (
    EXIT_ERROR,
    UsageError,
    check_engine,
    cmd_close,
    cmd_demo,
    cmd_generate,
    cmd_query,
    cmd_report,
    cmd_run,
    cmd_simulate,
)
from cli.parser import build_parser
from cli.piped import UntilReaderGoes
from cli.watch import cmd_watch
from lake.home import Home
from lake.records import Unreadable
from orchestration.runner import HomeBusy

# Commands that make a home; the others need one that exists.
MAKES_HOME = ("generate", "demo")
COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "close": cmd_close,
    "simulate": cmd_simulate,
    "query": cmd_query,
    "report": cmd_report,
    "watch": cmd_watch,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, build the home once, run its command; the exit status."""
    args = build_parser().parse_args(argv)
    for name in ("customers", "days", "events_per_day"):
        if getattr(args, name, 1) is not None and getattr(args, name, 1) < 1:
            print(f"tally: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return EXIT_ERROR
    try:
        engine = getattr(args, "engine", "duckdb")
        check_engine(engine)
        home = Home.at(args.home, engine)
        if args.command not in MAKES_HOME and not home.root.is_dir():
            raise UsageError(
                f"no such home: {home.root} (make one with `tally demo --home {home.root}` or "
                "`tally generate`, or give --home / TALLY_HOME)"
            )
        return COMMANDS[args.command](args, home)
    except (UsageError, HomeBusy, Unreadable) as exc:
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
