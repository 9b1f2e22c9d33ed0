"""MoveScope: clinical movement analysis in the browser. Start with ``make run``.

The entry point only sets up the frame: page configuration and navigation. Each page draws the shared
patient sidebar itself (``pages.parts.common.page_header``): Streamlit's AppTest re-executes widgets that the
entry point draws around ``st.navigation`` only on a session's first run, and every flow must be testable.
"""

import streamlit as st

st.set_page_config(page_title="MoveScope", page_icon="assets/logo.svg", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/gait.py", title="Gait", icon=":material/directions_walk:", url_path="gait"),
        st.Page("pages/fall.py", title="Falls", icon=":material/personal_injury:", url_path="falls"),
        st.Page("pages/patients.py", title="Patients", icon=":material/group:", url_path="patients"),
        st.Page(
            "pages/agreement.py", title="Agreement", icon=":material/compare_arrows:", url_path="agreement"
        ),
    ]
)
st.logo("assets/logo.svg")
navigation.run()
