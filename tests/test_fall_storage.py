"""Alarms in the database: stored before delivery, with the delivery report, once per recorded moment,
acknowledged once, and linked to the analysis in the same transaction as the analysis itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.alarms import AlarmConfig, ChannelReport, DeliveryReport, FallAlarm
from core.errors import InputError
from core.storage import Alarm, Analysis, Database, Visit
from core.storage.alarms import (
    acknowledge_alarm,
    get_alarm,
    list_alarms,
    raise_alarm,
    save_fall_analysis,
)
from core.storage.records import AnalysisRecord, ResultRow, create_patient

SHA = "f" * 64


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'ward.db'}")
    database.migrate()
    yield database
    database.dispose()


def alarm(at_s: float = 14.2) -> FallAlarm:
    return FallAlarm(
        patient="WARD3-07",
        time=datetime(2026, 1, 5, 3, 12, tzinfo=UTC),
        camera="room 3",
        snapshot="snapshots/abc-f300-t1.jpg",
        message="WARD3-07 fell at 4.2 s and was still lying 10 s later.",
        recording_time_s=at_s,
    )


def failing_webhook(fall_alarm: FallAlarm, config: AlarmConfig) -> DeliveryReport:
    channel = ChannelReport("webhook", "http://127.0.0.1:9/alarm", False, 4, "ConnectionRefusedError", 0.1)
    return DeliveryReport(fall_alarm.id, (channel,))


def test_an_alarm_is_stored_before_delivery_with_its_report_after(db):
    seen_during_delivery = []

    def deliver(fall_alarm, config):
        seen_during_delivery.append(get_alarm(db, fall_alarm.id))
        return failing_webhook(fall_alarm, config)

    stored = raise_alarm(db, alarm(), AlarmConfig(), source="room 3", input_sha256=SHA, deliver=deliver)
    pending = seen_during_delivery[0]
    assert pending is not None and pending.pending, "the alarm exists before anyone is told"
    assert stored.delivery["channels"][0]["attempts"] == 4 and not stored.delivered
    assert stored.patient == "WARD3-07" and stored.source == "room 3" and stored.recording_time_s == 14.2
    assert stored.raised_at == datetime(2026, 1, 5, 3, 12) and stored.snapshot_path.endswith(".jpg")
    assert [a.uid for a in list_alarms(db, unacknowledged=True)] == [stored.uid]


def test_without_channels_the_banner_is_the_alarm(db):
    stored = raise_alarm(db, alarm(), AlarmConfig(), input_sha256=SHA)
    assert stored.delivery == {
        "alarm_id": stored.uid,
        "delivered": True,
        "all_delivered": True,
        "channels": [],
    }


def test_the_same_alarm_of_the_same_recording_is_raised_once(db):
    calls = []

    def deliver(fall_alarm, config):
        calls.append(fall_alarm.id)
        return DeliveryReport(fall_alarm.id, ())

    first = raise_alarm(db, alarm(), AlarmConfig(), input_sha256=SHA, deliver=deliver)
    again = raise_alarm(db, alarm(), AlarmConfig(), input_sha256=SHA, deliver=deliver)  # a page rerun
    other = raise_alarm(db, alarm(40.0), AlarmConfig(), input_sha256=SHA, deliver=deliver)
    assert again.uid == first.uid and other.uid != first.uid
    assert len(calls) == 2
    assert len(list_alarms(db, input_sha256=SHA)) == 2


def test_acknowledgement_records_who_and_when_once(db):
    stored = raise_alarm(db, alarm(), AlarmConfig(), input_sha256=SHA)
    with pytest.raises(InputError, match="name"):
        acknowledge_alarm(db, stored.uid, "  ")
    done = acknowledge_alarm(db, stored.uid, "Nurse Kim", "on the floor, conscious; helped up")
    assert done.acknowledged and done.acknowledged_by == "Nurse Kim" and "helped up" in done.note
    assert (datetime.now(UTC).replace(tzinfo=None) - done.acknowledged_at).total_seconds() < 60
    with pytest.raises(InputError, match="already acknowledged by Nurse Kim"):
        acknowledge_alarm(db, stored.uid, "Dr Lee")
    assert list_alarms(db, unacknowledged=True) == []
    with pytest.raises(InputError, match="not in the record"):
        acknowledge_alarm(db, "0" * 32, "Nurse Kim")


def record() -> AnalysisRecord:
    return AnalysisRecord(
        kind="fall",
        input_name="room3.mp4",
        input_sha256=SHA,
        document={"fall": True},
        results=[ResultRow("Fall", 1.0, "yes=1"), ResultRow("Alarms", 1.0, "count")],
    )


def test_saving_links_the_alarms_to_the_analysis_and_patient_atomically(db):
    patient = create_patient(db, "WARD3-07")
    stored = raise_alarm(db, alarm(), AlarmConfig(), input_sha256=SHA)
    with pytest.raises(InputError, match="not in the record"):
        save_fall_analysis(db, record(), [stored.uid, "0" * 32], new_visit_of=patient.id)
    with db.reading() as session:
        counts = [session.scalar(select(func.count()).select_from(t)) for t in (Visit, Analysis)]
    assert counts == [0, 0], "a failed save leaves neither a visit nor an analysis"
    assert get_alarm(db, stored.uid).analysis_id is None

    analysis_id = save_fall_analysis(db, record(), [stored.uid], new_visit_of=patient.id, visit_label="n1")
    linked = get_alarm(db, stored.uid)
    assert (linked.analysis_id, linked.patient_id) == (analysis_id, patient.id)
    assert [a.uid for a in list_alarms(db, patient_id=patient.id)] == [stored.uid]
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Alarm)) == 1
