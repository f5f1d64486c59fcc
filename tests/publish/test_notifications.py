"""Spend notifications are recorded once, written once and delivered until the webhook takes
them. The mart rows stand in for marts.fct_spend_notifications."""

import datetime as dt
import json
import logging
import socket
import threading
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest

from lake.home import Home
from lake.io import write_table
from lake.schemas import NOTIFICATION_SCHEMA
from publish.notifications import (
    MART_COLUMNS,
    deliver_waiting,
    read_store,
    record_and_deliver,
    text,
    undelivered,
)
from publish.webhook import TakenJournal

NOW = dt.datetime(2026, 10, 6, 2, 0, tzinfo=dt.UTC)
SECRET_PATH = "/hooks/T000/secret-token"


def mart(*rows: tuple) -> pl.DataFrame:
    """Rows of (customer, kind, threshold, amount, budget)."""
    return pl.DataFrame(
        [
            {
                "notification_id": f"{c}:2026-10:{kind}" + (f":{t}" if t else ""),
                "customer_id": c,
                "period_start": dt.date(2026, 10, 1),
                "kind": kind,
                "threshold_pct": t,
                "amount": D(amount),
                "budget": D(budget) if budget else None,
                "currency": "USD" if c != "kaiju" else "JPY",
                "as_of": dt.date(2026, 10, 5),
                "sent_at": NOW,
            }
            for c, kind, t, amount, budget in rows
        ],
        schema={k: v for k, v in NOTIFICATION_SCHEMA.items() if k in MART_COLUMNS},
    )


FIRST = mart(
    ("acme", "spend_threshold", 50, "51.2000", "100.0000"),
    ("acme", "projected_over_budget", None, "310.0000", "100.0000"),
    ("kaiju", "credits_running_out", None, "1200.0000", None),
)


def lines(home: Home) -> list[dict]:
    return [json.loads(x) for x in home.notifications.read_text().splitlines()]


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict] = []
    keys: list[str] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        _Recorder.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        _Recorder.keys.append(self.headers["Idempotency-Key"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Recorder.received, _Recorder.keys = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}{SECRET_PATH}"
    httpd.shutdown()
    httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


def test_each_notification_is_written_once_with_a_sentence_for_people(tmp_path):
    home = Home.at(tmp_path)
    first = record_and_deliver(home, FIRST, now=NOW, webhook="")
    assert (first.recorded, first.written, first.posted) == (3, 3, 0)
    written = lines(home)
    assert [n["notification_id"] for n in written] == list(FIRST["notification_id"])
    acme = written[0]
    assert (acme["amount"], acme["budget"], acme["threshold_pct"]) == ("51.20", "100.00", 50)
    assert acme["text"] == (
        "acme: spend for October 2026 reached 50% of the monthly budget: 51.20 USD of 100.00 USD "
        "(as of 2026-10-05)."
    )
    assert "1,200 JPY" in written[2]["text"]
    # The next run's mart holds the same three (from the lake) and one new threshold.
    later = pl.concat([FIRST, mart(("acme", "spend_threshold", 80, "85.0000", "100.0000"))])
    second = record_and_deliver(home, later, now=NOW, webhook="")
    assert (second.recorded, second.written) == (1, 1)
    assert [n["notification_id"] for n in lines(home)][-1] == "acme:2026-10:spend_threshold:80"
    assert record_and_deliver(home, later, now=NOW, webhook="").written == 0
    assert len(lines(home)) == 4


def test_a_kill_between_recording_and_writing_writes_each_line_once(tmp_path):
    home = Home.at(tmp_path)
    record_and_deliver(home, FIRST, now=NOW, webhook="")
    home.notifications.write_text(home.notifications.read_text().splitlines(True)[0])
    again = record_and_deliver(home, FIRST, now=NOW, webhook="")
    assert (again.recorded, again.written) == (0, 2)
    assert sorted(n["notification_id"] for n in lines(home)) == sorted(FIRST["notification_id"])


def test_a_failed_webhook_is_retried_by_the_next_run_and_its_url_never_logged(
    tmp_path, webhook, caplog
):
    caplog.set_level(logging.DEBUG)
    home = Home.at(tmp_path)
    down = record_and_deliver(home, FIRST, now=NOW, webhook=closed_port_url())
    assert (down.recorded, down.posted, down.pending) == (3, 0, 3)
    assert len(undelivered(home)) == 3
    assert SECRET_PATH not in caplog.text and "secret-token" not in caplog.text
    assert "notification webhook failed" in caplog.text
    up = record_and_deliver(home, FIRST, now=NOW, webhook=webhook)
    assert (up.recorded, up.posted, up.pending) == (0, 3, 0)
    assert [b["notification_id"] for b in _Recorder.received] == list(FIRST["notification_id"])
    assert _Recorder.received[0]["text"].startswith("acme: spend for October 2026 reached 50%")
    assert undelivered(home) == []
    assert read_store(home)["webhook_delivered_at"].null_count() == 0
    # Delivered: a later run posts nothing again.
    assert record_and_deliver(home, FIRST, now=NOW, webhook=webhook).posted == 0
    assert len(_Recorder.received) == 3
    assert len(lines(home)) == 3


def test_each_post_carries_the_notification_id_as_its_idempotency_key(tmp_path, webhook):
    home = Home.at(tmp_path)
    record_and_deliver(home, FIRST, now=NOW, webhook=webhook)
    assert _Recorder.keys == list(FIRST["notification_id"])
    assert [b["notification_id"] for b in _Recorder.received] == _Recorder.keys


def test_a_delivery_journalled_before_a_kill_is_never_sent_again(tmp_path, webhook):
    """The webhook took the first notification; the run was killed before it folded the
    journal into the record."""
    home = Home.at(tmp_path)
    record_and_deliver(home, FIRST, now=NOW, webhook="")
    first = FIRST["notification_id"][0]
    TakenJournal(home.lake_notifications / "webhook_taken.jsonl").add(first, NOW.isoformat())
    assert first not in undelivered(home)
    sent = deliver_waiting(home, now=NOW, webhook=webhook)
    assert (sent.posted, sent.pending) == (2, 0)
    assert [b["notification_id"] for b in _Recorder.received] == list(FIRST["notification_id"][1:])
    assert read_store(home)["webhook_delivered_at"].to_list() == [NOW] * 3
    assert not (home.lake_notifications / "webhook_taken.jsonl").exists()


def test_nothing_is_recorded_as_posted_when_the_webhook_redirects(tmp_path):
    class _Redirects(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Redirects)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        home = Home.at(tmp_path)
        url = f"http://127.0.0.1:{httpd.server_port}{SECRET_PATH}"
        sent = record_and_deliver(home, FIRST, now=NOW, webhook=url)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (sent.posted, sent.pending) == (0, 3)
    assert len(undelivered(home)) == 3


def test_a_quarter_or_an_anniversary_period_is_named_by_its_days_and_its_budget_is_the_periods():
    quarter = {
        "customer_id": "acme",
        "period_start": dt.date(2026, 10, 1),
        "period_end": dt.date(2027, 1, 1),
        "kind": "spend_threshold",
        "threshold_pct": 50,
        "amount": D("300.00"),
        "budget": D("120.00"),
        "currency": "USD",
        "as_of": dt.date(2026, 10, 5),
    }
    assert text(quarter) == (
        "acme: spend for 2026-10-01 to 2026-12-31 reached 50% of the budget for the period: "
        "300.00 USD of 120.00 USD (as of 2026-10-05)."
    )
    anniversary = quarter | {
        "kind": "projected_over_budget",
        "period_start": dt.date(2026, 9, 15),
        "period_end": dt.date(2026, 10, 15),
    }
    assert text(anniversary) == (
        "acme: projected spend for 2026-09-15 to 2026-10-14 is 300.00 USD, over the budget for "
        "the period of 120.00 USD (as of 2026-10-05)."
    )
    # a calendar month, and a notification raised before periods had an end, name the month
    for end in (dt.date(2026, 11, 1), None):
        month = quarter | {"period_end": end}
        assert text(month).startswith("acme: spend for October 2026 reached 50% of the monthly")


def test_a_record_from_before_period_ends_reads_with_the_end_empty(tmp_path):
    home = Home.at(tmp_path)
    record_and_deliver(home, FIRST, now=NOW, webhook="")
    [store_file] = list(home.lake_notifications.glob("notifications.parquet"))
    write_table(pl.read_parquet(store_file).drop("period_end"), store_file)
    store = read_store(home)
    assert store["notification_id"].to_list() == FIRST["notification_id"].to_list()
    assert store["period_end"].to_list() == [None, None, None]
