"""Webhooks never fail or delay a run past one deadline, and their URL never reaches a log."""

import base64
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lake.home import Home
from orchestration.alerts import Alert, raise_alerts
from publish.webhook import deliver, redact

SECRET = "T000/B000/XXXXsecretXXXX"


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict, str | None]] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Recorder.received.append((body, self.headers.get("Authorization")))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class _Dripper(BaseHTTPRequestHandler):
    """Answers with a long body, one byte every second: the run must not wait for it."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(30):
            try:
                self.wfile.write(b"x")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(1)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(request):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _alert() -> Alert:
    return Alert(check="fct_invoices:check", severity="error", partition=None, summary="x")


@pytest.mark.parametrize("server", [_Dripper], indirect=True)
def test_a_webhook_that_drips_one_byte_a_second_costs_at_most_the_deadline(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_port}/{SECRET}"
    started = time.monotonic()
    delivered = deliver(url, [{"text": "a"}, {"text": "b"}], what="alert", deadline_seconds=2)
    assert delivered == 0
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("server", [_Recorder], indirect=True)
def test_user_info_in_the_url_is_sent_as_basic_auth(server, tmp_path):
    _Recorder.received.clear()
    url = f"http://hook:p%40ss@127.0.0.1:{server.server_port}/{SECRET}"
    failed = raise_alerts(Home.at(tmp_path), [_alert()], webhook=url)
    assert failed == 0
    [(body, auth)] = _Recorder.received
    assert body["check"] == "fct_invoices:check"
    assert auth == "Basic " + base64.b64encode(b"hook:p@ss").decode()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:hunter2@127.0.0.1:{_closed_port()}/{SECRET}",
        f"https://127.0.0.1:{_closed_port()}/services/{SECRET}?token=hunter2",
        f"ftp://user:hunter2@example.invalid/{SECRET}",
        f"http://[::1/{SECRET}hunter2",
    ],
    # Stable ids: the ports are picked at collection, and parallel workers must collect the
    # same tests.
    ids=["refused-http-with-user", "refused-https-with-token", "ftp", "malformed"],
)
def test_a_failing_webhook_never_shows_its_secret(tmp_path, caplog, capsys, url):
    caplog.set_level(logging.DEBUG)
    failed = raise_alerts(Home.at(tmp_path), [_alert(), _alert()], webhook=url)
    assert failed == 2
    shown = caplog.text + "".join(capsys.readouterr())
    assert "webhook" in shown
    assert "hunter2" not in shown and "secret" not in shown
    # the alert itself is on disk, with no URL in it
    lines = (tmp_path / "alerts" / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "hunter2" not in lines[0]


def test_redaction_keeps_scheme_host_and_port_only():
    assert redact("https://u:p@hooks.example.com:8443/T0/B0/secret?x=1") == (
        "https://hooks.example.com:8443/…"
    )
