"""Customer spend notifications: recorded once, written once, delivered until taken.

`marts.fct_spend_notifications` holds every notification raised so far: the ones earlier runs
recorded (from the lake) and the ones this run raised for the first time. After the marts,
`record_and_deliver`:

1. records the new ones in the lake (`lake/notifications/notifications.parquet`), as the mart
   has them: from then on no run raises them again;
2. appends each recorded notification that `alerts/notifications.jsonl` lacks, with a human
   `text` (a notification already in the file is never written twice, also after a kill
   between the two steps);
3. when `TALLY_NOTIFY_WEBHOOK` is set, POSTs every notification the webhook has not taken yet,
   oldest first, each with its id as the idempotency key (publish.webhook). Each 2xx is
   journalled the moment it arrives and folded into the record after, so a notification the
   webhook took is never sent again, even after a kill. One that was not taken waits for the
   next run (a run with nothing new included, `deliver_waiting`) and never fails this one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lake.home import Home
from lake.io import write_table
from lake.schemas import NOTIFICATION_SCHEMA
from publish.pages import period_text, to_json
from publish.webhook import TakenJournal, deliver
from transforms.money import amount_text

WEBHOOK_ENV = "TALLY_NOTIFY_WEBHOOK"
STORE_NAME = "notifications.parquet"
MART_COLUMNS = [c for c in NOTIFICATION_SCHEMA if c != "webhook_delivered_at"]
KINDS = {
    "spend_threshold": 0,
    "projected_over_budget": 1,
    "credits_running_out": 2,
    "credits_topped_up": 3,
}


@dataclass(frozen=True)
class Delivery:
    recorded: int  # raised for the first time by this run
    written: int  # lines appended to notifications.jsonl
    posted: int  # taken by the webhook now
    pending: int  # the webhook has yet to take (it is set and failed, or timed out)


def record_and_deliver(
    home: Home, mart: pl.DataFrame, *, now: dt.datetime, webhook: str | None = None
) -> Delivery:
    """Steps 1-3 above for the notifications of `mart` (rows of fct_spend_notifications)."""
    store = read_store(home)
    new = mart.select(MART_COLUMNS).join(
        store.select("notification_id"), on="notification_id", how="anti"
    )
    if new.height:
        # Oldest first in the record (and the file); a run's own by customer, then as KINDS.
        new = (
            new.with_columns(pl.lit(None).alias("webhook_delivered_at"))
            .cast(NOTIFICATION_SCHEMA)
            .sort(
                pl.col("customer_id"),
                pl.col("kind").replace_strict(KINDS, return_dtype=pl.Int32, default=len(KINDS)),
                pl.col("threshold_pct"),
                nulls_last=True,
            )
        )
        _save(home, pl.concat([store, new]))
    sent = deliver_waiting(home, now=now, webhook=webhook)
    return Delivery(new.height, sent.written, sent.posted, sent.pending)


def deliver_waiting(home: Home, *, now: dt.datetime, webhook: str | None = None) -> Delivery:
    """Steps 2 and 3 for the notifications already recorded: what a run with nothing new does,
    and the `notify_customers` job."""
    url = webhook if webhook is not None else os.environ.get(WEBHOOK_ENV)
    store = read_store(home)
    written = _append_missing_lines(home, store)
    waiting = store.filter(pl.col("webhook_delivered_at").is_null())
    if not url or not waiting.height:
        return Delivery(0, written, 0, waiting.height if url else 0)
    journal = _journal(home)
    at = now.astimezone(dt.UTC).isoformat()
    taken = deliver(
        url,
        [payload(row) for row in waiting.iter_rows(named=True)],
        key="notification_id",
        what="notification",
        taken=lambda notification_id: journal.add(notification_id, at),
    )
    if taken:
        _save(home, read_store(home))
    return Delivery(0, written, len(taken), waiting.height - len(taken))


def read_store(home: Home) -> pl.DataFrame:
    """Every notification recorded, with when the webhook took it (the journal's deliveries
    included: a run killed before folding them into the record leaves them there)."""
    path = _store_path(home)
    store = pl.DataFrame(schema=NOTIFICATION_SCHEMA)
    if path.exists():  # a record from an older release lacks the columns added since: null
        store = pl.concat([store, pl.read_parquet(path)], how="diagonal_relaxed")
        store = store.select(list(NOTIFICATION_SCHEMA)).cast(NOTIFICATION_SCHEMA)
    taken = _journal(home).ids()
    if not taken:
        return store
    at = (
        pl.col("notification_id")
        .replace_strict(taken, default=None, return_dtype=pl.String)
        .str.to_datetime(time_zone="UTC", time_unit="us")
    )
    store = store.with_columns(
        pl.coalesce("webhook_delivered_at", at)
        .cast(NOTIFICATION_SCHEMA["webhook_delivered_at"])
        .alias("webhook_delivered_at")
    )
    return store


def _save(home: Home, store: pl.DataFrame) -> None:
    """Write the record, the journal's deliveries folded in (`read_store`), then empty the
    journal: a kill between the two leaves deliveries the record already holds."""
    write_table(store, _store_path(home))
    _journal(home).clear()


def _store_path(home: Home) -> Path:
    return home.lake_notifications / STORE_NAME


def _journal(home: Home) -> TakenJournal:
    return TakenJournal(home.lake_notifications / "webhook_taken.jsonl")


def undelivered(home: Home) -> list[str]:
    """Ids of the recorded notifications the webhook has not taken yet."""
    store = read_store(home).filter(pl.col("webhook_delivered_at").is_null())
    return store["notification_id"].to_list()


def _append_missing_lines(home: Home, store: pl.DataFrame) -> int:
    path = home.notifications
    seen: set[str] = set()
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            seen = {json.loads(line)["notification_id"] for line in fh if line.strip()}
    missing = store.filter(~pl.col("notification_id").is_in(list(seen)))
    if not missing.height:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for row in missing.iter_rows(named=True):
            fh.write(to_json(payload(row)) + "\n")
    return missing.height


def payload(row: dict) -> dict:
    """A notification as a JSON object: the mart's fields (money as exact strings, in the
    currency's minor units) and `text`, a sentence a person reads (Slack-compatible)."""
    body = {k: row[k] for k in MART_COLUMNS}
    for column in ("amount", "budget"):
        if body[column] is not None:
            body[column] = amount_text(body[column], row["currency"])
    body["text"] = text(row)
    return json.loads(to_json(body))


def period_name(start: dt.date, end: dt.date | None) -> tuple[str, str]:
    """How a notification names its period and budget: a calendar month by name ("September
    2026", "the monthly budget"), another period by its first and last days ("2026-10-01 to
    2026-12-31", "the budget for the period"). A period without an end (raised before billing
    cadences, a top-up's) is its month."""
    if end is None or period_text(start, end) == f"{start:%Y-%m}":
        return f"{start:%B %Y}", "monthly budget"
    return period_text(start, end), "budget for the period"


def text(row: dict) -> str:
    def money(amount):
        if amount is None:
            return "-"
        return f"{amount_text(amount, row['currency'], grouped=True)} {row['currency']}"

    month, budget = period_name(row["period_start"], row.get("period_end"))
    who = row["customer_id"]
    if row["kind"] == "spend_threshold":
        return (
            f"{who}: spend for {month} reached {row['threshold_pct']}% of the {budget}: "
            f"{money(row['amount'])} of {money(row['budget'])} (as of {row['as_of']})."
        )
    if row["kind"] == "projected_over_budget":
        return (
            f"{who}: projected spend for {month} is {money(row['amount'])}, over the "
            f"{budget} of {money(row['budget'])} (as of {row['as_of']})."
        )
    if row["kind"] == "credits_topped_up":
        paid = "free of charge" if not row["amount"] else f"for {money(row['amount'])}"
        topup = row["notification_id"].rsplit(":", 1)[-1]
        return (
            f"{who}: prepaid credits were topped up automatically on {row['as_of']} "
            f"({topup}, {paid}) as the balance reached the threshold while {month} was billed."
        )
    return (
        f"{who}: prepaid credits are running out: they would leave {money(row['amount'])} of "
        f"the projected spend for {month} uncovered (as of {row['as_of']})."
    )
