"""The agreement page's figures and tables: scatter against identity, Bland-Altman, ICC forms, overview.

Plain functions of :class:`core.agreement.ParameterAgreement` results; no Streamlit here, so the same
figures go on screen and into the exported HTML.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.agreement import ParameterAgreement
from core.reference import GAITRITE_PARAMETERS

POINT_COLOUR = "#1f4e79"
FIT_COLOUR = "#e67e22"
LINE_COLOUR = "#7f8c8d"
CI_FILL = "rgba(127, 140, 141, 0.18)"
FIGURE_HEIGHT_PX = 380


def unit_of(parameter: str) -> str:
    spec = GAITRITE_PARAMETERS.get(parameter)
    return spec.unit if spec else ""


def scatter_figure(result: ParameterAgreement, measured: np.ndarray, reference: np.ndarray) -> go.Figure:
    """MoveScope against the reference, with the identity line and the least-squares line."""
    unit = unit_of(result.parameter)
    complete = np.isfinite(measured) & np.isfinite(reference)
    x, y = reference[complete], measured[complete]
    low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="identity",
            line={"color": LINE_COLOUR, "dash": "dash"},
        )
    )
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        figure.add_trace(
            go.Scatter(
                x=[low, high],
                y=[intercept + slope * low, intercept + slope * high],
                mode="lines",
                name=f"fit: y = {slope:.3f} x {intercept:+.3g}",
                line={"color": FIT_COLOUR},
            )
        )
    figure.add_trace(
        go.Scatter(
            x=x, y=y, mode="markers", name="trials", marker={"color": POINT_COLOUR, "size": 8, "opacity": 0.8}
        )
    )
    suffix = f" ({unit})" if unit else ""
    figure.update_layout(
        title=f"{result.parameter}: MoveScope vs reference",
        xaxis_title=f"{result.reference_column}{suffix}",
        yaxis_title=f"{result.measured_column}{suffix}",
        height=FIGURE_HEIGHT_PX,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return figure


def bland_altman_figure(result: ParameterAgreement) -> go.Figure:
    """Differences against means with bias and limits of agreement, each with its confidence band."""
    ba = result.bland_altman
    assert ba is not None
    ratio = ba.scale == "ratio"
    unit = "" if ratio else unit_of(result.parameter)
    figure = go.Figure()
    bands = (
        ("bias", ba.bias, ba.bias_ci_low, ba.bias_ci_high),
        ("lower LoA", ba.loa_low, ba.loa_low_ci_low, ba.loa_low_ci_high),
        ("upper LoA", ba.loa_high, ba.loa_high_ci_low, ba.loa_high_ci_high),
    )
    for name, value, low, high in bands:
        figure.add_hrect(y0=low, y1=high, fillcolor=CI_FILL, line_width=0)
        figure.add_hline(
            y=value,
            line={
                "color": LINE_COLOUR if name != "bias" else POINT_COLOUR,
                "dash": "dash" if name != "bias" else "solid",
            },
            annotation_text=f"{name} {value:.3g}",
            annotation_position="top right",
        )
    figure.add_trace(
        go.Scatter(
            x=ba.means,
            y=ba.differences,
            mode="markers",
            name="trials",
            marker={"color": POINT_COLOUR, "size": 8, "opacity": 0.8},
        )
    )
    if ba.proportional_bias and not ratio:
        x = np.array([float(np.min(ba.means)), float(np.max(ba.means))])
        figure.add_trace(
            go.Scatter(
                x=x,
                y=ba.intercept + ba.slope * x,
                mode="lines",
                name=f"proportional bias: slope {ba.slope:.3f} (p = {ba.slope_p:.2g})",
                line={"color": FIT_COLOUR},
            )
        )
    suffix = f" ({unit})" if unit else ""
    figure.update_layout(
        title=f"{result.parameter}: Bland-Altman ({'ratio' if ratio else 'difference'})",
        xaxis_title=f"mean of MoveScope and reference{suffix}",
        yaxis_title=("MoveScope / reference" if ratio else f"MoveScope - reference{suffix}"),
        height=FIGURE_HEIGHT_PX,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        showlegend=True,
    )
    return figure


def bland_altman_note(result: ParameterAgreement) -> str:
    """One sentence: bias and limits with CIs, and whether the differences grow with the magnitude."""
    ba = result.bland_altman
    assert ba is not None
    unit = "" if ba.scale == "ratio" else f" {unit_of(result.parameter)}"
    text = (
        f"Bias {ba.bias:.3g}{unit} (95% CI {ba.bias_ci_low:.3g} to {ba.bias_ci_high:.3g}); limits of "
        f"agreement {ba.loa_low:.3g} to {ba.loa_high:.3g}{unit} ({ba.n} pairs, {ba.n_outside_loa} outside). "
    )
    if ba.proportional_bias:
        return text + (
            f"Proportional bias: the differences change with the magnitude (slope {ba.slope:.3f}, "
            f"p = {ba.slope_p:.2g}); the limits of agreement are not constant - consider the ratio scale."
        )
    return text + f"No proportional bias detected (slope {ba.slope:.3f}, p = {ba.slope_p:.2g})."


def icc_frame(results: list[ParameterAgreement]) -> pd.DataFrame:
    """Every ICC form of every parameter with its 95% CI and band (the table that is exported)."""
    rows = [
        {
            "parameter": r.parameter,
            "n": r.n,
            "form": f.form,
            "McGraw & Wong": f.mcgraw_wong,
            "model": f.model,
            "definition": f.definition,
            "unit": f.unit,
            "ICC": f.value,
            "CI low": f.ci_low,
            "CI high": f.ci_high,
            "band": f.band,
            "F": f.f,
            "df1": f.df1,
            "df2": f.df2,
            "p": f.p,
        }
        for r in results
        if r.icc is not None
        for f in r.icc.forms
    ]
    return pd.DataFrame(rows)


def overview_frame(results: list[ParameterAgreement]) -> pd.DataFrame:
    """One row per parameter: ICC(2,1) with CI and band, bias, limits, CCC, or why it was not computed."""
    rows = []
    for r in results:
        if r.message is not None:
            rows.append({"parameter": r.parameter, "pairs": r.n, "note": r.message})
            continue
        assert r.icc and r.bland_altman and r.summary
        icc = r.icc.agreement
        rows.append(
            {
                "parameter": r.parameter,
                "pairs": r.n,
                "ICC(2,1)": icc.value,
                "95% CI": f"{icc.ci_low:.2f} to {icc.ci_high:.2f}",
                "band": icc.band,
                "bias": r.bland_altman.bias,
                "LoA": f"{r.bland_altman.loa_low:.3g} to {r.bland_altman.loa_high:.3g}",
                "proportional bias": "yes" if r.bland_altman.proportional_bias else "no",
                "CCC": r.summary.ccc.ccc,
                "MAE": r.summary.mae,
                "note": r.icc.caution or "",
            }
        )
    return pd.DataFrame(rows)
