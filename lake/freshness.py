"""Whether the marts reflect the landing files and the last run: what month close requires.

A successful build of the marts records what it was built from in `warehouse/built.json`:
the committed ingestion batches and a fingerprint of the price book and reference files. A
build that starts removes the record, so a build that failed halfway leaves none. Close
issues only from marts whose record matches the home as it is now (SPEC 3: invoices of a
closed month never change, so they must not be issued from stale numbers).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lake.home import Home
from lake.ingest import new_landing_files, read_manifests
from lake.price_book import price_book_files


def _record(home: Home) -> Path:
    return home.warehouse_folder / "built.json"


def inputs_fingerprint(home: Home) -> str:
    """sha256 over the names and contents of the price book and reference files."""
    digest = hashlib.sha256()
    files = [*price_book_files(home.pricing), *sorted(home.landing_reference.glob("*.csv"))]
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
    record = _record(home)
    record.parent.mkdir(parents=True, exist_ok=True)
    body = _state(home, project)
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, record)


def why_stale(home: Home) -> str | None:
    """Why the marts do not reflect the home as it is now, in one line; None if they do."""
    record = _record(home)
    if not record.exists():
        return "the last run did not finish building the marts"
    built = json.loads(record.read_text(encoding="utf-8"))
    if built.get("batches") != _committed_batches(home):
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


def built_record(home: Home) -> str | None:
    """The build record as written, or None when the marts are being (or were never) built."""
    record = _record(home)
    return record.read_text(encoding="utf-8") if record.exists() else None


def unchanged_since_built(home: Home, project: str) -> bool:
    """Whether a build now would read exactly what the last complete build read: the same
    batches, lake files, price book, references and models, into a warehouse that is there.
    (New landing files are not looked at: a run ingests them first, and they become batches.)"""
    record = _record(home)
    if not record.exists() or not home.has_warehouse():
        return False
    return json.loads(record.read_text(encoding="utf-8")) == _state(home, project)


def describe_stale(month, reason: str) -> str:
    return (
        f"not closing {month:%Y-%m}: the marts are out of date: {reason}; "
        "run `tally run` first, then close"
    )
