"""Test-only builders of a clinic's record: gait analyses with chosen values, saved the way the pages save.

Also the body of the multi-process concurrency test (a child process imports this module by name).
"""

from __future__ import annotations

import time
from datetime import date

from core.storage import Database
from core.storage.records import AnalysisRecord, ResultRow, add_visit, create_patient, save_analysis

UNITS = {"Velocity": "cm/s", "Cadence": "steps/min", "Stride Length(cm)/L": "cm"}


def gait_record(values: dict[str, float], name: str = "walk.mp4", **overrides) -> AnalysisRecord:
    """A stored gait analysis with these GAITRite values (as the pipeline's ``to_record`` makes one)."""
    fields = dict(
        kind="gait",
        input_name=name,
        input_sha256="a" * 64,
        document={"patient": {"track_id": 1}, "quality": {"usable": True}},
        quality_usable=True,
        results=[ResultRow(n, v, UNITS.get(n, "")) for n, v in values.items()],
    )
    return AnalysisRecord(**{**fields, **overrides})


def patient_with_visits(
    db: Database, code: str, visits: list[tuple[date, str | None, list[dict[str, float]]]], **patient
) -> int:
    """A patient whose visits (date, label, one dict of values per trial) are saved as gait trials 1, 2..."""
    patient_id = create_patient(db, code, **patient).id
    for when, label, trials in visits:
        visit = add_visit(db, patient_id, when, label)
        for values in trials:
            save_analysis(db, gait_record(values), visit_id=visit.id)
    return patient_id


def save_in_child(url: str, visit_id: int, count: int, start_at: float) -> float:
    """Run in a separate process: wait for the common start, save ``count`` analyses to one visit."""
    db = Database(url)
    while time.time() < start_at:
        time.sleep(0.005)
    began = time.perf_counter()
    for i in range(count):
        save_analysis(db, gait_record({"Velocity": 100.0 + i}, name=f"child-{i}.mp4"), visit_id=visit_id)
    db.dispose()
    return time.perf_counter() - began
