"""The outcome of the last `tally run`: its exit status and the checks that failed, kept with
the state of the marts it left (`warehouse/last_run.json`). A run with nothing new repeats it
instead of starting Dagster and dbt to find the same answer."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass

from lake.freshness import built_record
from lake.home import Home


@dataclass(frozen=True)
class Outcome:
    status: int
    failed_checks: dict[str, list[str]]  # severity -> check names
    run_id: str
    finished_at: str
    built: str | None  # the marts' build record when the run ended


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
    path = _path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(outcome), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def standing(home: Home) -> Outcome | None:
    """The last run's outcome, if the marts are still exactly as it left them."""
    path = _path(home)
    if not path.exists():
        return None
    outcome = Outcome(**json.loads(path.read_text(encoding="utf-8")))
    current = built_record(home)
    return outcome if current is not None and current == outcome.built else None
