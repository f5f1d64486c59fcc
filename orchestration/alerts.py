"""Alerts for failed data-quality checks (SPEC 6).

Each failed check appends one JSON object to `<home>/alerts/alerts.jsonl` and, when
`TALLY_ALERT_WEBHOOK` is set, POSTs the same object to it with a Slack-compatible `text` field.
A webhook that fails is logged and never fails the run: the alert is already on disk.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

from transforms.home import Home

log = logging.getLogger("tally.alerts")
WEBHOOK_ENV = "TALLY_ALERT_WEBHOOK"
WEBHOOK_TIMEOUT_SECONDS = 10


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
    return sum(0 if _post(url, alert.payload()) else 1 for alert in alerts)


def _post(url: str, body: dict) -> bool:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
        return True
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        log.warning("alert webhook failed (%s): %s; the alert is in alerts.jsonl", url, exc)
        return False
