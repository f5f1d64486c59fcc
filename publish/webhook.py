"""POSTing JSON to a webhook (alerts, spend notifications): one client for both, by these rules.

- **One deadline** for all of a call's deliveries: no request starts after it, and a request in
  flight when it passes is cut. A webhook that is down, slow, or answers one byte every few
  seconds costs the run at most the deadline, and nothing is sent after the call returns.
- **Taken means a 2xx.** A body counts as delivered only when a 2xx status arrives (its response
  body is not waited for). Anything else, a redirect included, is a failed delivery: a redirect
  is never followed, so the body and the credentials in the URL never leave its origin.
- **At least once, never again once taken.** Every body carries an id (the notification's, the
  alert's), also sent as the `Idempotency-Key` header: a request cut at the deadline may have
  reached the receiver and is sent again later, and the receiver drops the repeat by its key.
  The caller hears of each 2xx the moment it arrives (`taken`) and records it before the next
  request starts, so tally itself never sends an id a webhook took.
- **The URL is a secret** (a token in its path, a password in it): only its scheme and host are
  ever logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.parse
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger("tally.webhook")
WEBHOOK_DEADLINE_SECONDS = 10  # for all of one call's deliveries together
IDEMPOTENCY_HEADER = "Idempotency-Key"


def deliver(
    url: str,
    bodies: list[dict],
    *,
    key: str,
    what: str,
    taken: Callable[[str], None] = lambda _id: None,
    deadline_seconds: float = WEBHOOK_DEADLINE_SECONDS,
) -> list[str]:
    """POST `bodies` in order, each identified by its field `key`, until one fails or the
    deadline passes; the ids the webhook took (a 2xx), in order. `taken(id)` is called as each
    2xx arrives. Nothing here raises: a failure is logged in one line and the rest wait."""
    _quiet_http_client_logs()
    ids: list[str] = []

    def took(body_id: str) -> None:
        taken(body_id)
        ids.append(body_id)

    _run(_post_in_order(url, bodies, key, what, took, deadline_seconds))
    return ids


async def _post_in_order(
    url: str,
    bodies: list[dict],
    key: str,
    what: str,
    took: Callable[[str], None],
    deadline: float,
) -> None:
    def failed(reason: str) -> None:
        log.warning(
            "%s webhook failed (%s: %s; %d of %d delivered); the rest wait on disk",
            what,
            redact(url),
            reason,
            done,
            len(bodies),
        )

    import httpx  # only when there is something to deliver: it costs a tenth of a second

    done = 0
    parts = urllib.parse.urlsplit(url) if _parses(url) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        failed("not an http(s) URL")
        return
    try:
        async with (
            asyncio.timeout(deadline),
            httpx.AsyncClient(timeout=deadline, follow_redirects=False) as client,
        ):
            for body in bodies:
                status = await _post(client, url, body, str(body[key]))
                if not 200 <= status < 300:
                    redirect = ", a redirect: not followed" if 300 <= status < 400 else ""
                    failed(f"HTTP {status}{redirect}")
                    return
                took(str(body[key]))
                done += 1
    except TimeoutError:
        failed(f"gave up after {deadline:.0f} s")
    except Exception as exc:  # noqa: BLE001 - a webhook must never fail the run
        failed(_describe(exc))


async def _post(client, url: str, body: dict, body_id: str) -> int:
    """The status of one POST, as soon as it arrives (the response body is not read)."""
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: body_id}
    content = json.dumps(body).encode("utf-8")
    async with client.stream("POST", url, content=content, headers=headers) as response:
        return response.status_code


def _quiet_http_client_logs() -> None:
    """httpx logs every request's full URL at INFO (credentials and token included), and
    httpcore the response headers at DEBUG (a redirect's target): neither logs below WARNING,
    whatever the root logger's level, so no handler (a log file, Dagster's event log) gets
    them."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _run(work: Coroutine) -> None:
    """Run a coroutine to its end from synchronous code (on a thread of its own when this
    thread already runs an event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook") as pool:
        pool.submit(asyncio.run, work).result()


def _parses(url: str) -> bool:
    try:
        urllib.parse.urlsplit(url).port  # noqa: B018 - a bad port raises only when read
    except ValueError:
        return False
    return True


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
    text = " ".join(str(exc).split())
    if not text or "://" in text or "@" in text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text[:120]}"


class TakenJournal:
    """The ids a webhook took, appended to a file and flushed to disk the moment each 2xx
    arrives, until the caller folds them into its own record. A run killed right after a 2xx
    then still knows the id was taken. A line cut short by a kill is not an id: that body is
    sent again, with its idempotency key."""

    def __init__(self, path: Path):
        self.path = path

    def ids(self) -> dict[str, str]:
        """Each id taken, with when (ISO 8601, UTC) it was taken."""
        if not self.path.exists():
            return {}
        taken = {}
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines(True):
            try:
                entry = json.loads(line) if line.endswith("\n") else None
                taken[str(entry["id"])] = str(entry["at"])
            except (ValueError, TypeError, KeyError):
                continue
        return taken

    def add(self, body_id: str, at: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": body_id, "at": at}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
