"""`tally watch`: live spend. A micro-batch (the `live_spend` job) each time new exports have
settled under landing/usage, until Ctrl-C or SIGTERM, which end it after the micro-batch in
progress.

New files are noticed through file-system notifications (watchdog) where the platform has
them, and by a look every `--interval` seconds in any case (a notification can be missed, on
a network file system for one). A file modified less than `--settle` seconds ago waits for the
next look, a little after it settles.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
import time

import polars as pl

from lake.home import Home


class _Stop:
    """Set by SIGINT or SIGTERM: the loop ends after the micro-batch in progress."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: str | None = None

    def __call__(self, signum, _frame) -> None:
        self.signal = signal.Signals(signum).name
        self.event.set()


@contextlib.contextmanager
def _stopped_by_signals(stop: _Stop):
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _notified(home: Home, poke: threading.Event):
    """File-system notifications of landing/usage set `poke`; a no-op where there are none."""
    try:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
    except ImportError:  # pragma: no cover - watchdog comes with Dagster
        yield False
        return

    class Poke(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            poke.set()

    observer = Observer()
    try:
        observer.schedule(Poke(), str(home.landing_usage), recursive=True)
        observer.start()
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        observer.stop()
        observer.join(timeout=5)


def watch(
    home: Home,
    *,
    interval: float,
    settle: float,
    stop: _Stop | None = None,
    say=print,
) -> int:
    """Micro-batches until stopped; the exit status."""
    from lake.freshness import live_record
    from orchestration.runner import HomeBusy, execute

    if not home.has_warehouse():
        say(f"tally: no full build in {home.root} yet: run `tally run` once, then watch")
        return 2
    stop = stop or _Stop()
    poke = threading.Event()
    home.landing_usage.mkdir(parents=True, exist_ok=True)
    with _stopped_by_signals(stop), _notified(home, poke) as notified:
        how = "file-system notifications and a look" if notified else "a look"
        say(
            f"watch: {home.relative(home.landing_usage)} in {home.root} ({how} every "
            f"{interval:g} s; files settle for {settle:g} s); Ctrl-C to stop"
        )
        batches = 0
        while not stop.event.is_set():
            poke.clear()
            ready, waiting = _due(home, settle)
            if ready:
                before = (live_record(home) or {}).get("last_batch")
                began = time.monotonic()
                try:
                    finished = _to_the_end(
                        execute,
                        home,
                        "live_spend",
                        op_config={"micro_batch": {"config": {"settle_seconds": settle}}},
                        announce=False,
                    )
                except HomeBusy as exc:
                    say(f"watch: {exc}; looking again in {interval:g} s")
                else:
                    batches += 1
                    live = live_record(home)
                    new = live if live and live.get("last_batch") != before else None
                    say(_said(home, finished, time.monotonic() - began, new))
            # Next look: after a notification, when a waiting file settles, or at the interval.
            timeout = settle if waiting else interval
            _wait_for(poke, stop.event, timeout)
        say(f"watch: stopped by {stop.signal or 'request'} after {batches} micro-batch(es)")
    return 0


def _to_the_end(function, *args, **kwargs):
    """`function(*args, **kwargs)` on a thread of its own, waited for here. Dagster takes over
    SIGINT and SIGTERM while it runs a job on the main thread (they interrupt the run); on
    another thread it leaves them be, so a signal during a micro-batch only asks the loop to
    stop once the micro-batch is done."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # handed back to the main thread as it is
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="micro-batch")
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _due(home: Home, settle: float) -> tuple[bool, bool]:
    """Whether a micro-batch is due, and whether a file is waiting to settle."""
    from lake.freshness import micro_batch_due

    waiting: list[str] = []
    return micro_batch_due(home, settle, waiting.append) is not None, bool(waiting)


def _wait_for(poke: threading.Event, stopped: threading.Event, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not stopped.is_set() and not poke.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        stopped.wait(min(left, 0.2))


def _said(home: Home, finished, seconds: float, live: dict | None) -> str:
    """One line for a micro-batch: what it took in and what it published."""
    clock = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
    if not finished.success:
        return (
            f"[{clock}] micro-batch failed after {seconds:.1f} s (run {finished.run_id[:8]}); "
            "the next look tries again"
        )
    if live is None:
        return f"[{clock}] micro-batch: nothing settled to ingest ({seconds:.1f} s)"
    manifest = home.lake_ingested_files / f"batch-{live['last_batch']}.parquet"
    if manifest.exists():
        files = pl.read_parquet(manifest)
        took = f"{files.height} file(s), {int(files['rows_accepted'].sum() or 0):,} events"
    else:  # a micro-batch that failed after ingesting left its batch for this one
        took = "the batch an earlier micro-batch ingested"
    return (
        f"[{clock}] micro-batch {live['last_batch']}: {took}, {live.get('pages', 0)} customer "
        f"page(s), {live.get('notifications', 0)} notification(s) in {seconds:.1f} s"
    )


def cmd_watch(args, home: Home) -> int:
    return watch(home, interval=args.interval, settle=args.settle)
