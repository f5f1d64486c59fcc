"""Whether the marts reflect the landing files and the last run: what month close requires.

A successful build of the marts records what it was built from in `warehouse/built.json`:
the committed ingestion batches and a fingerprint of the price book and reference files. A
build that starts removes the record, so a build that failed halfway leaves none, and a record
that cannot be read counts as none (lake.records): the next run builds again. Close issues only
from marts whose record matches the home as it is now (invoices of a closed month never change,
so they must not be issued from stale numbers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import polars as pl

from lake.home import Home
from lake.ingest import new_landing_files, read_manifests
from lake.landing import file_sha256
from lake.price_book import price_book_files
from lake.records import read_json_record, read_parquet_record, write_json_record


def _record(home: Home) -> Path:
    return home.warehouse_folder / "built.json"


def inputs_fingerprint(home: Home) -> str:
    """sha256 over the names and contents of the price book and reference files."""
    digest = hashlib.sha256()
    reference = [*home.landing_reference.glob("*.csv"), *home.landing_reference.glob("*.yaml")]
    files = [*price_book_files(home.pricing), *sorted(reference)]
    for path in files:
        digest.update(home.relative(path).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _committed_batches(home: Home) -> list[str]:
    return sorted(set(read_manifests(home)["batch_id"].to_list()))


def mark_building(home: Home) -> None:
    """The marts are about to change: until the build succeeds they reflect nothing."""
    _record(home).unlink(missing_ok=True)


def _lake_files(home: Home) -> str:
    """sha256 over the name and size of every lake file: a file lost, added or rewritten (in
    events, batch records or the issued store) since the build shows, without reading any.

    Not the spend-notification record: the run writes it after its build, from that build's
    `fct_spend_notifications`, which already shows every row it adds (and the webhook's
    delivery times it keeps are not read by any model). Counting it made the run after any
    run that raised a notification rebuild everything with nothing new."""
    digest = hashlib.sha256()
    if home.lake.exists():
        for f in sorted(home.lake.rglob("*.parquet")):
            if f.is_relative_to(home.lake_notifications):
                continue
            digest.update(f"{home.relative(f)}:{f.stat().st_size}\n".encode())
    return digest.hexdigest()


def _state(home: Home, project: str) -> dict:
    return {
        "batches": _committed_batches(home),
        "inputs": inputs_fingerprint(home),
        "lake_files": _lake_files(home),
        "project": project,
    }


def mark_built(home: Home, project: str = "") -> None:
    """The marts now reflect the committed batches, the lake's files, the current price book and
    references, and the models of `project` (a fingerprint of the dbt project)."""
    write_json_record(_record(home), _state(home, project))
    _live_record(home).unlink(missing_ok=True)


def _live_record(home: Home) -> Path:
    return home.warehouse_folder / "live.json"


def mark_live(home: Home, batch_id: str, at: dt.datetime, **published: int) -> None:
    """A live micro-batch refreshed the spend marts from every batch committed now, the last
    `batch_id` (no tests, no reconciliation): only the next full build makes the marts fit
    for a close again. `published`: what it published (pages, notifications), for
    `tally watch` to say."""
    earlier = live_record(home) or {}
    write_json_record(
        _live_record(home),
        {
            "micro_batches": int(earlier.get("micro_batches", 0)) + 1,
            "last_batch": batch_id,
            "last_at": at.isoformat(),
            "batches": _committed_batches(home),
            **published,
        },
    )


def marts_behind_lake(home: Home) -> list[str]:
    """The lake's batches the spend marts were not refreshed from: neither by the last full
    build nor by a micro-batch since (one that failed after ingesting leaves its batch for the
    next, which has no new file to notice). A home without a build record (never built, or a
    nightly building now) is left to the nightly: none."""
    reflected = live_record(home) or built_record(home)
    if reflected is None:
        return []
    return sorted(set(_committed_batches(home)) - set(reflected.get("batches") or []))


def live_record(home: Home) -> dict | None:
    """What the micro-batches since the last full build did (None: none since)."""
    return read_json_record(_live_record(home))


def why_stale(home: Home) -> str | None:
    """Why the marts do not reflect the home as it is now, in one line; None if they do."""
    built = read_json_record(_record(home))
    if built is None:
        return "the last run did not finish building the marts"
    if built.get("batches") != _committed_batches(home):
        live = live_record(home)
        if live is not None:
            return (
                f"{live.get('micro_batches', 1)} live micro-batch(es) (`tally watch`) refreshed "
                "the spend marts since the last full build, without its checks: run `tally run` "
                "first"
            )
        return "events were ingested after the marts were last built (did a run fail?)"
    pending = new_landing_files(home)
    if pending:
        return (
            f"{len(pending)} landing file(s) arrived or changed since the last run "
            f"(e.g. {pending[0].rel})"
        )
    if built.get("inputs") != inputs_fingerprint(home):
        return "the price book or reference data changed since the last run"
    return None


def built_record(home: Home) -> dict | None:
    """The build record, or None when the marts are being (or were never) built, or the record
    cannot be read."""
    return read_json_record(_record(home))


def unchanged_since_built(home: Home, project: str) -> bool:
    """Whether a build now would read exactly what the last complete build read: the same
    batches, lake files, price book, references and models, into a warehouse that is there.
    (New landing files are not looked at: a run ingests them first, and they become batches.)"""
    built = built_record(home)
    if built is None or not home.has_warehouse():
        return False
    return built == _state(home, project)


def edited_landing_file(home: Home, month) -> str | None:
    """A landing file whose content is not what was ingested, though its name, size and
    modification time are (what a nightly looks at), among the files of the batches that hold
    events of `month`, said in one line; None when every such file is as it was read. Each of
    those files is read and hashed: what month close verifies before it issues."""
    start, end = month.replace(day=1), (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    days = [read_parquet_record(f) for f in sorted(home.lake_batch_days.glob("batch-*.parquet"))]
    batches = {
        batch_id
        for record in days
        if record is not None
        for batch_id, day in record.select("batch_id", "event_date").iter_rows()
        if start <= day < end
    }
    manifests = read_manifests(home)
    shas: dict[str, set[str]] = {}
    for path, sha in manifests.select("file_path", "content_sha256").iter_rows():
        shas.setdefault(path, set()).add(sha)
    read = manifests.filter(
        pl.col("batch_id").is_in(sorted(batches)) & (pl.col("status") == "ingested")
    )
    for rel, batch_id in (
        read.select("file_path", "batch_id").unique().sort("file_path").iter_rows()
    ):
        path = home.root / rel
        try:
            sha = file_sha256(path)
        except OSError:
            continue  # moved away after it was ingested: its events are in the lake
        if sha not in shas[rel]:
            return (
                f"{rel} is not what batch {batch_id} ingested: its content changed, though its "
                "size and modification time did not, so no run read the new content; put the "
                "export back as it was, or, if the change is meant, touch it and `tally run` "
                "(events whose ids were ingested already stay as they were)"
            )
    return None


def micro_batch_due(
    home: Home, settle_seconds: float, waiting: Callable[[str], None] | None = None
) -> str | None:
    """A fingerprint of what a micro-batch would take in now (landing files settled and not
    yet ingested, or batches the spend marts were not refreshed from: a micro-batch that
    failed after ingesting), or None when there is none. `waiting` hears of each file that has
    not settled yet."""
    files = new_landing_files(home, settle_seconds=settle_seconds, waiting=waiting)
    behind = marts_behind_lake(home)
    if not files and not behind:
        return None
    text = "\n".join([*(f"{c.rel}\t{c.sha}" for c in files), *behind])
    return hashlib.sha256(text.encode()).hexdigest()
