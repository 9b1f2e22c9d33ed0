"""The patient report: one HTML file with the patient, visits, flags and plots, fetching nothing."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

from core.report import HtmlDocument, patient_report_html
from core.storage.records import create_patient
from tests.test_history import RETEST_DIFFERENCES, add_retest_visits, history_patient


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.divs: list[dict] = []
        self.links: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        {"script": self.scripts, "div": self.divs, "link": self.links}.get(tag, []).append(attributes)

    def handle_data(self, data):
        self.text.append(data)


def test_the_report_holds_patient_visits_flags_and_plots_and_needs_no_network(db):
    add_retest_visits(db, RETEST_DIFFERENCES)
    patient_id = history_patient(db)
    page = patient_report_html(db, patient_id, generated=datetime(2026, 4, 7, 9, 30))
    parsed = Collector()
    parsed.feed(page)
    text = " ".join(parsed.text)

    assert "MoveScope patient report: HIST-1" in text
    assert "birth year 1950; sex female" in text and "Generated 2026-04-07 09:30" in text
    for visit in ("2026-01-05", "2026-02-16", "2026-04-06", "baseline", "6 weeks", "3 months"):
        assert visit in text
    assert "Velocity: 2026-02-16 6 weeks -> 2026-04-06 3 months changed by +16 cm/s" in text
    assert "women 70-79, Bohannon & Williams Andrews" in text
    plots = [d for d in parsed.divs if "plotly-graph-div" in d.get("class", "")]
    assert len(plots) == 3, "the timeline and one trend per parameter (Velocity, Cadence)"
    assert not [s for s in parsed.scripts if s.get("src")], "no script is fetched from anywhere"
    assert not parsed.links and not re.search(r"""src=["']https?://""", page)
    assert page.count("plotly.js v") == 1, "plotly.js inlined once"


def test_a_patient_without_analyses_gets_a_report_that_says_so(db):
    patient = create_patient(db, "EMPTY-1")
    page = patient_report_html(db, patient.id)
    assert "No visits recorded." in page and "No gait parameters have been measured" in page
    assert "<script" not in page, "no plot, no plotly.js"


def test_text_is_escaped():
    document = HtmlDocument("<b>x</b>")
    document.paragraph("a < b & c")
    assert "&lt;b&gt;x&lt;/b&gt;" in document.render() and "a &lt; b &amp; c" in document.render()
