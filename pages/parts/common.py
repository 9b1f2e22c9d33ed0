"""Pieces every page shares: the database, the patient in the sidebar, uploads, error display.

Not a page itself (``app.py`` lists the pages). Business logic stays in ``core``; this module only adapts
it to Streamlit's caching and widgets.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

import cv2
import streamlit as st

from core.errors import InputError
from core.settings import settings
from core.storage import Database, open_database
from core.storage.records import SEXES, create_patient, get_patient, list_patients, visit_name, visits_of

log = logging.getLogger("movescope")
PATIENT_KEY = "patient_id"  # the sidebar selectbox's key: its value is the current patient's id
_CREATED_KEY = "_created_patient_id"
UPLOAD_CHUNK_BYTES = 8 << 20


@st.cache_resource(show_spinner=False)
def database() -> Database:
    return open_database()


def report_errors(action: Callable[[], object], what: str) -> object | None:
    """Run ``action``; show a user's error as it is and any other failure without a traceback."""
    try:
        return action()
    except InputError as error:
        st.error(str(error), icon=":material/error:")
    except Exception:
        log.exception("%s failed", what)
        st.error(
            f"{what} failed unexpectedly. Nothing was saved. The details are in the server log; "
            "please report them to your MoveScope administrator.",
            icon=":material/error:",
        )
    return None


def save_upload(uploaded) -> tuple[Path, str]:
    """Stream an uploaded file to the data folder, named by its SHA-256 (returns path and hash)."""
    uploads = settings().data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = uploads / f"incoming-{id(uploaded)}.part"
    uploaded.seek(0)
    with tmp.open("wb") as f:
        while chunk := uploaded.read(UPLOAD_CHUNK_BYTES):
            digest.update(chunk)
            f.write(chunk)
    sha = digest.hexdigest()
    path = uploads / f"{sha}{Path(uploaded.name).suffix.lower()}"
    tmp.replace(path)
    return path, sha


def image_data_uri(image_bgr, width: int | None = None) -> str:
    """PNG data URI of a BGR image (for thumbnails in tables)."""
    if width and image_bgr.shape[1] > width:
        image_bgr = cv2.resize(image_bgr, (width, int(image_bgr.shape[0] * width / image_bgr.shape[1])))
    ok, png = cv2.imencode(".png", image_bgr)
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode() if ok else ""


def current_patient():
    patient_id = st.session_state.get(PATIENT_KEY)
    return get_patient(database(), patient_id) if patient_id else None


def _new_patient_form() -> None:
    with st.form("new-patient", clear_on_submit=True):
        code = st.text_input(
            "Pseudonymous code", max_chars=64, help="No names: a code your clinic can look up"
        )
        birth_year = st.number_input(
            "Birth year", min_value=1900, max_value=date.today().year, value=None, step=1
        )
        sex = st.selectbox("Sex", SEXES, index=None)
        height = st.number_input("Height (cm)", min_value=50.0, max_value=250.0, value=None, step=0.5)
        if st.form_submit_button("Create patient"):
            patient = report_errors(
                lambda: create_patient(
                    database(),
                    code,
                    int(birth_year) if birth_year else None,
                    sex,
                    float(height) if height else None,
                ),
                "Creating the patient",
            )
            if patient is not None:
                st.session_state[_CREATED_KEY] = (
                    patient.id
                )  # selected on the next run, before the widget exists
                st.rerun()


def page_header(title: str, caption: str | None = None) -> None:
    """The top of every page: its title, its caption and the shared patient sidebar."""
    st.title(title)
    if caption:
        st.caption(caption)
    sidebar_patient()


def sidebar_patient() -> None:
    """The patient picker and creator shown on every page."""
    with st.sidebar:
        st.subheader("Patient")
        patients = list_patients(database())
        ids = [p.id for p in patients]
        labels = {p.id: p.code for p in patients}
        if _CREATED_KEY in st.session_state:
            st.session_state[PATIENT_KEY] = st.session_state.pop(_CREATED_KEY)
        if st.session_state.get(PATIENT_KEY) not in ids:
            st.session_state[PATIENT_KEY] = None  # deleted elsewhere
        st.selectbox(
            "Current patient",
            ids,
            format_func=lambda i: labels[i],
            placeholder="Choose a patient" if ids else "No patients yet",
            key=PATIENT_KEY,
        )
        with st.expander("New patient", expanded=not ids):
            _new_patient_form()


def choose_visit(patient, new_label_hint: str = "e.g. baseline") -> tuple[int | None, str | None]:
    """Which visit of ``patient`` to save to: (visit id, None), or (None, label) for a new visit today."""
    visits = visits_of(database(), patient.id)
    labels = {v.id: visit_name(v.visit_date, v.label) for v in visits}
    visit_id = st.selectbox(
        f"Visit of {patient.code}",
        [None, *labels],
        format_func=lambda v: "New visit today" if v is None else labels[v],
    )
    if visit_id is not None:
        return visit_id, None
    return None, st.text_input("Label of the new visit", placeholder=new_label_hint)


def save_to_record(save: Callable[..., int], new_label_hint: str = "e.g. baseline") -> None:
    """The pages' "Save to the patient's record" section: visit, button, confirmation or a clear error.

    ``save(visit_id=..., new_visit_of=..., visit_date=..., visit_label=...)`` stores the analysis in one
    transaction (:func:`core.storage.records.save_analysis` takes exactly these) and returns its id.
    """
    st.subheader("Save to the patient's record")
    patient = current_patient()
    if patient is None:
        st.info("Choose or create a patient in the sidebar to save this analysis.")
        return
    visit_id, label = choose_visit(patient, new_label_hint)
    if st.button("Save analysis", type="primary"):
        where = {
            "visit_id": visit_id,
            "new_visit_of": patient.id,
            "visit_date": date.today(),
            "visit_label": label,
        }
        saved = report_errors(lambda: save(**where), "Saving the analysis")
        if saved is not None:
            st.success(
                f"Saved as analysis {saved} of patient {patient.code}.", icon=":material/check_circle:"
            )
