"""The Agreement page through AppTest: a walkway export goes in through the mapping step, unmatched rows are
listed, a bad file imports nothing, and the ICC table and plots come out."""

from __future__ import annotations

from datetime import date

import numpy as np
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.gait.export import gaitrite_csv
from core.reference import walkway_columns
from core.storage import ReferenceTrial, open_database
from tests.clinic import patient_with_visits
from tests.conftest import ROOT
from tests.test_pages import TIMEOUT_S, texts

PATIENTS = 14


def agreement_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.run()
    at.switch_page("pages/agreement.py").run()
    assert not at.exception, at.exception
    return at


def reference_count() -> int:
    with open_database().reading() as session:
        return session.scalar(select(func.count()).select_from(ReferenceTrial))


def clinic_and_walkway(prefix: str, system_offset: float = 1.5) -> bytes:
    """Patients whose baseline trial MoveScope measured, and the walkway's export of the same trials (plus
    one trial MoveScope did not film)."""
    db = open_database()
    rng = np.random.default_rng(6)
    trials = []
    for i in range(PATIENTS):
        velocity, cadence = 70.0 + 6.0 * i, 95.0 + 1.5 * i
        measured = {"Velocity": velocity + rng.normal(0, 2), "Cadence": cadence + rng.normal(0, 1)}
        patient_with_visits(db, f"{prefix}-{i:02d}", [(date(2026, 3, 1), "baseline", [measured])])
        trials.append(
            {
                "patient": f"{prefix}-{i:02d}",
                "visit": "2026-03-01",
                "trial": 1,
                "parameters": {"Velocity": velocity + system_offset, "Cadence": cadence},
            }
        )
    trials.append(
        {"patient": f"{prefix}-00", "visit": "2026-03-01", "trial": 2, "parameters": {"Velocity": 71.0}}
    )
    return gaitrite_csv(trials).encode()


def test_import_a_gaitrite_export_and_read_the_icc_table():
    export = clinic_and_walkway("AGREE")
    at = agreement_page()
    assert "No reference measurements imported yet" in texts(at)
    before = reference_count()

    at.file_uploader[0].set_value(("gaitrite.csv", export, "text/csv")).run()
    assert not at.exception, at.exception
    assert f"Recognised as a GAITRite export: {len(walkway_columns())} parameter columns." in texts(at)
    listing = at.dataframe[1].value
    assert len(listing) == PATIENTS + 1
    assert "unmatched: the visit has no gait analysis trial 2" in set(listing["status"])

    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception, at.exception
    assert f"{PATIENTS + 1} GAITRite trials were imported; {PATIENTS} matched an analysis" in texts(at)
    assert any(
        "AGREE-00, visit 2026-03-01, trial 2): the visit has no gait analysis trial 2" in w.value
        for w in at.warning
    )
    assert reference_count() == before + PATIENTS + 1

    at.run()  # section 2 now has stored pairs; section 1 keeps listing the trial without an analysis
    unmatched = next(d.value for d in at.dataframe if "why" in d.value.columns)
    assert "the visit has no gait analysis trial 2" in set(
        unmatched[unmatched["patient"] == "AGREE-00"]["why"]
    )
    overview = next(d.value for d in at.dataframe if "ICC(2,1)" in d.value.columns)
    velocity = overview.set_index("parameter").loc["Velocity"]
    assert velocity["pairs"] == PATIENTS and velocity["band"] == "excellent" and velocity["ICC(2,1)"] > 0.95
    forms = next(d.value for d in at.dataframe if "McGraw & Wong" in d.value.columns)
    assert list(forms["form"]) == ["ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"]
    assert len(at.get("plotly_chart")) == 4, "a scatter and a Bland-Altman plot per parameter"
    assert "limits of agreement" in texts(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["ICC table (CSV)", "Figures (HTML)", "Full report (JSON)"]

    # The same file again: every row is already there, nothing is imported twice.
    at.file_uploader[0].set_value(("gaitrite.csv", export, "text/csv")).run()
    assert any("already in MoveScope from gaitrite.csv" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Import").disabled


def test_a_bad_file_is_explained_and_imports_nothing():
    at = agreement_page()
    before = reference_count()
    wrong_unit = (
        b"Patient ID,Test Date,Test #,Velocity\nAGREE-01,2026-03-01,1,1.2\nAGREE-02,2026-03-01,1,1.1\n"
    )
    at.file_uploader[0].set_value(("metres.csv", wrong_unit, "text/csv")).run()
    assert not at.exception
    assert any("is the column in m/s" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Import"], "nothing to import from a refused file"

    unknown = b"Patient ID,Test Date,Test #,Velocity\nNOBODY-9,2026-03-01,1,120\n"
    at.file_uploader[0].set_value(("unknown.csv", unknown, "text/csv")).run()
    assert any("patient 'NOBODY-9' (line 2) is not in MoveScope" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Import").disabled
    assert reference_count() == before


def test_another_csv_is_imported_through_the_column_mapping():
    open_database()
    patient_with_visits(open_database(), "MAPPED-1", [(date(2026, 4, 2), "lab", [{"Velocity": 118.0}])])
    at = agreement_page()
    csv = b"subject;session;walking_speed_m_s;note\nMAPPED-1;lab;1.21;ok\n"
    at.file_uploader[0].set_value(("lab.csv", csv, "text/csv")).run()
    assert "Not recognised as a GAITRite export" in texts(at)
    boxes = {s.label: s for s in at.selectbox}
    boxes["Patient code column"].set_value("subject")
    boxes["Visit column (date or label)"].set_value("session")
    boxes["Column 'walking_speed_m_s' holds"].set_value("Velocity").run()
    assert any("is the column in m/s" in e.value for e in at.error), "cm/s is assumed until a unit is chosen"
    next(s for s in at.selectbox if s.label == "in").set_value("m/s").run()
    next(t for t in at.text_input if t.label == "Reference system").set_value("Motion capture").run()
    assert not at.exception, at.exception
    assert "walking_speed_m_s: m/s -> cm/s (x100)" in texts(at)
    next(b for b in at.button if b.label == "Import").click().run()
    assert "1 Motion capture trial were imported; 1 matched an analysis" in texts(at)


def test_an_uploaded_paired_csv_gives_the_icc_table():
    rng = np.random.default_rng(3)
    reference = rng.uniform(60, 140, 20)
    rows = "\n".join(f"{r + rng.normal(0, 3):.2f},{r:.2f}" for r in reference)
    at = agreement_page()
    next(r for r in at.radio if r.label == "Pairs from").set_value("A paired CSV file").run()
    paired = next(u for u in at.file_uploader if u.key == "paired-upload")
    paired.set_value(("pairs.csv", f"Velocity,Velocity_ref\n{rows}\n".encode(), "text/csv")).run()
    assert not at.exception, at.exception
    overview = next(d.value for d in at.dataframe if "ICC(2,1)" in d.value.columns)
    assert overview["pairs"].tolist() == [20] and overview["band"].tolist() == ["excellent"]
