"""What does the record say about this patient's gait over time? A report for the chart, and its plots.

:func:`patient_report_html` writes one self-contained HTML file a clinician can file in the hospital
information system, mail or print: the patient's details, the visits, the changes that exceed their
parameter's minimal detectable change, and per parameter a trend plot with its table and the MDC's source.
The plots are Plotly figures with plotly.js inlined once, so the file opens offline, fetches nothing and
still zooms and hovers. The same figure builders (:func:`trend_figure`, :func:`timeline_figure`) draw the
patient page, and :class:`HtmlDocument` writes the Agreement page's figure export, so a plot looks the same
on screen and on paper.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from core.history import ParameterHistory, PatientHistory, patient_history
from core.storage import Database

MEASURED_COLOUR = "#1f4e79"
FLAG_COLOUR = "#c0392b"
NORM_COLOUR = "#7f8c8d"
FIGURE_HEIGHT_PX = 320
TIMELINE_HEIGHT_PX = 180
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 60em;
       color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f2f2; } .note { color: #555; font-size: 0.9em; } .flag { color: #c0392b; }
@media print { .plotly-graph-div { page-break-inside: avoid; } }
"""


class HtmlDocument:
    """A self-contained HTML page of headings, paragraphs, tables and Plotly figures (plotly.js inline)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = []
        self._has_plotly = False

    def heading(self, text: str, level: int = 2) -> None:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css_class: str | None = None) -> None:
        attribute = f' class="{css_class}"' if css_class else ""
        self._parts.append(f"<p{attribute}>{html.escape(text)}</p>")

    def bullets(self, items: Sequence[str], css_class: str | None = None) -> None:
        attribute = f' class="{css_class}"' if css_class else ""
        self._parts.append(
            f"<ul{attribute}>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
        )

    def table(self, frame: pd.DataFrame, float_format: str = "{:.4g}") -> None:
        self._parts.append(
            frame.to_html(index=False, na_rep="", border=0, float_format=float_format.format, escape=True)
        )

    def figure(self, figure: go.Figure) -> None:
        # plotly.js goes in once, inline, with the first figure: the file must open without a network.
        self._parts.append(
            pio.to_html(figure, full_html=False, include_plotlyjs=not self._has_plotly, include_mathjax=False)
        )
        self._has_plotly = True

    def render(self) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(self.title)}</h1>\n" + "\n".join(self._parts) + "\n</body>\n</html>\n"
        )


def trend_figure(history: ParameterHistory) -> go.Figure:
    """Visit means (error bars: SD of the visit's trials), the normative line and the flagged changes."""
    dates = [v.visit_date for v in history.visits]
    figure = go.Figure()
    if any(n is not None for n in history.norms):
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=list(history.norms),
                mode="lines",
                line={"color": NORM_COLOUR, "dash": "dash"},
                name=f"norm: {history.norm_group}" if history.norm_group else "norm",
                hovertemplate="norm %{y:.3g}<extra></extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=[v.value for v in history.visits],
            error_y={"type": "data", "array": [v.sd or 0.0 for v in history.visits], "visible": True},
            mode="lines+markers",
            marker={"color": MEASURED_COLOUR, "size": 9},
            line={"color": MEASURED_COLOUR},
            name="visit mean",
            text=[f"{v.name}: {v.trials} trial{'s' if v.trials != 1 else ''}" for v in history.visits],
            hovertemplate="%{text}<br>%{y:.3g}<extra></extra>",
        )
    )
    flagged = [(v, c) for v, c in zip(history.visits[1:], history.changes, strict=False) if c.exceeds]
    if flagged:
        figure.add_trace(
            go.Scatter(
                x=[v.visit_date for v, _ in flagged],
                y=[v.value for v, _ in flagged],
                mode="markers",
                marker={"color": "rgba(0,0,0,0)", "size": 18, "line": {"color": FLAG_COLOUR, "width": 3}},
                name="change > MDC",
                text=[f"{c.change:+.3g} {history.unit} (MDC {c.mdc:.3g})" for _, c in flagged],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"{history.parameter} ({history.unit})" if history.unit else history.parameter,
        height=FIGURE_HEIGHT_PX,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        yaxis_title=history.unit,
    )
    return figure


def timeline_figure(history: PatientHistory) -> go.Figure:
    """The patient's visits on a time axis; marker size grows with the number of analyses."""
    visits = history.visits
    figure = go.Figure(
        go.Scatter(
            x=[v.visit_date for v in visits],
            y=[0] * len(visits),
            mode="markers+text",
            marker={"size": [12 + 4 * min(v.analyses, 6) for v in visits], "color": MEASURED_COLOUR},
            text=[v.label or f"{v.visit_date:%Y-%m-%d}" for v in visits],
            textposition="top center",
            customdata=[[v.analyses, v.gait_trials] for v in visits],
            hovertemplate="%{x|%Y-%m-%d}: %{customdata[0]} analyses, %{customdata[1]} gait trials"
            "<extra></extra>",
        )
    )
    figure.update_layout(
        height=TIMELINE_HEIGHT_PX,
        margin={"l": 20, "r": 20, "t": 30, "b": 30},
        yaxis={"visible": False, "range": [-1, 1.5]},
        showlegend=False,
    )
    return figure


def values_table(history: ParameterHistory) -> pd.DataFrame:
    """Per visit: mean, trials, SD, change from the previous visit, beyond the MDC?, norm."""
    changes = {c.to_visit: c for c in history.changes}
    frame = pd.DataFrame(
        [
            {
                "visit": v.name,
                "mean": v.value,
                "trials": v.trials,
                "SD": v.sd,
                "change": changes[v.name].change if v.name in changes else None,
                "beyond MDC": ("yes" if changes[v.name].exceeds else "no") if v.name in changes else "",
                "norm": norm,
            }
            for v, norm in zip(history.visits, history.norms, strict=True)
        ]
    )
    numeric = ["mean", "SD", "change", "norm"]
    frame[numeric] = frame[numeric].astype(float)  # a column of only missing values shows empty, not "None"
    return frame


def visits_table(history: PatientHistory) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "date": f"{v.visit_date:%Y-%m-%d}",
                "label": v.label or "",
                "analyses": v.analyses,
                "gait trials": v.gait_trials,
            }
            for v in history.visits
        ],
        columns=["date", "label", "analyses", "gait trials"],
    )


def flag_sentences(history: PatientHistory) -> list[str]:
    """``Velocity: 2026-01-10 -> 2026-04-02 baseline changed by -21.3 cm/s (MDC95 9.8 cm/s)``."""
    return [
        f"{name}: {c.from_visit} -> {c.to_visit} changed by {c.change:+.3g} {history.parameters[name].unit} "
        f"(MDC95 {c.mdc:.3g} {history.parameters[name].unit})"
        for name, c in history.flags
    ]


def patient_report_html(db: Database, patient_id: int, *, generated: datetime | None = None) -> str:
    """The patient's report as one self-contained HTML document (see the module docstring)."""
    history = patient_history(db, patient_id)
    document = HtmlDocument(f"MoveScope patient report: {history.code}")
    details = [
        f"Patient code {history.code}",
        f"birth year {history.birth_year}" if history.birth_year else "birth year not recorded",
        f"sex {history.sex}" if history.sex else "sex not recorded",
        f"height {history.height_cm:g} cm" if history.height_cm else "height not recorded",
    ]
    document.paragraph("; ".join(details) + ".")
    document.paragraph(
        f"Generated {(generated or datetime.now()):%Y-%m-%d %H:%M} by MoveScope from this clinic's database. "
        "Values are MoveScope's video measurements in GAITRite parameter names and units.",
        "note",
    )
    document.heading("Visits")
    if history.visits:
        document.figure(timeline_figure(history))
        document.table(visits_table(history))
    else:
        document.paragraph("No visits recorded.")
    document.heading("Changes beyond the minimal detectable change")
    flags = flag_sentences(history)
    if flags:
        document.bullets(flags, "flag")
    else:
        document.paragraph("No change between visits exceeds its parameter's MDC (or no MDC is available).")
    for name, parameter in history.parameters.items():
        document.heading(name)
        document.figure(trend_figure(parameter))
        document.table(values_table(parameter))
        document.paragraph(parameter.mdc_note[0].upper() + parameter.mdc_note[1:] + ".", "note")
        if parameter.norm_source:
            document.paragraph(f"Norm: {parameter.norm_group}, {parameter.norm_source}.", "note")
    if not history.parameters:
        document.paragraph("No gait parameters have been measured for this patient yet.")
    return document.render()
