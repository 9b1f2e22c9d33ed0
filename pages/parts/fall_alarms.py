"""The fall alarm banner: raise (store and deliver) an analysis's alarms once, show them, acknowledge them."""

from __future__ import annotations

import streamlit as st

from core.alarms import AlarmConfig
from core.fall.analysis import FallResult
from core.storage.alarms import StoredAlarm, acknowledge_alarm, get_alarm, raise_alarm
from pages.parts.common import database, report_errors

RAISED_KEY = "fall-raised-alarms"  # (input hash, settings) -> uids of the alarms raised for that analysis


def alarm_config() -> AlarmConfig:
    """Delivery channels from ``[alarms]`` in ``.streamlit/secrets.toml`` (none: the banner is the alarm)."""
    try:
        table = st.secrets.get("alarms")
    except Exception:  # no secrets file at all: Streamlit raises instead of returning nothing
        table = None
    return AlarmConfig.from_mapping(table)


def raise_alarms(
    result: FallResult, key: tuple, patient, source: str, snapshots: dict[int, str]
) -> list[StoredAlarm]:
    """Store and deliver the analysis's alarms the first time it is shown; afterwards read them back."""
    raised = st.session_state.setdefault(RAISED_KEY, {})
    if key not in raised:
        config = alarm_config()
        stored = [
            raise_alarm(
                database(),
                alarm,
                config,
                patient_id=patient.id if patient else None,
                source=source,
                input_sha256=result.input_sha256,
            )
            for alarm in result.alarms(patient.code if patient else "", source, snapshots)
        ]
        raised[key] = [a.uid for a in stored]
    return [a for a in (get_alarm(database(), uid) for uid in raised[key]) if a is not None]


def _delivery_text(alarm: StoredAlarm) -> str:
    if alarm.pending:
        return "delivery pending"
    channels = alarm.delivery.get("channels", [])
    if not channels:
        return "no delivery channel configured: this banner is the alarm"
    parts = [
        f"{c['channel']} to {c['target']}: "
        + ("delivered" if c["delivered"] else f"FAILED after {c['attempts']} attempts ({c['last_error']})")
        for c in channels
    ]
    return "; ".join(parts)


def alarm_banner(alarms: list[StoredAlarm]) -> None:
    """One red banner per unacknowledged alarm with an acknowledge form; a note for acknowledged ones."""
    for alarm in alarms:
        if alarm.acknowledged:
            st.info(
                f"Alarm at {alarm.recording_time_s:.1f} s acknowledged by {alarm.acknowledged_by} "
                f"at {alarm.acknowledged_at:%H:%M:%S} UTC" + (f": {alarm.note}" if alarm.note else "."),
                icon=":material/task_alt:",
            )
            continue
        st.error(f"**FALL ALARM** - {alarm.message}  \n{_delivery_text(alarm)}", icon=":material/emergency:")
        with st.form(f"ack-{alarm.uid}"):
            who, note = st.columns([1, 2])
            by = who.text_input("Your name", key=f"ack-by-{alarm.uid}")
            text = note.text_input("Note (optional)", key=f"ack-note-{alarm.uid}")
            if st.form_submit_button("Acknowledge", type="primary"):
                done = report_errors(
                    lambda uid=alarm.uid, by=by, text=text: acknowledge_alarm(database(), uid, by, text),
                    "Acknowledging",
                )
                if done is not None:
                    st.rerun()
