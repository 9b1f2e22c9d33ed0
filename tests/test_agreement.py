"""Agreement statistics reproduce the published tables, catch proportional bias and refuse too little data."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from core import agreement as ag
from core.cli import main as cli_main
from core.errors import InputError
from core.reference import GAITRITE_PARAMETERS

# Shrout PE, Fleiss JL (1979), Psychol Bull 86:420-428, Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)
# Their Table 4: the six forms for these data.
SHROUT_FLEISS_PUBLISHED = {
    "ICC(1,1)": 0.17,
    "ICC(2,1)": 0.29,
    "ICC(3,1)": 0.71,
    "ICC(1,4)": 0.44,
    "ICC(2,4)": 0.62,
    "ICC(3,4)": 0.91,
}

# Bland JM, Altman DG (1986), Lancet i:307-310, Table 1: peak expiratory flow rate (l/min) of 17 subjects,
# first reading with the Wright meter and with the mini Wright meter.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI_WRIGHT = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]

# pingouin 0.7 names the two-way forms in McGraw & Wong's notation.
PINGOUIN_NAMES = {
    "ICC(1,1)": "ICC(1,1)",
    "ICC(2,1)": "ICC(A,1)",
    "ICC(3,1)": "ICC(C,1)",
    "ICC(1,k)": "ICC(1,k)",
    "ICC(2,k)": "ICC(A,k)",
    "ICC(3,k)": "ICC(C,k)",
}


def _pingouin_icc(table: np.ndarray) -> pd.DataFrame:
    n, k = table.shape
    long = pd.DataFrame(
        [(i, j, table[i, j]) for i in range(n) for j in range(k)], columns=["target", "rater", "score"]
    )
    return pg.intraclass_corr(long, targets="target", raters="rater", ratings="score").set_index("Type")


# --- ICC -----------------------------------------------------------------------------------------------


def test_icc_reproduces_shrout_fleiss_table() -> None:
    table = ag.icc_table(SHROUT_FLEISS)
    for name, published in SHROUT_FLEISS_PUBLISHED.items():
        assert round(table[name].value, 2) == published, name
    assert table.n_targets == 6 and table.n_raters == 4
    assert table.caution is not None and "30" in table.caution  # 6 targets is far below Koo & Li's 30


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside pingouin 0.7 under pandas 3
@pytest.mark.parametrize("seed", [None, 7])
def test_icc_matches_pingouin(seed: int | None) -> None:
    """Values, F tests and CIs equal pingouin's on the published table and on a larger random one."""
    if seed is None:
        data = SHROUT_FLEISS
    else:
        rng = np.random.default_rng(seed)
        truth = rng.normal(100, 15, size=(30, 1))
        data = truth + rng.normal([0, 4, -2], 6, size=(30, 3))
    ours = ag.icc_table(data)
    theirs = _pingouin_icc(data)
    for form, name in PINGOUIN_NAMES.items():
        row = theirs.loc[name]
        result = ours[form]
        assert result.value == pytest.approx(row["ICC"], abs=1e-9), form
        assert result.f == pytest.approx(row["F"], rel=1e-9), form
        assert (result.df1, result.df2) == (row["df1"], row["df2"]), form
        assert result.p == pytest.approx(row["pval"], rel=1e-6, abs=1e-300), form
        # pingouin rounds its CI to two decimals
        assert result.ci_low == pytest.approx(row["CI95"][0], abs=0.005 + 1e-9), form
        assert result.ci_high == pytest.approx(row["CI95"][1], abs=0.005 + 1e-9), form
        assert result.ci_low <= result.value <= result.ci_high, form


def test_icc_forms_carry_both_names_and_the_design() -> None:
    table = ag.icc_table(SHROUT_FLEISS)
    assert table["ICC(2,1)"] is table["ICC(A,1)"] is table.agreement
    assert table["ICC(3,4)"] is table["icc(c,k)"]
    assert table["ICC(2,1)"].label == (
        "ICC(2,1) = ICC(A,1): two-way random, absolute agreement, single measurement"
    )
    assert table["ICC(3,k)"].model == "two-way mixed" and table["ICC(3,k)"].definition == "consistency"
    assert [f.form for f in table.forms] == list(PINGOUIN_NAMES)
    with pytest.raises(KeyError):
        table["ICC(4,1)"]
    document = table.to_dict()
    json.dumps(document, allow_nan=False)
    assert document["forms"][1]["mcgraw_wong"] == "ICC(A,1)" and len(document["forms"]) == 6


def test_icc_band_uses_the_seed_cut_offs() -> None:
    assert ag.icc_band(0.91) == "excellent"
    assert ag.icc_band(0.751) == "excellent"
    assert ag.icc_band(0.75) == "good"  # excellent is strictly above 0.75
    assert ag.icc_band(0.40) == "good"
    assert ag.icc_band(0.399) == "poor"
    assert ag.icc_band(-0.2) == "poor"
    assert [f.band for f in ag.icc_table(SHROUT_FLEISS).forms] == [
        "poor",
        "poor",
        "good",
        "good",
        "good",
        "excellent",
    ]


def test_icc_of_perfect_agreement_is_one() -> None:
    values = np.arange(10.0)
    table = ag.icc_table(np.column_stack([values, values]))
    for form in table.forms:
        assert (form.value, form.ci_low, form.ci_high) == pytest.approx((1.0, 1.0, 1.0)), form.form
        assert form.band == "excellent"
    json.dumps(table.to_dict(), allow_nan=False)


# --- Bland-Altman --------------------------------------------------------------------------------------


def test_bland_altman_reproduces_the_1986_peak_flow_example() -> None:
    two_sd = ag.bland_altman(WRIGHT, MINI_WRIGHT, sd_multiplier=2.0, ci_method="approximate-1986")
    assert two_sd.n == 17
    assert round(two_sd.bias, 1) == -2.1  # published mean difference, l/min
    assert round(two_sd.sd, 1) == 38.8  # published SD of the differences
    # Published limits -79.7 to 75.5 were computed from the rounded mean and SD (-2.1 -/+ 2 x 38.8).
    assert two_sd.loa_low == pytest.approx(-79.7, abs=0.1)
    assert two_sd.loa_high == pytest.approx(75.5, abs=0.1)
    # The paper's 95% CI of the lower limit, -114.3 to -45.1 (SE = sqrt(3 s^2 / n), t with 16 df).
    assert two_sd.loa_low_ci_low == pytest.approx(-114.3, abs=0.2)
    assert two_sd.loa_low_ci_high == pytest.approx(-45.1, abs=0.2)

    standard = ag.bland_altman(WRIGHT, MINI_WRIGHT)  # 1.96 SD
    assert standard.loa_low == pytest.approx(-78.1, abs=0.05)
    assert standard.loa_high == pytest.approx(73.9, abs=0.05)
    assert standard.proportional_bias is False
    assert standard.n_outside_loa == 1  # subject 15 (178 vs 259)


def test_bias_ci_is_the_paired_t_interval() -> None:
    from scipy import stats

    result = ag.bland_altman(WRIGHT, MINI_WRIGHT)
    d = np.subtract(WRIGHT, MINI_WRIGHT)
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (result.bias_ci_low, result.bias_ci_high) == pytest.approx((low, high))


def test_exact_loa_intervals_keep_their_95_percent_coverage_at_small_n() -> None:
    """The non-central t intervals cover the true limits ~95% of the time at n = 10; the 1999
    approximation covers them less often (Carkeet 2015)."""
    rng = np.random.default_rng(2024)
    covered = {"exact": 0, "approximate": 0}
    runs = 600
    for _ in range(runs):
        a = rng.normal(0.0, 1.0, 10)
        b = np.zeros(10)
        for method in covered:
            r = ag.bland_altman(a, b, ci_method=method)
            covered[method] += (r.loa_low_ci_low <= -1.96 <= r.loa_low_ci_high) + (
                r.loa_high_ci_low <= 1.96 <= r.loa_high_ci_high
            )
    exact = covered["exact"] / (2 * runs)
    approximate = covered["approximate"] / (2 * runs)
    assert 0.93 <= exact <= 0.97
    assert approximate < exact


def test_bland_altman_detects_constructed_proportional_bias() -> None:
    rng = np.random.default_rng(3)
    reference = rng.uniform(40, 160, 40)  # walking speeds, cm/s
    # MoveScope reads 15% high at the fast end and low at the slow end: bias grows with speed.
    measured = 1.15 * reference - 15 + rng.normal(0, 2, 40)
    result = ag.bland_altman(measured, reference)
    assert result.proportional_bias is True
    assert result.slope_p < 1e-6
    assert result.slope_ci_low <= result.slope <= result.slope_ci_high
    # slope of (m - r) on (m + r)/2 for m = 1.15 r - 15: 0.15 / 1.075
    assert result.slope == pytest.approx(0.15 / 1.075, abs=0.02)

    constant_offset = reference + 3 + rng.normal(0, 2, 40)
    steady = ag.bland_altman(constant_offset, reference)
    assert steady.proportional_bias is False
    assert steady.bias == pytest.approx(3, abs=1)


def test_ratio_scale_removes_a_multiplicative_bias_trend() -> None:
    rng = np.random.default_rng(5)
    reference = rng.uniform(40, 160, 60)
    measured = 1.10 * reference * np.exp(rng.normal(0, 0.03, 60))  # 10% high, error proportional to size
    ratio = ag.bland_altman(measured, reference, scale="ratio")
    assert ratio.scale == "ratio"
    assert ratio.bias == pytest.approx(1.10, abs=0.02)  # geometric mean ratio
    assert ratio.loa_low < ratio.bias < ratio.loa_high
    assert ratio.loa_low_ci_low < ratio.loa_low < ratio.loa_low_ci_high
    assert ratio.proportional_bias is False
    assert np.allclose(ratio.differences, measured / reference)
    assert ag.bland_altman(measured, reference).proportional_bias is True  # on the difference scale


def test_bland_altman_drops_incomplete_pairs_and_reports_n() -> None:
    a = [*WRIGHT, math.nan, 300]
    b = [*MINI_WRIGHT, 310, math.nan]
    result = ag.bland_altman(a, b)
    assert result.n == 17
    assert result.bias == pytest.approx(-2.1176, abs=1e-4)
    document = result.to_dict(points=True)
    json.dumps(document, allow_nan=False)
    assert len(document["differences"]) == 17


# --- summaries -----------------------------------------------------------------------------------------


def test_agreement_summary_on_the_peak_flow_data() -> None:
    s = ag.agreement_summary(reference=MINI_WRIGHT, measured=WRIGHT)
    assert s.n == 17
    # Highly correlated (r = 0.94) although the limits of agreement span 150 l/min: Bland & Altman's point
    # that correlation is not agreement.
    assert round(s.pearson_r, 2) == 0.94
    assert s.pearson_ci_low < s.pearson_r < s.pearson_ci_high
    assert s.r_squared == pytest.approx(s.pearson_r**2)
    d = np.subtract(WRIGHT, MINI_WRIGHT)
    assert s.bias == pytest.approx(d.mean())
    assert s.mae == pytest.approx(np.abs(d).mean())
    assert s.rmse == pytest.approx(np.sqrt(np.mean(d**2)))
    assert s.r2_identity < s.r_squared  # bias and scatter about the identity line cost more
    assert s.ccc.ccc == pytest.approx(s.ccc.precision * s.ccc.accuracy)


def test_lin_ccc_penalises_an_offset_that_pearson_ignores() -> None:
    x = np.linspace(50, 150, 20)
    perfect = ag.lin_ccc(x, x)
    assert perfect.ccc == pytest.approx(1.0)
    shifted = ag.lin_ccc(x, x + 10)
    assert shifted.precision == pytest.approx(1.0)
    # Lin (1989): ccc = 2 s_xy / (s_x^2 + s_y^2 + (mean difference)^2), 1/n moments
    var = x.var()
    assert shifted.ccc == pytest.approx(2 * var / (2 * var + 100))
    rng = np.random.default_rng(1)
    noisy = ag.lin_ccc(x, x + rng.normal(2, 5, 20))
    assert noisy.ci_low < noisy.ccc < noisy.ci_high < 1


# --- guard rails ---------------------------------------------------------------------------------------


def test_guard_rails_refuse_with_a_sentence_instead_of_a_number() -> None:
    with pytest.raises(InputError, match=f"at least {ag.MIN_PAIRS_BLAND_ALTMAN} complete pairs, got 9"):
        ag.bland_altman(WRIGHT[:9], MINI_WRIGHT[:9])
    with pytest.raises(InputError, match=f"at least {ag.MIN_TARGETS_ICC} targets"):
        ag.icc_table(SHROUT_FLEISS[:4])
    with pytest.raises(InputError, match="at least 2 raters"):
        ag.icc_table(SHROUT_FLEISS[:, :1])
    with pytest.raises(InputError, match=f"at least {ag.MIN_PAIRS_CORRELATION}"):
        ag.agreement_summary(MINI_WRIGHT[:5], WRIGHT[:5])
    with pytest.raises(InputError, match=f"at least {ag.MIN_PAIRS_CORRELATION}"):
        ag.lin_ccc(WRIGHT[:3], MINI_WRIGHT[:3])
    with pytest.raises(InputError, match=f"at least {ag.MIN_PAIRS_MDC}"):
        ag.mdc_from_test_retest([1.0, 2.0], [1.1, 2.2])
    # Missing values count against the floor: 12 rows but only 8 complete pairs.
    a = np.array(WRIGHT[:12], dtype=float)
    a[:4] = np.nan
    with pytest.raises(InputError, match="got 8"):
        ag.bland_altman(a, MINI_WRIGHT[:12])


def test_unusable_inputs_are_input_errors() -> None:
    with pytest.raises(InputError, match="pair up"):
        ag.bland_altman(WRIGHT, MINI_WRIGHT[:-1])
    with pytest.raises(InputError, match="above zero"):
        ag.bland_altman([0.0, *WRIGHT[1:]], MINI_WRIGHT, scale="ratio")
    with pytest.raises(InputError, match="no between-target variation"):
        ag.icc_table(np.ones((8, 2)))
    with pytest.raises(InputError, match="constant"):
        ag.agreement_summary(np.full(12, 100.0), np.arange(12.0))
    with pytest.raises(InputError, match="numbers"):
        ag.bland_altman(["fast"] * 12, MINI_WRIGHT[:12])
    with pytest.raises(InputError):
        ag.sem(1.2, 10.0)
    with pytest.raises(InputError):
        ag.sem(-0.1, 10.0)


def test_parameter_agreement_keeps_the_refusal_as_a_message() -> None:
    few = ag.parameter_agreement("Cadence", [100, 101, 99], [101, 100, 98])
    assert few.icc is None and few.bland_altman is None
    assert few.message is not None and "at least 10" in few.message and few.n == 3
    full = ag.parameter_agreement("Velocity", WRIGHT, MINI_WRIGHT)
    assert full.message is None and full.n == 17
    assert full.icc is not None and full.bland_altman is not None and full.summary is not None
    json.dumps(full.to_dict(), allow_nan=False)


# --- SEM, MDC and the change flag ----------------------------------------------------------------------


def test_sem_and_mdc95_formulas() -> None:
    assert ag.sem(0.91, 10.0) == pytest.approx(3.0)
    assert ag.mdc95(3.0) == pytest.approx(3.0 * 1.96 * math.sqrt(2))
    assert ag.mdc95(ag.sem(1.0, 12.0)) == 0.0


def test_mdc_from_test_retest_equals_the_repeatability_coefficient() -> None:
    rng = np.random.default_rng(11)
    true_speed = rng.normal(110, 20, 25)
    test = true_speed + rng.normal(0, 4, 25)
    retest = true_speed + rng.normal(1, 4, 25)
    estimate = ag.mdc_from_test_retest(test, retest, parameter="Velocity", unit="cm/s")
    # With two sessions sqrt(MSE) = SD(differences) / sqrt(2), so MDC95 = 1.96 SD(differences).
    assert estimate.mdc95 == pytest.approx(1.96 * np.std(retest - test, ddof=1))
    assert estimate.sem == pytest.approx(np.std(retest - test, ddof=1) / math.sqrt(2))
    assert estimate.n == 25 and 0.8 < estimate.icc < 1
    # Each session's error has SD 4 cm/s: that is the SEM, and MDC95 = 4 x 1.96 x sqrt(2) = 11.1 cm/s.
    assert estimate.sem == pytest.approx(4.0, rel=0.25)
    assert estimate.mdc95 == pytest.approx(4 * 1.96 * math.sqrt(2), rel=0.25)
    json.dumps(estimate.to_dict(), allow_nan=False)


def test_change_exceeds_mdc() -> None:
    assert ag.change_exceeds_mdc(100.0, 110.0, 8.0) is True
    assert ag.change_exceeds_mdc(100.0, 92.0, 8.0) is False  # exactly the MDC: noise can explain it
    assert ag.change_exceeds_mdc(100.0, 91.9, 8.0) is True  # a decline counts too
    assert ag.change_exceeds_mdc(100.0, math.nan, 8.0) is False
    with pytest.raises(InputError):
        ag.change_exceeds_mdc(100.0, 110.0, -1.0)


def test_flag_changes_on_a_constructed_history() -> None:
    history = [
        ("2024-01-10", 100.0),
        ("2024-02-14", 104.0),  # +4: within the MDC of 8
        ("2024-03-13", None),  # visit without a gait analysis
        ("2024-04-10", 115.0),  # +11 against the last measured visit
        ("2024-05-08", 114.0),  # -1
        ("2024-06-12", 103.0),  # -11
    ]
    changes = ag.flag_changes(history, mdc=8.0)
    assert [(c.from_visit, c.to_visit) for c in changes] == [
        ("2024-01-10", "2024-02-14"),
        ("2024-02-14", "2024-04-10"),
        ("2024-04-10", "2024-05-08"),
        ("2024-05-08", "2024-06-12"),
    ]
    assert [c.exceeds for c in changes] == [False, True, False, True]
    assert [c.direction for c in changes] == ["none", "increase", "none", "decrease"]
    assert changes[1].change == pytest.approx(11.0)

    from_baseline = ag.flag_changes(history, mdc=8.0, against="baseline")
    assert [c.exceeds for c in from_baseline] == [False, True, True, False]
    assert ag.flag_changes([("2024-01-10", 100.0)], mdc=8.0) == []
    with pytest.raises(InputError, match="baseline"):
        ag.flag_changes(history, mdc=8.0, against="first")  # type: ignore[arg-type]


def test_published_mdc_table_entries_are_cited_gaitrite_parameters() -> None:
    for entry in ag.PUBLISHED_MDC95:
        assert entry.parameter in GAITRITE_PARAMETERS
        assert entry.unit == GAITRITE_PARAMETERS[entry.parameter].unit
        assert entry.citation and entry.population and entry.mdc95 > 0
    assert ag.published_mdc95("Not A Parameter") == ()


# --- paired tables and the command line ----------------------------------------------------------------


def _paired_csv(path, n: int = 20) -> None:
    rng = np.random.default_rng(9)
    reference = rng.uniform(60, 140, n)
    cadence_ref = rng.uniform(90, 120, n)
    frame = pd.DataFrame(
        {
            "patient": [f"P{i:02d}" for i in range(n)],
            "Velocity": reference * 1.03 + rng.normal(0, 3, n),
            "Velocity_ref": reference,
            "Cadence": cadence_ref + rng.normal(0, 2, n),
            "Cadence_ref": cadence_ref,
        }
    )
    frame.to_csv(path, index=False)


def test_cli_writes_the_agreement_report(tmp_path) -> None:
    csv_path, out = tmp_path / "paired.csv", tmp_path / "out" / "agreement.json"
    _paired_csv(csv_path)
    assert cli_main(["agreement", str(csv_path), "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert set(document["parameters"]) == {"Velocity", "Cadence"}
    velocity = document["parameters"]["Velocity"]
    assert velocity["n"] == 20 and velocity["message"] is None
    assert [f["form"] for f in velocity["icc"]["forms"]] == list(PINGOUIN_NAMES)
    assert all(f["band"] in ("excellent", "good", "poor") for f in velocity["icc"]["forms"])
    assert velocity["bland_altman"]["bias"] > 0  # MoveScope reads 3% high
    for key in ("pearson_r", "mae", "rmse", "r_squared", "ccc"):
        assert key in velocity["summary"]


def test_cli_explicit_pairs_and_ratio_scale(tmp_path, capsys) -> None:
    csv_path = tmp_path / "paired.csv"
    frame = pd.DataFrame({"ours": np.linspace(60, 140, 12), "gaitrite velocity": np.linspace(58, 139, 12)})
    frame.to_csv(csv_path, index=False)
    pairs = "ours:gaitrite velocity"
    assert cli_main(["agreement", str(csv_path), "--pairs", pairs, "--scale", "ratio", "--points"]) == 0
    document = json.loads(capsys.readouterr().out)
    ba = document["parameters"]["ours"]["bland_altman"]
    assert ba["scale"] == "ratio" and len(ba["differences"]) == 12


@pytest.mark.parametrize(
    ("content", "extra", "reason"),
    [
        (None, [], "no such file"),
        ("", [], "empty"),
        ("a,b\n1,2\n3,4\n", [], "no paired columns"),
        ("Velocity,Velocity_ref\n" + "100,101\n" * 11 + "fast,99\n", [], "line 13: Velocity = 'fast'"),
        ("Velocity,Velocity_ref\n100,101\n102,101\n", [], "no parameter could be analysed"),
        ("Velocity,Velocity_ref\n100,101\n", ["--pairs", "Velocity"], "MEASURED:REFERENCE"),
        ("Velocity,Velocity_ref\n100,101\n", ["--pairs", "Velocity:GR"], "'GR' not in the file"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, content, extra, reason) -> None:
    csv_path = tmp_path / "paired.csv"
    if content is not None:
        csv_path.write_text(content)
    assert cli_main(["agreement", str(csv_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and reason in err
    assert err.count("\n") == 1


def test_python_dash_m_core_agreement(tmp_path) -> None:
    """The real entry point: a bad file ends with exit status 2 and one line on stderr."""
    bad = subprocess.run(
        [sys.executable, "-m", "core", "agreement", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: no such file") and bad.stderr.count("\n") == 1
