"""Webhooks: one deadline that holds, no redirect followed, credentials kept at their origin,
at-least-once delivery with an idempotency key, and a URL that never reaches a log."""

import base64
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lake.home import Home
from publish.alerts import Alert, deliver_waiting_alerts, raise_alerts
from publish.webhook import TakenJournal, deliver, redact

SECRET = "T000/B000/XXXXsecretXXXX"


class _Handler(BaseHTTPRequestHandler):
    """Records every request it reads: (arrived at, body id, Idempotency-Key, Authorization)."""

    received: list[tuple[float, str | None, str | None, str | None]]

    def log_message(self, *args):
        pass

    def _read(self) -> dict:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append(
            (
                time.monotonic(),
                body.get("id") or body.get("alert_id"),
                self.headers.get("Idempotency-Key"),
                self.headers.get("Authorization"),
            )
        )
        return body

    def _answer(self, status: int, **headers) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def _serve(handler: type[_Handler]):
    handler.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def serve():
    servers = []

    def start(handler):
        httpd = _serve(type(handler.__name__, (handler,), {}))
        servers.append(httpd)
        return httpd, httpd.RequestHandlerClass

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _url(httpd, credentials: str = "") -> str:
    return f"http://{credentials}127.0.0.1:{httpd.server_port}/{SECRET}"


class _Ok(_Handler):
    def do_POST(self):  # noqa: N802 - the http.server API
        self._read()
        self._answer(200)


class _Slow(_Handler):
    """0.4 s per POST, then 200."""

    def do_POST(self):  # noqa: N802
        self._read()
        time.sleep(0.4)
        self._answer(200)


class _ReadsThenHangs(_Handler):
    def do_POST(self):  # noqa: N802
        self._read()
        time.sleep(30)


class _DripsItsStatus(_Handler):
    """Reads the body, then sends its status line one byte a second: no status ever arrives
    within the deadline."""

    def do_POST(self):  # noqa: N802
        self._read()
        for byte in b"HTTP/1.1 200 OK\r\n":
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(1)


def _bodies(n: int) -> list[dict]:
    return [{"id": f"n{i:02d}", "text": f"notification {i}"} for i in range(n)]


def test_every_post_carries_its_id_as_the_idempotency_key(serve):
    httpd, handler = serve(_Ok)
    taken = deliver(_url(httpd), _bodies(3), key="id", what="notification")
    assert taken == ["n00", "n01", "n02"]
    assert [(i, k) for _, i, k, _ in handler.received] == [(t, t) for t in taken]


def test_the_deadline_holds_and_nothing_taken_is_sent_again(serve):
    """Fifteen notifications to a webhook that takes 0.4 s each, within a 1.5 s deadline per
    run: each run stops at its deadline and sends nothing after it, and an id the webhook took
    is never sent again; only a request cut in flight is sent again (with the same key)."""
    httpd, handler = serve(_Slow)
    waiting, taken_before, runs = _bodies(15), set(), 0
    while waiting and runs < 12:
        runs += 1
        began, sent_before = time.monotonic(), len(handler.received)
        taken = deliver(_url(httpd), waiting, key="id", what="notification", deadline_seconds=1.5)
        returned = time.monotonic()
        assert returned - began < 2.5
        time.sleep(0.6)  # anything still running would reach the webhook now
        this_run = handler.received[sent_before:]
        assert all(arrived < returned for arrived, _, _, _ in this_run), runs
        assert not {i for _, i, _, _ in this_run} & taken_before, runs
        assert taken == [b["id"] for b in waiting[: len(taken)]]  # in order, none skipped
        taken_before |= set(taken)
        waiting = [b for b in waiting if b["id"] not in taken_before]
    assert not waiting and taken_before == {b["id"] for b in _bodies(15)}
    received = [i for _, i, _, _ in handler.received]
    assert 15 <= len(received) <= 15 + runs  # at most one request a run cut in flight
    assert all(key == i for _, i, key, _ in handler.received)


def test_a_webhook_that_reads_and_hangs_costs_the_deadline_and_takes_nothing(serve):
    httpd, handler = serve(_ReadsThenHangs)
    started = time.monotonic()
    assert deliver(_url(httpd), _bodies(2), key="id", what="alert", deadline_seconds=1) == []
    assert time.monotonic() - started < 2
    assert [i for _, i, _, _ in handler.received] == ["n00"]  # the second never started


def test_a_status_dripped_past_the_deadline_is_not_a_delivery(serve):
    httpd, _ = serve(_DripsItsStatus)
    started = time.monotonic()
    assert deliver(_url(httpd), _bodies(2), key="id", what="alert", deadline_seconds=2) == []
    assert time.monotonic() - started < 3


def test_a_redirect_is_a_failed_delivery_and_credentials_stay_at_their_origin(serve, caplog):
    caplog.set_level(logging.DEBUG)
    elsewhere, elsewhere_handler = serve(_Ok)

    class _Redirects(_Handler):
        def do_POST(self):  # noqa: N802
            self._read()
            self._answer(302, Location=_url(elsewhere))

    origin, origin_handler = serve(_Redirects)
    taken = deliver(_url(origin, "hook:hunter2@"), _bodies(3), key="id", what="notification")
    assert taken == []  # nothing reached anyone: nothing is recorded as posted
    assert elsewhere_handler.received == []
    [(_, _, _, auth)] = origin_handler.received  # the rest wait for the next run
    assert auth == "Basic " + base64.b64encode(b"hook:hunter2").decode()
    assert f"notification webhook failed (http://127.0.0.1:{origin.server_port}/…: HTTP 302" in (
        caplog.text
    )
    assert "hunter2" not in caplog.text and "secret" not in caplog.text


def test_user_info_in_the_url_is_sent_as_basic_auth(serve, tmp_path):
    httpd, handler = serve(_Ok)
    left = raise_alerts(Home.at(tmp_path), [_alert()], webhook=_url(httpd, "hook:p%40ss@"))
    assert left == 0
    [(_, alert_id, key, auth)] = handler.received
    assert alert_id == key and len(alert_id) == 32
    assert auth == "Basic " + base64.b64encode(b"hook:p@ss").decode()


def _alert(check: str = "fct_invoices:check") -> Alert:
    return Alert(check=check, severity="error", partition=None, summary="x")


def test_alerts_wait_for_a_failed_webhook_and_are_delivered_once_by_a_later_run(serve, tmp_path):
    home = Home.at(tmp_path)
    first, second = _alert("a:one"), _alert("a:two")
    assert raise_alerts(home, [first, second], webhook=_closed_url()) == 2
    httpd, handler = serve(_Ok)
    assert deliver_waiting_alerts(home, _url(httpd)) == (2, 0)
    assert [i for _, i, _, _ in handler.received] == [first.alert_id, second.alert_id]
    assert deliver_waiting_alerts(home, _url(httpd)) == (0, 0)  # nothing is sent twice
    assert len(handler.received) == 2
    assert not (home.alerts.parent / "webhook_outbox.jsonl").exists()
    lines = [json.loads(x) for x in home.alerts.read_text().splitlines()]
    assert [a["alert_id"] for a in lines] == [first.alert_id, second.alert_id]


def test_an_alert_the_webhook_took_before_a_kill_is_not_sent_again(serve, tmp_path):
    """Killed after the 2xx was journalled, before the outbox was rewritten."""
    home = Home.at(tmp_path)
    alerts = [_alert("a:one"), _alert("a:two")]
    raise_alerts(home, alerts, webhook=_closed_url())
    TakenJournal(home.alerts.with_name("webhook_taken.jsonl")).add(alerts[0].alert_id, "t")
    httpd, handler = serve(_Ok)
    assert deliver_waiting_alerts(home, _url(httpd)) == (1, 0)
    assert [i for _, i, _, _ in handler.received] == [alerts[1].alert_id]


def test_a_journal_line_cut_short_by_a_kill_is_not_an_id(tmp_path):
    journal = TakenJournal(tmp_path / "taken.jsonl")
    journal.add("n01", "2026-10-06T02:00:00+00:00")
    with journal.path.open("a") as fh:
        fh.write('{"id": "n02", "at": "2026-10-06T02:0')
    assert journal.ids() == {"n01": "2026-10-06T02:00:00+00:00"}


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://user:hunter2@127.0.0.1:{port}/{SECRET}"


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:hunter2@127.0.0.1:{{port}}/{SECRET}",
        f"https://127.0.0.1:{{port}}/services/{SECRET}?token=hunter2",
        f"ftp://user:hunter2@example.invalid/{SECRET}",
        f"http://[::1/{SECRET}hunter2",
    ],
    ids=["refused-http-with-user", "refused-https-with-token", "ftp", "malformed"],
)
def test_a_failing_webhook_never_shows_its_secret(tmp_path, caplog, capsys, url):
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    left = raise_alerts(Home.at(tmp_path), [_alert(), _alert("b:c")], webhook=url.format(port=port))
    assert left == 2
    shown = caplog.text + "".join(capsys.readouterr())
    assert "alert webhook failed" in shown
    assert "hunter2" not in shown and "secret" not in shown
    # the alerts themselves are on disk, with no URL in them
    lines = (tmp_path / "alerts" / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "hunter2" not in lines[0]


def test_redaction_keeps_scheme_host_and_port_only():
    assert redact("https://u:p@hooks.example.com:8443/T0/B0/secret?x=1") == (
        "https://hooks.example.com:8443/…"
    )
