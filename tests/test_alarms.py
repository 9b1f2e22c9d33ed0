"""Alarms reach a local webhook and a local SMTP server, retry when those fail, and fire only after a
fall followed by lying for the configured time."""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import threading
import time
import tomllib
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.alarms import (
    LYING_ALARM_S,
    AlarmConfig,
    AlarmTimer,
    FallAlarm,
    alarms_in_timeline,
    backoff_delays,
    deliver_alarm,
)
from core.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def make_alarm(**changes) -> FallAlarm:
    values = {
        "patient": "Ward 3 / bed 12",
        "camera": "corridor-2",
        "time": datetime(2025, 1, 31, 8, 15, 2, tzinfo=UTC),
        "snapshot": "media/snapshots/abc123.jpg",
        "message": "Fall detected, lying for 10 s.",
        "recording_time_s": 12.4,
    }
    return FallAlarm(**{**values, **changes})


def fast(**changes) -> AlarmConfig:
    """Tiny timeouts and back-off so failures finish in milliseconds."""
    values = {"timeout_s": 2.0, "retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    return AlarmConfig(**{**values, **changes})


# ---------------------------------------------------------------------------------------------- servers


class _Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
        )
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def webhook():
    """A local webhook on a free port; set ``server.statuses`` to make it answer with errors first."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    server.received, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/alarm"
    yield server
    server.shutdown()
    server.server_close()


class _SMTP(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO with AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        self.reply("220 localhost MoveScope test SMTP")
        mail: dict = {"to": [], "login": None}
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ")[0].upper()
            if verb == "EHLO":
                self.reply("250-localhost\r\n250-AUTH PLAIN\r\n250 8BITMIME")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                mail["login"] = (user, password)
                self.reply("235 ok" if password == "right" else "535 authentication failed")
            elif verb == "MAIL":
                mail["from"] = command
                self.reply("250 ok")
            elif verb == "RCPT":
                mail["to"].append(command)
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = []
                while (row := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    data.append(row)
                mail["data"] = b"".join(data).decode()
                self.server.messages.append(dict(mail))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTP)
    server.daemon_threads = True
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    server.port = server.server_address[1]
    yield server
    server.shutdown()
    server.server_close()


def email(port: int, **changes) -> AlarmConfig:
    """Fast delivery to a local SMTP server on ``port`` (no TLS: the test server speaks plain SMTP)."""
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_from": "movescope@example.org",
        "smtp_to": ("nurse@example.org",),
    }
    return fast(**{**values, **changes})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------- webhook


def test_webhook_receives_the_alarm_as_json(webhook):
    alarm = make_alarm()
    report = deliver_alarm(alarm, fast(webhook_urls=(webhook.url,), webhook_token="s3cret"))
    assert report.delivered and report.all_delivered
    (channel,) = report.channels
    assert (channel.channel, channel.attempts, channel.last_error) == ("webhook", 1, None)
    (request,) = webhook.received
    body = request["json"]
    assert body["id"] == alarm.id
    assert body["patient"] == "Ward 3 / bed 12" and body["camera"] == "corridor-2"
    assert body["time"] == "2025-01-31T08:15:02+00:00"
    assert body["snapshot"] == "media/snapshots/abc123.jpg"
    assert body["kind"] == "fall"
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Content-Type"] == "application/json"


def test_webhook_that_fails_twice_is_retried_with_back_off(webhook):
    webhook.statuses = [503, 500]
    waits: list[float] = []
    config = fast(webhook_urls=(webhook.url,), retries=3, backoff_base_s=0.5, backoff_max_s=30)
    report = deliver_alarm(make_alarm(), config, sleep=waits.append)
    (channel,) = report.channels
    assert channel.delivered and channel.attempts == 3
    assert waits == [0.5, 1.0]  # exponential back-off before the 2nd and 3rd attempt
    assert len(webhook.received) == 3
    assert len({r["json"]["id"] for r in webhook.received}) == 1  # the same alarm each time


def test_webhook_client_error_is_not_retried(webhook):
    webhook.statuses = [404]
    report = deliver_alarm(make_alarm(), fast(webhook_urls=(webhook.url,)))
    (channel,) = report.channels
    assert not channel.delivered and channel.attempts == 1
    assert channel.last_error == "HTTP 404 Not Found"


def test_unreachable_endpoints_fail_within_the_retry_budget():
    port = closed_port()
    config = email(port, webhook_urls=(f"http://127.0.0.1:{port}/alarm",))
    started = time.monotonic()
    report = deliver_alarm(make_alarm(), config)
    assert time.monotonic() - started < 2.0
    assert not report.delivered
    assert {c.channel for c in report.failures} == {"webhook", "email"}
    for channel in report.channels:
        assert channel.attempts == 3  # 1 + retries
        assert "Connection refused" in channel.last_error or "Errno" in channel.last_error


def test_a_silent_server_times_out_instead_of_hanging():
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/alarm"
        started = time.monotonic()
        report = deliver_alarm(make_alarm(), fast(webhook_urls=(url,), timeout_s=0.2, retries=1))
    assert time.monotonic() - started < 2.0
    (channel,) = report.channels
    assert not channel.delivered and channel.attempts == 2
    assert "timed out" in channel.last_error


# ---------------------------------------------------------------------------------------------- e-mail


def test_email_reaches_the_smtp_server(smtp_server):
    alarm = make_alarm()
    config = email(
        smtp_server.port,
        smtp_user="movescope",
        smtp_password="right",
        smtp_to=("nurse@example.org", "doctor@example.org"),
    )
    report = deliver_alarm(alarm, config)
    assert report.all_delivered
    (message,) = smtp_server.messages
    assert message["login"] == ("movescope", "right")
    assert "movescope@example.org" in message["from"]
    assert len(message["to"]) == 2
    assert "Subject: MoveScope fall alarm: Ward 3 / bed 12 (corridor-2)" in message["data"]
    assert alarm.id in message["data"]
    assert "media/snapshots/abc123.jpg" in message["data"]


def test_wrong_smtp_password_is_reported_once_not_retried(smtp_server):
    config = email(smtp_server.port, smtp_user="movescope", smtp_password="wrong")
    (channel,) = deliver_alarm(make_alarm(), config).channels
    assert not channel.delivered and channel.attempts == 1
    assert "SMTPAuthenticationError" in channel.last_error
    assert smtp_server.messages == []


def test_one_failing_channel_does_not_stop_the_other(webhook, smtp_server):
    webhook.statuses = [503] * 10
    config = email(smtp_server.port, webhook_urls=(webhook.url,))
    report = deliver_alarm(make_alarm(), config)
    assert report.delivered and not report.all_delivered
    assert [c.channel for c in report.failures] == ["webhook"]
    assert len(smtp_server.messages) == 1
    assert json.dumps(report.to_dict())  # storable as JSON


def test_no_channel_configured_means_the_banner_alone():
    report = deliver_alarm(make_alarm(), AlarmConfig())
    assert report.channels == () and report.delivered


# ---------------------------------------------------------------------------------------------- config


def test_config_from_the_secrets_example():
    secrets = tomllib.loads((ROOT / ".streamlit/secrets.toml.example").read_text())
    config = AlarmConfig.from_mapping(secrets)
    assert config.webhook_urls == ("https://control-room.example.org/movescope/alarm",)
    assert config.smtp_to == ("ward-3-nurses@example.org",)
    assert config.smtp_port == 587 and config.smtp_starttls is True
    assert config.lying_alarm_s == LYING_ALARM_S
    assert "change-me" not in repr(config)  # passwords stay out of logs


def test_config_accepts_single_values_and_refuses_typos():
    config = AlarmConfig.from_mapping(
        {"webhook_url": "http://a.example/x", "smtp_host": "mail", "smtp_from": "m@x", "smtp_to": "a@x, b@x"}
    )
    assert config.webhook_urls == ("http://a.example/x",)
    assert config.smtp_to == ("a@x", "b@x")
    assert AlarmConfig.from_mapping(None) == AlarmConfig()
    with pytest.raises(InputError, match=r"Unknown setting.*smtp_hots"):
        AlarmConfig.from_mapping({"alarms": {"smtp_hots": "mail"}})
    with pytest.raises(InputError, match="must start with http"):
        AlarmConfig.from_mapping({"webhook_urls": ["file:///etc/passwd"]})
    with pytest.raises(InputError, match="retries must be a number"):
        AlarmConfig.from_mapping({"retries": "many"})
    with pytest.raises(InputError, match="smtp_from"):
        AlarmConfig.from_mapping({"smtp_host": "mail", "smtp_to": "a@x"})


def test_back_off_doubles_and_is_capped():
    config = AlarmConfig(retries=6, backoff_base_s=1.0, backoff_max_s=10.0)
    assert backoff_delays(config) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_alarm_needs_a_time_zone():
    with pytest.raises(ValueError, match="time zone"):
        make_alarm(time=datetime(2025, 1, 31, 8, 0))


# ---------------------------------------------------------------------------------------------- timer


def timeline(seconds: float, step: float = 0.1):
    return [round(k * step, 3) for k in range(int(seconds / step) + 1)]


def test_fall_then_lying_alarms_after_the_configured_time():
    times = timeline(20)
    lying = [t >= 2.0 for t in times]
    (alarm,) = alarms_in_timeline(times, lying, [1.8], patient="bed 12")
    assert alarm.recording_time_s == pytest.approx(2.0 + LYING_ALARM_S)
    assert alarm.kind == "fall" and "bed 12" in alarm.message
    (quick,) = alarms_in_timeline(times, lying, [1.8], lying_alarm_s=3.0)
    assert quick.recording_time_s == pytest.approx(5.0)


def test_no_alarm_when_the_person_gets_up_or_lies_down_on_purpose():
    times = timeline(30)
    got_up = [2.0 <= t < 9.0 for t in times]
    assert alarms_in_timeline(times, got_up, [1.8]) == []
    in_bed = [t >= 2.0 for t in times]  # lying without a fall (going to bed)
    assert alarms_in_timeline(times, in_bed, []) == []
    # The CCTV seed's rule for sources that only see lying: lying alone, for the time.
    (alarm,) = alarms_in_timeline(times, in_bed, [], require_fall=False)
    assert alarm.kind == "lying" and alarm.recording_time_s == pytest.approx(12.0)


def test_short_interruptions_do_not_restart_the_count_and_one_alarm_per_episode():
    times = timeline(40)
    flicker = [t >= 2.0 and not (6.0 <= t < 6.5) for t in times]  # a missed pose for 0.5 s
    alarms = alarms_in_timeline(times, flicker, [1.9])
    assert [a.recording_time_s for a in alarms] == [pytest.approx(12.0)]
    # Up at 20 s, a second fall at 25 s: a second alarm.
    two = [(2.0 <= t < 20.0) or t >= 25.2 for t in times]
    alarms = alarms_in_timeline(times, two, [1.9, 25.0])
    assert [a.recording_time_s for a in alarms] == [pytest.approx(12.0), pytest.approx(35.2)]


def test_lying_before_the_fall_counts_from_the_fall():
    times = timeline(30)
    lying = [t >= 1.0 for t in times]
    (alarm,) = alarms_in_timeline(times, lying, [5.0])
    assert alarm.recording_time_s == pytest.approx(15.0)


def test_timer_state_and_wall_clock_time():
    start = datetime(2025, 1, 31, 8, 0, tzinfo=UTC)
    timer = AlarmTimer(lying_alarm_s=2.0, start_time=start, camera="cam-1", snapshot="frame.jpg")
    assert timer.state == "idle"
    assert timer.update(0.0, lying=False, fall=True) is None and timer.state == "fallen"
    assert timer.update(0.5, lying=True) is None and timer.state == "lying"
    alarm = timer.update(2.5, lying=True)
    assert alarm is not None and timer.state == "alarmed"
    assert alarm.time == datetime(2025, 1, 31, 8, 0, 2, 500000, tzinfo=UTC)
    assert alarm.camera == "cam-1" and alarm.snapshot == "frame.jpg"
    assert timer.update(3.0, lying=True) is None  # once per episode
