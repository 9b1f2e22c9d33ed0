"""Reference imports: a GAITRite export or a mapped CSV comes in whole, in our units, or not at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import numpy as np
import pytest

from core.agreement import agreement_report
from core.errors import InputError
from core.reference import (
    GAITRITE_PARAMETERS,
    AnalysisRecord,
    ColumnMapping,
    ReferenceImportError,
    detect_gaitrite_mapping,
    match_reference,
    paired_table,
    read_gaitrite_export,
    read_reference_csv,
    trial_key,
)

# A GAITRite-style export as the seed's walkway wrote it: identifiers, GAITRite parameter columns with the
# unit in the name, and summary columns MoveScope does not import.
GAITRITE_HEADER = (
    "Patient ID,Test Date,Trial,Velocity,Cadence,Cycle Time(sec)/L,Cycle Time(sec)/R,"
    "Stride Length(cm)/L,Stride Length(cm)/R,Step Length(cm)/L,Step Length(cm)/R,Step Time(sec)/L,"
    "Step Time(sec)/R,HH Base Support(cm)/L,HH Base Support(cm)/R,Swing % of Cycle/L,Swing % of Cycle/R,"
    "Stance % of Cycle/L,Stance % of Cycle/R,Double Supp % Cycle/L,Double Supp % Cycle/R,Toe In / Out/L,"
    "Toe In / Out/R,CV Stride Length/L,CV Stride Length/R,CV Stride Time/L,CV Stride Time/R,"
    "Distance(cm),Ambulation Time(sec)"
)
GAITRITE_ROWS = [
    "P001,2024-03-01,1,121.5,110.2,1.09,1.08,132.1,131.8,66.0,65.9,0.54,0.55,9.8,9.8,38.5,38.9,61.5,61.1,"
    "22.6,22.4,5.1,6.3,2.1,2.4,1.8,1.9,580.2,4.8",
    "P001,2024-03-01,2,118.9,108.7,1.10,1.11,131.0,130.2,65.3,65.0,0.55,0.56,10.1,10.1,38.1,38.4,61.9,61.6,"
    "23.4,23.1,4.8,6.0,2.5,2.2,2.0,2.1,579.8,4.9",
    "P002,2024-03-02,1,86.4,97.5,1.23,1.24,105.7,106.3,52.4,53.5,0.61,0.62,12.3,12.3,35.2,35.6,64.8,64.4,"
    "29.1,28.8,8.2,7.5,3.9,4.2,3.1,2.8,575.0,6.7",
]


def _gaitrite_csv(rows: list[str] | None = None) -> bytes:
    return ("\n".join([GAITRITE_HEADER, *(GAITRITE_ROWS if rows is None else rows)]) + "\n").encode()


def _problems(error: pytest.ExceptionInfo) -> str:
    assert isinstance(error.value, ReferenceImportError)
    return "\n".join(error.value.problems)


# --- GAITRite exports ----------------------------------------------------------------------------------


def test_gaitrite_export_is_read_by_its_column_names(tmp_path) -> None:
    path = tmp_path / "gaitrite.csv"
    path.write_bytes(_gaitrite_csv())
    table = read_gaitrite_export(path)
    assert table.source == "GAITRite export"
    assert len(table) == 3
    expected = [n for n in GAITRITE_HEADER.split(",") if n in GAITRITE_PARAMETERS]
    assert len(expected) == 24 and table.parameters == tuple(expected)
    assert table.ignored_columns == ("Distance(cm)", "Ambulation Time(sec)")
    assert table.conversions == ()  # already in GAITRite's units

    first = table.rows[0]
    assert (first.patient_code, first.visit, first.trial, first.line) == ("P001", "2024-03-01", "1", 2)
    assert first.values["Velocity"] == 121.5
    assert first.values["Cycle Time(sec)/L"] == 1.09
    assert first.values["Toe In / Out/R"] == 6.3
    assert first.values["CV Stride Time/R"] == 1.9
    assert table.rows[2].describe() == "line 4 (patient P002, visit 2024-03-02, trial 1)"

    frame = table.to_frame()
    assert list(frame.columns[:4]) == ["patient_code", "visit", "trial", "line"]
    assert frame["Velocity"].tolist() == [121.5, 118.9, 86.4]


def test_gaitrite_export_with_semicolons_decimal_commas_and_a_unit_in_the_header() -> None:
    """A European export: ';' delimiter, decimal commas, and velocity written in m/s in the header."""
    content = (
        "Patient Code;Visit;Test #;Velocity (m/s);Cadence;Stride Length(m)/L\n"
        "P001;Baseline;1;1,21;110,2;1,32\n"
        "P001;Baseline;2;1,19;108,7;1,31\n"
    ).encode("cp1252")
    table = read_gaitrite_export(content)
    assert [r.values["Velocity"] for r in table.rows] == pytest.approx([121.0, 119.0])
    assert table.rows[0].values["Stride Length(cm)/L"] == pytest.approx(132.0)
    assert table.rows[1].trial == "2" and table.rows[0].visit == "Baseline"
    assert "Velocity (m/s): m/s -> cm/s (x100)" in table.conversions
    mapping = detect_gaitrite_mapping(["Patient Code", "Visit", "Test #", "Velocity (m/s)"])
    assert mapping.units == {"Velocity (m/s)": "m/s"} and mapping.trial == "Test #"


def test_trailing_delimiters_of_spreadsheet_exports_are_ignored() -> None:
    table = read_gaitrite_export(b"Patient ID,Visit,Trial,Velocity,\nP1,V1,1,120,\nP1,V1,2,118,\n")
    assert [r.values for r in table.rows] == [{"Velocity": 120.0}, {"Velocity": 118.0}]
    with pytest.raises(ReferenceImportError, match="line 2 has 5 fields but the header has 4"):
        read_gaitrite_export(b"Patient ID,Visit,Trial,Velocity,\nP1,V1,1,120,7\n")


def test_gaitrite_header_in_an_impossible_unit_is_refused() -> None:
    content = b"Patient ID,Visit,Trial,Velocity(steps/min),Stride Length(s)/L\nP1,V1,1,100,120\n"
    with pytest.raises(ReferenceImportError) as error:
        read_gaitrite_export(content)
    problems = _problems(error)
    assert "'Velocity(steps/min)' is in 'steps/min', which is not a unit of speed" in problems
    assert "'Stride Length(s)/L' is in 's', which is not a unit of length" in problems


def test_gaitrite_detection_says_what_is_missing() -> None:
    with pytest.raises(ReferenceImportError, match="no GAITRite parameter columns"):
        read_gaitrite_export(b"Patient ID,Visit,speed\nP1,V1,1.2\n")
    with pytest.raises(ReferenceImportError, match="no patient column"):
        read_gaitrite_export(b"Visit,Trial,Velocity\nV1,1,120\n")
    with pytest.raises(
        ReferenceImportError, match=r"several columns could be the patient \(ID, Patient ID\)"
    ):
        read_gaitrite_export(b"ID,Patient ID,Visit,Velocity\n1,P1,V1,120\n")
    # ... and the caller can name the column to use.
    table = read_gaitrite_export(b"ID,Patient ID,Visit,Velocity\n1,P1,V1,120\n", patient="Patient ID")
    assert table.rows[0].patient_code == "P1" and table.rows[0].trial == "1"  # no trial column: trial 1


# --- the generic mapping path --------------------------------------------------------------------------


def test_mapped_csv_converts_units_to_movescope_units() -> None:
    content = (
        b"subject,session,walk,speed,spm_hz,stride_m,step_mm,cycle_ms,base_m\n"
        b"S1,2024-05-02 09:30,01,1.2,1.8,1.30,650,1100,0.1\n"
        b"S2,2024-05-02 10:15,1.0,0.9,1.6,1.05,520,1250,0.12\n"
    )
    mapping = ColumnMapping(
        patient="subject",
        visit="session",
        trial="walk",
        parameters={
            "speed": "Velocity",
            "spm_hz": "Cadence",
            "stride_m": "Stride Length(cm)/L",
            "step_mm": "Step Length(cm)/L",
            "cycle_ms": "Cycle Time(sec)/L",
            "base_m": "HH Base Support(cm)/L",
        },
        units={
            "speed": "m/s",
            "spm_hz": "steps/s",
            "stride_m": "m",
            "step_mm": "mm",
            "cycle_ms": "ms",
            "base_m": "metre",
        },
    )
    table = read_reference_csv(content, mapping)
    first = table.rows[0].values
    assert first["Velocity"] == pytest.approx(120.0)
    assert first["Cadence"] == pytest.approx(108.0)
    assert first["Stride Length(cm)/L"] == pytest.approx(130.0)
    assert first["Step Length(cm)/L"] == pytest.approx(65.0)
    assert first["Cycle Time(sec)/L"] == pytest.approx(1.1)
    assert first["HH Base Support(cm)/L"] == pytest.approx(10.0)
    # An ISO date with a time is the visit's date; "01" and "1.0" are trial 1.
    assert [(r.visit, r.trial) for r in table.rows] == [("2024-05-02", "1"), ("2024-05-02", "1")]
    assert len(table.conversions) == 6
    assert table.to_dict()["parameters"]["Velocity"] == "cm/s"


def test_missing_cells_are_allowed_but_a_row_needs_one_value() -> None:
    mapping = ColumnMapping(patient="p", visit="v", trial="t", parameters={"a": "Velocity", "b": "Cadence"})
    table = read_reference_csv(b"p,v,t,a,b\nP1,V1,1,120,\nP1,V1,2,NA,101\n", mapping)
    assert table.rows[0].values == {"Velocity": 120.0}
    assert table.rows[1].values == {"Cadence": 101.0}
    with pytest.raises(ReferenceImportError, match="line 3 has no parameter values"):
        read_reference_csv(b"p,v,t,a,b\nP1,V1,1,120,100\nP1,V1,2,,\n", mapping)


def test_visit_date_format_parses_local_dates() -> None:
    mapping = ColumnMapping(
        patient="p", visit="date", parameters={"a": "Velocity"}, visit_date_format="%d/%m/%Y"
    )
    table = read_reference_csv(b"p,date,a\nP1,03/04/2024,120\n", mapping)
    assert table.rows[0].visit == "2024-04-03"
    with pytest.raises(ReferenceImportError, match="'2024-04-03' is not a date like '%d/%m/%Y'"):
        read_reference_csv(b"p,date,a\nP1,2024-04-03,120\n", mapping)


# --- bad files: every problem listed, nothing imported -------------------------------------------------

BASE_MAPPING = ColumnMapping(
    patient="patient",
    visit="visit",
    trial="trial",
    parameters={"speed": "Velocity", "stride": "Stride Length(cm)/L"},
)


HEAD = b"patient,visit,trial,speed,stride\n"


@pytest.mark.parametrize(
    ("content", "mapping_change", "expected"),
    [
        # unknown target name, with a suggestion
        (HEAD + b"P1,V1,1,120,130\n", {"parameters": {"speed": "Velocty"}}, "did you mean 'Velocity'"),
        # a mapped column the file does not have
        (b"patient,visit,trial,speed\nP1,V1,1,120\n", {}, "the parameter column 'stride' is not in the file"),
        # an unknown unit and an impossible one
        (HEAD + b"P1,V1,1,1.2,130\n", {"units": {"speed": "furlongs"}}, "unknown unit"),
        (HEAD + b"P1,V1,1,1.2,130\n", {"units": {"stride": "m/s"}}, "not a unit of length"),
        # a unit for a column that is not imported
        (HEAD + b"P1,V1,1,120,130\n", {"units": {"visit": "s"}}, "not mapped"),
        # a number that is not one
        (HEAD + b"P1,V1,1,fast,130\n", {}, "line 2: speed = 'fast' is not a number"),
        # metres declared as centimetres
        (HEAD + b"P1,V1,1,120,1.31\nP1,V1,2,118,1.29\n", {}, "is the column in m?"),
        # an identifier left empty
        (HEAD + b",V1,1,120,130\n", {}, "line 2: the patient is empty"),
        # a row with a field too many
        (HEAD + b"P1,V1,1,120,130,7\n", {}, "line 2 has 6 fields but the header has 5"),
        # a header naming a column twice
        (b"patient,visit,trial,speed,speed,stride\nP1,V1,1,120,121,130\n", {}, "more than once"),
        # no data
        (HEAD, {}, "no data rows"),
        # a row filter nothing passes
        (HEAD + b"P1,V1,1,120,130\n", {"keep_rows": {"visit": "V9"}}, "no row has"),
    ],
)
def test_each_bad_csv_is_refused_with_its_reason(content: bytes, mapping_change: dict, expected: str) -> None:
    mapping = replace(BASE_MAPPING, **mapping_change)
    with pytest.raises(ReferenceImportError) as error:
        read_reference_csv(content, mapping)
    assert expected in _problems(error)
    assert expected.split(":")[0] in str(error.value)  # the one-line message carries it too


def test_empty_and_unreadable_files() -> None:
    with pytest.raises(InputError, match="empty"):
        read_reference_csv(b"", BASE_MAPPING)
    with pytest.raises(InputError, match="binary"):
        read_reference_csv(b"\x00\x01\x02PK", BASE_MAPPING)
    with pytest.raises(InputError, match="cannot read"):
        read_reference_csv("/nonexistent/gaitrite.csv", BASE_MAPPING)


def test_duplicate_trials_are_refused_whatever_their_spelling() -> None:
    content = (
        b"patient,visit,trial,speed,stride\n"
        b"P1,2024-03-01,1,120,130\n"
        b"P2,2024-03-01,1,100,110\n"
        b" p1 ,2024-03-01 10:00,01,121,131\n"
    )
    with pytest.raises(ReferenceImportError) as error:
        read_reference_csv(content, BASE_MAPPING)
    assert _problems(error) == (
        "patient P1, visit 2024-03-01, trial 1 appears 2 times (lines 2, 4): keep one row per trial"
    )


def test_all_problems_are_collected_and_nothing_is_imported() -> None:
    content = (
        b"patient,visit,trial,speed,stride\n"
        b"P1,V1,1,120,130\n"  # valid
        b"P1,V1,2,quick,131\n"  # not a number
        b"P1,V1,2,119,1.3\n"  # duplicate trial 2 and a stride in metres
        b"P2,V1,1,980,128\n"  # 980 cm/s is not walking
    )
    with pytest.raises(ReferenceImportError) as error:
        read_reference_csv(content, BASE_MAPPING)
    problems = error.value.problems
    assert len(problems) == 4
    assert "line 3: speed = 'quick' is not a number" in problems
    assert any(p.startswith("Stride Length(cm)/L (column 'stride'): 1 value outside") for p in problems)
    assert any(
        p.startswith("Velocity (column 'speed'): 1 value outside the plausible 3-400 cm/s") for p in problems
    )
    assert any("trial 2 appears 2 times (lines 3, 4)" in p for p in problems)
    assert str(error.value).startswith("the reference file was not imported (4 problems): ")


# --- matching ------------------------------------------------------------------------------------------


def _table():
    return read_gaitrite_export(_gaitrite_csv())


def test_match_reference_pairs_rows_with_analyses() -> None:
    analyses = [
        AnalysisRecord("p001", date(2024, 3, 1), 1, analysis_id=11),
        AnalysisRecord("P001 ", datetime(2024, 3, 1, 9, 5), "02", analysis_id=12),
        {"patient_code": "P003", "visit": "2024-03-02", "trial": 1, "analysis_id": 13},  # a database row
    ]
    match = match_reference(_table(), analyses)
    assert [(p.analysis_id, p.row.line) for p in match.pairs] == [(11, 2), (12, 3)]
    assert [r.line for r in match.unmatched_rows] == [4]
    assert [a["analysis_id"] for a in match.unmatched_analyses] == [13]
    assert match.summary() == (
        "2 reference rows matched an analysis; 1 did not: line 4 (patient P002, visit 2024-03-02, trial 1)"
    )
    assert match.to_dict()["unmatched_rows"] == [
        {"line": 4, "patient_code": "P002", "visit": "2024-03-02", "trial": "1"}
    ]
    with pytest.raises(ReferenceImportError, match=r"line 4 .* has no MoveScope analysis"):
        match_reference(_table(), analyses, require_all=True)


def test_two_analyses_of_the_same_trial_make_the_match_ambiguous() -> None:
    analyses = [AnalysisRecord("P001", "2024-03-01", 1, 11), AnalysisRecord("P001", "2024-03-01", "1", 19)]
    with pytest.raises(ReferenceImportError, match="analyses 11, 19 are all patient P001"):
        match_reference(_table(), analyses)


def test_trial_key_ignores_spelling() -> None:
    assert trial_key(" P01", "2024-03-01 10:15", "01") == trial_key("p01", date(2024, 3, 1), 1)
    assert trial_key("P01", "Baseline", None) == trial_key("P01", "baseline ", "1")
    assert trial_key("P01", "V1", "1") != trial_key("P01", "V1", "2")


def test_matched_pairs_feed_the_agreement_statistics() -> None:
    rng = np.random.default_rng(4)
    speeds = rng.uniform(60, 140, 12)
    rows = [
        f"P{i:03d},2024-03-01,1,{v:.1f},105" + ",1.1" * 2 + ",130" * 2 + ",65" * 2
        for i, v in enumerate(speeds)
    ]
    header = (
        "Patient ID,Visit,Trial,Velocity,Cadence,Cycle Time(sec)/L,Cycle Time(sec)/R,Stride Length(cm)/L,"
    )
    header += "Stride Length(cm)/R,Step Length(cm)/L,Step Length(cm)/R"
    table = read_gaitrite_export(("\n".join([header, *rows]) + "\n").encode())
    analyses = [AnalysisRecord(f"P{i:03d}", "2024-03-01", 1, 100 + i) for i in range(12)]
    match = match_reference(table, analyses)
    measured = {100 + i: {"Velocity": v * 1.05 + rng.normal(0, 2)} for i, v in enumerate(speeds)}
    frame = paired_table(match, measured, parameters=["Velocity"])
    assert list(frame.columns) == [
        "analysis_id",
        "patient_code",
        "visit",
        "trial",
        "Velocity",
        "Velocity_ref",
    ]
    (velocity,) = agreement_report(frame[["Velocity", "Velocity_ref"]])
    assert velocity.n == 12 and velocity.message is None
    assert velocity.bland_altman is not None and velocity.bland_altman.bias > 0  # 5% high


# --- real reference data: Mobilise-D through the mapping path -------------------------------------------

MOBGAP_MAPPING = ColumnMapping(
    patient=("cohort", "participant"),  # participant 001 exists in both cohorts
    visit="time_measure",
    trial=("test", "trial", "walking_bout"),
    parameters={
        "walking_speed_m_s": "Velocity",
        "cadence_steps_min": "Cadence",
        "avg_stride_length_m": "Stride Length(cm)",  # both sides together
        "mean_stride_duration_s": "Cycle Time(sec)",
    },
    units={"walking_speed_m_s": "m/s", "avg_stride_length_m": "m"},
    keep_rows={"reference_system": "INDIP"},
)


@pytest.mark.shared
def test_mobilise_d_reference_summary_imports_through_the_mapping(shared_data) -> None:
    path = shared_data / "gait_reference" / "mobgap" / "DERIVED_reference_walking_bouts_summary.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    table = read_reference_csv(path, MOBGAP_MAPPING)
    assert len(table) == 19  # the INDIP bouts
    assert {r.patient_code for r in table.rows} == {"HA-001", "HA-002", "MS-001"}
    first = table.rows[0]  # HA,001,TimeMeasure1,Test5,Trial1,INDIP,bout 0
    assert (first.visit, first.trial, first.line) == ("TimeMeasure1", "Test5-Trial1-0", 3)
    assert first.values["Velocity"] == pytest.approx(105.9831047477268)  # 1.0598 m/s
    assert first.values["Stride Length(cm)"] == pytest.approx(126.38368816538175)
    assert first.values["Cadence"] == pytest.approx(100.51471711601177)
    assert first.values["Cycle Time(sec)"] == pytest.approx(1.195714285714286)
    assert table.ignored_columns == ("start_s", "end_s", "n_strides")

    # Without the reference-system filter the two systems' rows of one bout collide: nothing is imported.
    both = replace(MOBGAP_MAPPING, keep_rows={})
    with pytest.raises(ReferenceImportError) as error:
        read_reference_csv(path, both)
    assert (
        "patient HA-001, visit TimeMeasure1, trial Test5-Trial1-0 appears 2 times (lines 2, 3)"
        in _problems(error)
    )
    # Without the units the speeds (m/s) are implausible as cm/s, and the message says so.
    no_units = replace(MOBGAP_MAPPING, units={})
    with pytest.raises(ReferenceImportError, match=r"is the column in m/s\?"):
        read_reference_csv(path, no_units)
