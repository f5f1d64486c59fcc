"""POSTing JSON to a webhook (alerts, spend notifications) without ever failing or stalling a
run, and without ever showing the URL, which is a secret: only its scheme and host are logged.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request

log = logging.getLogger("tally.webhook")
WEBHOOK_TIMEOUT_SECONDS = 5  # per socket operation
WEBHOOK_DEADLINE_SECONDS = 10  # for all of a run's deliveries together
_MAX_RESPONSE_BYTES = 64 * 1024


def deliver(
    url: str, bodies: list[dict], *, what: str, deadline_seconds: float = WEBHOOK_DEADLINE_SECONDS
) -> int:
    """POST each body to a webhook within one deadline for all of them; how many were
    delivered. Nothing here raises or waits past the deadline: a webhook that is down, slow,
    or answers one byte every few seconds costs the run at most `deadline_seconds`. The URL is
    a secret (a token in its path, a password in it): only its scheme and host are logged."""
    outcome: dict[str, int] = {"delivered": 0}
    worker = threading.Thread(
        target=_post_all, args=(url, bodies, outcome, what), name="webhook", daemon=True
    )
    worker.start()
    worker.join(deadline_seconds)
    delivered = outcome["delivered"]
    if worker.is_alive():
        log.warning(
            "%s webhook failed (%s: gave up after %.0f s, %d of %d delivered); they are on disk",
            what,
            redact(url),
            deadline_seconds,
            delivered,
            len(bodies),
        )
    return delivered


def _post_all(url: str, bodies: list[dict], outcome: dict[str, int], what: str) -> None:
    for body in bodies:
        try:
            _post(url, body)
        except Exception as exc:  # noqa: BLE001 - a webhook must never fail the run
            log.warning(
                "%s webhook failed (%s: %s); it is on disk", what, redact(url), _describe(exc)
            )
            return
        outcome["delivered"] += 1


def _post(url: str, body: dict) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    headers = {"Content-Type": "application/json"}
    if parts.username is not None:  # urllib cannot send user:password@ by itself
        credentials = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        response.read(_MAX_RESPONSE_BYTES)


def redact(url: str) -> str:
    """A webhook URL as it may be shown: scheme and host only (tokens live in the path, the
    query and the user-info)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme or '?'}://{host}{port}/…"


def _describe(exc: BaseException) -> str:
    """An exception in one line, without the URL (or credentials) it may quote."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    text = " ".join(str(exc).split())
    if "://" in text or "@" in text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text[:120]}"
