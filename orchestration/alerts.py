"""Alerts for failed data-quality checks (SPEC 6).

Each failed check appends one JSON object to `<home>/alerts/alerts.jsonl` and, when
`TALLY_ALERT_WEBHOOK` is set, POSTs the same object to it with a Slack-compatible `text` field.
A webhook that fails is logged (scheme and host only: the URL is a secret) and never fails
or delays the run past one deadline: the alert is already on disk.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field

from lake.home import Home
from publish.webhook import deliver

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

    def payload(self) -> dict:
        body = asdict(self)
        where = f" [{self.partition}]" if self.partition else ""
        body["text"] = (
            f":rotating_light: tally {self.severity}: {self.check}{where}: {self.summary}"
        )
        return body


def raise_alerts(home: Home, alerts: list[Alert], *, webhook: str | None = None) -> int:
    """Record every alert, then deliver it; returns how many webhook deliveries failed."""
    if not alerts:
        return 0
    home.alerts.parent.mkdir(parents=True, exist_ok=True)
    with home.alerts.open("a", encoding="utf-8") as fh:
        for alert in alerts:
            fh.write(json.dumps(alert.payload(), sort_keys=True) + "\n")
    url = webhook if webhook is not None else os.environ.get(WEBHOOK_ENV)
    if not url:
        return 0
    delivered = deliver(url, [alert.payload() for alert in alerts], what="alert")
    return len(alerts) - delivered
