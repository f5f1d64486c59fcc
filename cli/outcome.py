"""The outcome of the last `tally run`: its exit status and the checks that failed, kept with
the state of the marts it left (`warehouse/last_run.json`). A run with nothing new repeats it
instead of starting Dagster and dbt to find the same answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields

from lake.freshness import built_record
from lake.home import Home
from lake.records import read_json_record, write_json_record


@dataclass(frozen=True)
class Outcome:
    status: int
    failed_checks: dict[str, list[str]]  # severity -> check names
    run_id: str
    finished_at: str
    built: dict | None  # the marts' build record when the run ended


def _path(home: Home):
    return home.warehouse_folder / "last_run.json"


def record(home: Home, status: int, failed_checks: dict[str, list[str]], run_id: str) -> None:
    outcome = Outcome(
        status=status,
        failed_checks=failed_checks,
        run_id=run_id,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        built=built_record(home),
    )
    write_json_record(_path(home), asdict(outcome))


def standing(home: Home) -> Outcome | None:
    """The last run's outcome, if the marts are still exactly as it left them; None when it is
    unknown (no record, or one that cannot be read)."""
    body = read_json_record(_path(home))
    if body is None or not _well_formed(body):
        return None
    outcome = Outcome(**body)
    current = built_record(home)
    return outcome if current is not None and current == outcome.built else None


def _well_formed(body: dict) -> bool:
    """Whether a record read back is an outcome this version wrote (a record edited by hand, or
    written by another version, is unknown)."""
    return (
        set(body) == {f.name for f in fields(Outcome)}
        and body["status"] in (0, 1, 3)
        and isinstance(body["run_id"], str)
        and isinstance(body["finished_at"], str)
        and isinstance(body["failed_checks"], dict)
        and all(
            isinstance(names, list) and all(isinstance(n, str) for n in names)
            for names in body["failed_checks"].values()
        )
    )
