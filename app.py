"""MoveScope: clinical movement analysis in the browser. Start with ``make run``.

The entry point only sets up the page frame: navigation, the shared patient sidebar, nothing heavy.
"""

import streamlit as st

from pages.common import sidebar_patient

st.set_page_config(page_title="MoveScope", page_icon="assets/logo.svg", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/gait.py", title="Gait", icon=":material/directions_walk:", url_path="gait"),
        st.Page("pages/patients.py", title="Patients", icon=":material/group:", url_path="patients"),
    ]
)
st.logo("assets/logo.svg")
sidebar_patient()
navigation.run()
