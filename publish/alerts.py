"""Alerts for failed data-quality checks and failed runs.

Each alert appends one JSON object to `<home>/alerts/alerts.jsonl`, with an `alert_id` and a
Slack-compatible `text` field. When `TALLY_ALERT_WEBHOOK` is set, the alert also waits in the
webhook's outbox (`alerts/webhook_outbox.jsonl`) until the webhook takes it: POSTed at once,
and by every later run (a run with nothing new included) while it has not, with its id as the
idempotency key (publish.webhook). A webhook that fails is logged (scheme and host only: the
URL is a secret) and never fails or delays the run past one deadline: the alert is on disk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field

from lake.home import Home
from lake.records import write_text_atomically
from publish.webhook import TakenJournal, deliver

WEBHOOK_ENV = "TALLY_ALERT_WEBHOOK"


@dataclass(frozen=True)
class Alert:
    check: str  # asset:check_name
    severity: str  # error | warning
    partition: str | None
    summary: str
    counts: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    raised_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    @property
    def alert_id(self) -> str:
        """The same alert has the same id: a digest of everything it says."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:32]

    def payload(self) -> dict:
        body = asdict(self)
        body["alert_id"] = self.alert_id
        where = f" [{self.partition}]" if self.partition else ""
        body["text"] = (
            f":rotating_light: tally {self.severity}: {self.check}{where}: {self.summary}"
        )
        return body


def raise_alerts(home: Home, alerts: list[Alert], *, webhook: str | None = None) -> int:
    """Record every alert, then deliver what waits for the webhook; how many still wait for
    it."""
    if alerts:
        home.alerts.parent.mkdir(parents=True, exist_ok=True)
        with home.alerts.open("a", encoding="utf-8") as fh:
            for alert in alerts:
                fh.write(json.dumps(alert.payload(), sort_keys=True) + "\n")
    url = webhook if webhook is not None else os.environ.get(WEBHOOK_ENV)
    if not url:
        return 0
    if alerts:
        with _outbox(home).open("a", encoding="utf-8") as fh:
            for alert in alerts:
                fh.write(json.dumps(alert.payload(), sort_keys=True) + "\n")
    return deliver_waiting_alerts(home, url)[1]


def deliver_waiting_alerts(home: Home, webhook: str | None = None) -> tuple[int, int]:
    """POST the alerts in the outbox that the webhook has not taken, oldest first; how many it
    took now, and how many still wait (none when no webhook is set). An outbox whose every
    alert was taken is emptied."""
    url = webhook if webhook is not None else os.environ.get(WEBHOOK_ENV)
    if not url:
        return 0, 0
    journal = TakenJournal(home.alerts.with_name("webhook_taken.jsonl"))
    taken = journal.ids()
    waiting = [a for a in _read_outbox(home) if a["alert_id"] not in taken]
    now_taken: list[str] = []
    if waiting:
        now = dt.datetime.now(dt.UTC).isoformat()
        now_taken = deliver(
            url,
            waiting,
            key="alert_id",
            what="alert",
            taken=lambda alert_id: journal.add(alert_id, now),
        )
        taken = journal.ids()
        waiting = [a for a in waiting if a["alert_id"] not in taken]
    if not waiting:  # the outbox first: a kill between the two leaves nothing to resend
        _outbox(home).unlink(missing_ok=True)
        journal.clear()
    elif taken:
        write_text_atomically(
            _outbox(home), "".join(json.dumps(a, sort_keys=True) + "\n" for a in waiting)
        )
        journal.clear()
    return len(now_taken), len(waiting)


def _outbox(home: Home):
    return home.alerts.with_name("webhook_outbox.jsonl")


def _read_outbox(home: Home) -> list[dict]:
    """The alerts waiting for the webhook; a line cut short by a kill is skipped (its alert is
    in alerts.jsonl)."""
    path = _outbox(home)
    if not path.exists():
        return []
    waiting = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            alert = json.loads(line)
            alert["alert_id"]  # noqa: B018 - an object without an id is not an alert
        except (ValueError, TypeError, KeyError):
            continue
        waiting.append(alert)
    return waiting
