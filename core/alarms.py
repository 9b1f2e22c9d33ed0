"""Fall alarms: when to raise one, and getting it to the people who must act.

Clinical question: *someone has fallen and is still on the floor - who is told, and can we prove it?*
The CCTV seed alerted the control room after a fallen person had been seen for 10 s; the lesson was not to
cry wolf, so an alarm needs a fall *followed by* lying for :data:`LYING_ALARM_S` (a person who falls and
gets straight up, or lies down on purpose, raises none). :class:`AlarmTimer` applies that rule to any
timeline (video body states or sensor posture); it keeps no history beyond the current episode and writes
nothing, so the page, the CLI and the benchmark share it.

Delivery: :func:`deliver_alarm` posts the alarm as JSON to each configured webhook (``urllib``) and sends an
e-mail through SMTP (``smtplib``), each channel on its own thread, each retried with capped exponential
back-off. It never raises for a delivery failure: it returns a :class:`DeliveryReport` (attempts, success,
last error per channel) for the page to show and the database to store with the alarm. The in-app banner is
the page's job and needs no network.

Configuration comes from the ``[alarms]`` table of ``.streamlit/secrets.toml`` (see
``.streamlit/secrets.toml.example``), passed in as a mapping by :meth:`AlarmConfig.from_mapping`.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

from core.errors import InputError

# The seed's rule: a fallen person seen for 10 s alerts the control room.
LYING_ALARM_S = 10.0
# Short interruptions of "lying" (a missed pose, a limb shifting on the floor) do not restart the count.
LYING_GAP_TOLERANCE_S = 1.0
# After a fall is detected the person must be lying within this time, or the fall is taken as recovered
# from (the body may roll or try to rise for a few seconds after the impact).
FALL_TO_LYING_MAX_S = 5.0

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_RETRIES = 3  # attempts after the first one
DEFAULT_BACKOFF_BASE_S = 1.0  # waits 1, 2, 4 ... s between attempts
DEFAULT_BACKOFF_MAX_S = 30.0  # no wait longer than this, so a retrying alarm is still timely
# HTTP answers worth retrying: the server is busy or briefly failing. Other 4xx mean the request itself is
# wrong (bad URL, missing token) and repeating it would only delay the report.
RETRYABLE_HTTP_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

ALARM_KINDS = ("fall", "lying", "test")


@dataclass(frozen=True)
class FallAlarm:
    """One alarm: who, where, when, what kind, and where to see it.

    ``time`` is the wall-clock moment the alarm was raised (UTC); ``recording_time_s`` the position in the
    analysed video or sensor recording, when there is one. ``snapshot`` is a reference the receiver can open
    (a stored frame's path or URL), never image bytes.
    """

    patient: str
    time: datetime
    kind: str = "fall"
    camera: str | None = None
    snapshot: str | None = None
    message: str = ""
    recording_time_s: float | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.kind not in ALARM_KINDS:
            raise ValueError(f"alarm kind must be one of {ALARM_KINDS}, got {self.kind!r}")
        if self.time.tzinfo is None:
            raise ValueError("alarm time must carry a time zone (use UTC)")

    @property
    def subject(self) -> str:
        """Who or where, as a human reads it: ``patient`` and, when given, ``camera``."""
        return f"{self.patient} ({self.camera})" if self.camera else self.patient

    def text(self) -> str:
        """The message as staff should read it (e-mail body, banner)."""
        when = self.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines = [self.message or f"Possible {self.kind} of {self.subject}.", "", f"Time: {when}"]
        if self.camera:
            lines.append(f"Camera: {self.camera}")
        if self.recording_time_s is not None:
            lines.append(f"Position in recording: {self.recording_time_s:.1f} s")
        if self.snapshot:
            lines.append(f"Snapshot: {self.snapshot}")
        lines.append(f"Alarm id: {self.id}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The webhook JSON body and the database row: stable field names."""
        document = asdict(self)
        document["time"] = self.time.astimezone(UTC).isoformat()
        document["source"] = "MoveScope"
        return document


@dataclass(frozen=True)
class AlarmConfig:
    """Where alarms go and how hard to try. Build it with :meth:`from_mapping`."""

    webhook_urls: tuple[str, ...] = ()
    webhook_token: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S
    lying_alarm_s: float = LYING_ALARM_S

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.smtp_to)

    @classmethod
    def from_mapping(cls, mapping: Mapping | None) -> AlarmConfig:
        """Read the ``[alarms]`` table; ``mapping`` may be all of ``st.secrets`` or the table itself.

        Unknown keys are refused (a misspelt ``smtp_hots`` would otherwise silently disable e-mail).
        """
        if not mapping:
            return cls()
        table = mapping.get("alarms", mapping) if hasattr(mapping, "get") else mapping
        table = dict(table)
        known = {f for f in cls.__dataclass_fields__} | {"webhook_url"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InputError(
                f"Unknown setting(s) in [alarms]: {', '.join(unknown)}; allowed: {', '.join(sorted(known))}."
            )
        urls = _as_tuple(table.pop("webhook_url", None)) + _as_tuple(table.pop("webhook_urls", None))
        for url in urls:
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                raise InputError(f"[alarms] webhook address '{url}' must start with http:// or https://.")
        values: dict = {"webhook_urls": urls}
        if "smtp_to" in table:
            values["smtp_to"] = _as_tuple(table.pop("smtp_to"))
        for name in ("smtp_port", "retries"):
            if name in table:
                values[name] = _as_number(table.pop(name), name, int, minimum=0)
        for name in ("timeout_s", "backoff_base_s", "backoff_max_s", "lying_alarm_s"):
            if name in table:
                values[name] = _as_number(table.pop(name), name, float, minimum=0)
        for name in ("smtp_starttls", "smtp_ssl"):
            if name in table:
                value = table.pop(name)
                if not isinstance(value, bool):
                    raise InputError(f"[alarms] {name} must be true or false, got {value!r}.")
                values[name] = value
        values.update({k: (str(v) if v is not None else None) for k, v in table.items()})
        config = cls(**values)
        if config.smtp_to and not config.smtp_host:
            raise InputError(
                "[alarms] smtp_to is set but smtp_host is not: e-mail alarms need an SMTP server."
            )
        if config.email_enabled and not config.smtp_from:
            raise InputError("[alarms] smtp_from (the sender address) is needed to send e-mail alarms.")
        return config


def _as_tuple(value) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v).strip() for v in value)


def _as_number(value, name: str, kind: type, minimum: float):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise InputError(f"[alarms] {name} must be a number, got {value!r}.") from None
    if number < minimum:
        raise InputError(f"[alarms] {name} must be at least {minimum}, got {number}.")
    return number


# --------------------------------------------------------------------------------------------------------
# Delivery


@dataclass(frozen=True)
class ChannelReport:
    """How one channel (one webhook, or e-mail) fared."""

    channel: str  # "webhook" or "email"
    target: str  # URL or recipients
    delivered: bool
    attempts: int
    last_error: str | None
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeliveryReport:
    """Every channel's outcome for one alarm (stored with the alarm; shown on the page)."""

    alarm_id: str
    channels: tuple[ChannelReport, ...]

    @property
    def delivered(self) -> bool:
        """At least one channel reached someone (or none is configured: the banner is then the alarm)."""
        return not self.channels or any(c.delivered for c in self.channels)

    @property
    def all_delivered(self) -> bool:
        return all(c.delivered for c in self.channels)

    @property
    def failures(self) -> tuple[ChannelReport, ...]:
        return tuple(c for c in self.channels if not c.delivered)

    def to_dict(self) -> dict:
        return {
            "alarm_id": self.alarm_id,
            "delivered": self.delivered,
            "all_delivered": self.all_delivered,
            "channels": [c.to_dict() for c in self.channels],
        }


class _PermanentError(Exception):
    """A failure that retrying cannot fix (the server refused the request itself)."""


def backoff_delays(config: AlarmConfig) -> list[float]:
    """Waits between attempts: base, 2 x base, 4 x base ..., each capped at ``backoff_max_s``."""
    return [min(config.backoff_base_s * 2**k, config.backoff_max_s) for k in range(config.retries)]


def deliver_alarm(
    alarm: FallAlarm, config: AlarmConfig, *, sleep: Callable[[float], None] = time.sleep
) -> DeliveryReport:
    """Send ``alarm`` on every configured channel, retrying each; never raises for a delivery failure."""
    jobs: list[tuple[str, str, Callable[[], None]]] = [
        ("webhook", url, lambda url=url: _post_webhook(alarm, url, config)) for url in config.webhook_urls
    ]
    if config.email_enabled:
        jobs.append(("email", ", ".join(config.smtp_to), lambda: _send_email(alarm, config)))
    if not jobs:
        return DeliveryReport(alarm.id, ())
    # One thread per channel: a webhook that is down and backing off must not delay the e-mail.
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="alarm") as pool:
        futures = [
            pool.submit(_with_retries, name, target, send, config, sleep) for name, target, send in jobs
        ]
        return DeliveryReport(alarm.id, tuple(f.result() for f in futures))


def _with_retries(
    channel: str, target: str, send: Callable[[], None], config: AlarmConfig, sleep: Callable[[float], None]
) -> ChannelReport:
    started = time.monotonic()
    delays = backoff_delays(config)
    attempts, last_error = 0, None
    while True:
        attempts += 1
        try:
            send()
            return ChannelReport(channel, target, True, attempts, None, time.monotonic() - started)
        except _PermanentError as error:
            last_error = str(error)
            break
        except Exception as error:
            last_error = f"{type(error).__name__}: {error}"
        if attempts > len(delays):
            break
        sleep(delays[attempts - 1])
    return ChannelReport(channel, target, False, attempts, last_error, time.monotonic() - started)


def _post_webhook(alarm: FallAlarm, url: str, config: AlarmConfig) -> None:
    body = json.dumps(alarm.to_dict()).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "MoveScope-alarm/1"}
    if config.webhook_token:
        headers["Authorization"] = f"Bearer {config.webhook_token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as error:
        message = f"HTTP {error.code} {error.reason}"
        if error.code in RETRYABLE_HTTP_STATUS:
            raise ConnectionError(message) from None
        raise _PermanentError(message) from None


def email_message(alarm: FallAlarm, config: AlarmConfig) -> EmailMessage:
    """The alarm e-mail (plain text, so any client and pager gateway shows it)."""
    message = EmailMessage()
    message["Subject"] = f"MoveScope {alarm.kind} alarm: {alarm.subject}"
    message["From"] = config.smtp_from or ""
    message["To"] = ", ".join(config.smtp_to)
    message["X-MoveScope-Alarm-Id"] = alarm.id
    message.set_content(alarm.text())
    return message


def _send_email(alarm: FallAlarm, config: AlarmConfig) -> None:
    message = email_message(alarm, config)
    context = ssl.create_default_context()
    smtp_class = smtplib.SMTP_SSL if config.smtp_ssl else smtplib.SMTP
    kwargs = {"context": context} if config.smtp_ssl else {}
    try:
        with smtp_class(config.smtp_host, config.smtp_port, timeout=config.timeout_s, **kwargs) as smtp:
            smtp.ehlo()
            if config.smtp_starttls and not config.smtp_ssl:
                smtp.starttls(context=context)
                smtp.ehlo()
            if config.smtp_user:
                smtp.login(config.smtp_user, config.smtp_password or "")
            smtp.send_message(message)
    except (
        smtplib.SMTPAuthenticationError,
        smtplib.SMTPRecipientsRefused,
        smtplib.SMTPSenderRefused,
    ) as error:
        raise _PermanentError(f"{type(error).__name__}: {error}") from None


# --------------------------------------------------------------------------------------------------------
# When to raise: a fall followed by lying


class AlarmTimer:
    """Raise one alarm when a person has been lying for ``lying_alarm_s`` after a fall.

    Feed it observations in time order with :meth:`update` (a video frame's body state, or a sensor's
    posture sample). ``require_fall=False`` applies the CCTV seed's rule (lying alone, for the time) for
    sources that see the lying but not the fall. After an alarm the timer stays quiet until the person is
    seen up again, then re-arms.
    """

    def __init__(
        self,
        lying_alarm_s: float = LYING_ALARM_S,
        *,
        require_fall: bool = True,
        gap_tolerance_s: float = LYING_GAP_TOLERANCE_S,
        fall_to_lying_max_s: float = FALL_TO_LYING_MAX_S,
        patient: str = "",
        camera: str | None = None,
        snapshot: str | None = None,
        start_time: datetime | None = None,
    ) -> None:
        self.lying_alarm_s = lying_alarm_s
        self.require_fall = require_fall
        self.gap_tolerance_s = gap_tolerance_s
        self.fall_to_lying_max_s = fall_to_lying_max_s
        self.patient, self.camera, self.snapshot = patient, camera, snapshot
        self.start_time = start_time
        self.fall_s: float | None = None
        self.lying_since_s: float | None = None
        self.last_lying_s: float | None = None
        self.alarmed = False

    @property
    def state(self) -> str:
        """``"alarmed"``, ``"lying"`` (counting), ``"fallen"`` (waiting for lying) or ``"idle"``."""
        if self.alarmed:
            return "alarmed"
        if self.lying_since_s is not None and (self.fall_s is not None or not self.require_fall):
            return "lying"
        return "fallen" if self.fall_s is not None else "idle"

    def update(
        self, time_s: float, *, lying: bool, fall: bool = False, snapshot: str | None = None
    ) -> FallAlarm | None:
        """Take one observation; returns the alarm at the moment it is raised, else ``None``."""
        if fall and not self.alarmed:
            self.fall_s = time_s
        if lying:
            if self.lying_since_s is None:
                self.lying_since_s = time_s
            self.last_lying_s = time_s
        elif self.last_lying_s is not None and time_s - self.last_lying_s > self.gap_tolerance_s:
            # Up again: this episode is over (with or without an alarm); wait for the next fall.
            self.lying_since_s = self.last_lying_s = None
            self.fall_s = None
            self.alarmed = False
        if (
            self.fall_s is not None
            and self.lying_since_s is None
            and time_s - self.fall_s > self.fall_to_lying_max_s
        ):
            self.fall_s = None  # fell and did not stay down
        if self.alarmed or self.lying_since_s is None:
            return None
        if self.require_fall and self.fall_s is None:
            return None
        # Lying counts from the fall: lying already in progress before it (in bed) is not a long lie.
        since = self.lying_since_s if self.fall_s is None else max(self.lying_since_s, self.fall_s)
        if time_s - since < self.lying_alarm_s:
            return None
        self.alarmed = True
        return self._alarm(time_s, time_s - since, snapshot or self.snapshot)

    def _alarm(self, time_s: float, lying_for: float, snapshot: str | None) -> FallAlarm:
        when = self.start_time + timedelta(seconds=time_s) if self.start_time else datetime.now(UTC)
        what = "fell and has been lying" if self.fall_s is not None else "has been lying"
        return FallAlarm(
            patient=self.patient,
            camera=self.camera,
            time=when,
            kind="fall" if self.fall_s is not None else "lying",
            snapshot=snapshot,
            recording_time_s=round(time_s, 3),
            message=f"{self.patient or 'A person'} {what} on the floor for {lying_for:.0f} s.",
        )


def alarms_in_timeline(
    times_s: Sequence[float],
    lying: Sequence[bool],
    fall_times_s: Sequence[float] = (),
    *,
    lying_alarm_s: float = LYING_ALARM_S,
    require_fall: bool = True,
    **timer_options,
) -> list[FallAlarm]:
    """Run :class:`AlarmTimer` over a whole timeline; ``fall_times_s`` are detected fall moments."""
    timer = AlarmTimer(lying_alarm_s, require_fall=require_fall, **timer_options)
    falls = sorted(fall_times_s)
    alarms, next_fall = [], 0
    for t, is_lying in zip(times_s, lying, strict=True):
        fall = False
        while next_fall < len(falls) and falls[next_fall] <= t:
            fall, next_fall = True, next_fall + 1
        alarm = timer.update(float(t), lying=bool(is_lying), fall=fall)
        if alarm is not None:
            alarms.append(alarm)
    return alarms
