"""Does MoveScope measure gait the way the reference walkway does, and did a patient really change?

Two clinical questions, answered with the statistics method-comparison and reliability papers prescribe:

1. **Agreement with a reference system** (GAITRite, motion capture): for each gait parameter, paired values
   from MoveScope and from the reference on the same trials.

   - *Intraclass correlation* in all six Shrout & Fleiss (1979) forms, computed here from the two-way ANOVA
     mean squares of an ``(n targets, k raters)`` table, each with its exact F-based 95% confidence interval
     (Shrout & Fleiss 1979; McGraw & Wong 1996, the Satterthwaite approximation for the absolute-agreement
     forms). For MoveScope against a reference the form to quote is ICC(2,1) = McGraw & Wong's ICC(A,1):
     two-way random effects, absolute agreement, single measurement, because a systematic offset between the
     systems is disagreement a clinician cares about (Koo & Li 2016). :func:`icc_band` labels a value as the
     gait seed did.
   - *Bland-Altman analysis* (Bland & Altman 1986, 1999): bias (mean difference) with its t-based CI, 95%
     limits of agreement (bias +/- 1.96 SD of the differences) with their confidence intervals, proportional
     bias by regressing the differences on the pair means, and an optional ratio scale (log-transformed
     values, for differences that grow with the magnitude).
   - *Lin's concordance correlation coefficient* (Lin 1989) with its Fisher-z CI, Pearson r with its Fisher-z
     CI, MAE, RMSE and R^2 (:func:`agreement_summary`).

2. **A real change between visits**: the standard error of measurement ``SEM = SD * sqrt(1 - ICC)`` and the
   minimal detectable change ``MDC95 = SEM * 1.96 * sqrt(2)`` (Weir 2005; Haley & Fragala-Pinkham 2006);
   :func:`change_exceeds_mdc` and :func:`flag_changes` flag a visit-to-visit change larger than the MDC.

Guard rails. A function given fewer values than its named minimum (``MIN_TARGETS_ICC``,
``MIN_PAIRS_BLAND_ALTMAN``, ``MIN_PAIRS_CORRELATION``, ``MIN_PAIRS_MDC``) raises
:class:`~core.errors.InputError` with a sentence saying how many it got and how many it needs; it never
returns a number. We chose raising over a result object carrying a ``message`` because a number-or-message
object invites code that plots ``None`` or, worse, a number computed from three patients; an exception
cannot be ignored by accident, the CLI turns it into exit status 2 and the page into ``st.error``. Where one
parameter of many lacks data, :func:`agreement_report` catches the error and keeps its sentence in that
parameter's ``message``, so the other parameters are still reported.

Missing values: pairs (or ICC rows) with a missing value are dropped, and ``n`` always counts the pairs
actually used.

References
----------
- Bland JM, Altman DG (1986). Statistical methods for assessing agreement between two methods of clinical
  measurement. Lancet i(8476):307-310.
- Bland JM, Altman DG (1999). Measuring agreement in method comparison studies. Stat Methods Med Res
  8:135-160.
- Carkeet A (2015). Exact parametric confidence intervals for Bland-Altman limits of agreement. Optom Vis
  Sci 92(3):e71-e80; Shieh G (2018). The appropriateness of Bland-Altman's approximate confidence intervals
  for limits of agreement. BMC Med Res Methodol 18:45.
- Fleiss JL (1986). The Design and Analysis of Clinical Experiments. Wiley (ICC bands 0.40 / 0.75);
  Cicchetti DV (1994). Psychol Assess 6(4):284-290.
- Haley SM, Fragala-Pinkham MA (2006). Interpreting change scores of tests and measures used in physical
  therapy. Phys Ther 86(5):735-743.
- Koo TK, Li MY (2016). A guideline of selecting and reporting intraclass correlation coefficients for
  reliability research. J Chiropr Med 15(2):155-163.
- Lin LI (1989). A concordance correlation coefficient to evaluate reproducibility. Biometrics 45:255-268
  (corrected 2000, 56:324-325).
- McGraw KO, Wong SP (1996). Forming inferences about some intraclass correlation coefficients. Psychol
  Methods 1(1):30-46.
- Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability. Psychol Bull
  86(2):420-428.
- Weir JP (2005). Quantifying test-retest reliability using the intraclass correlation coefficient and the
  SEM. J Strength Cond Res 19(1):231-240.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats

from core.errors import InputError

# --- guard rails ---------------------------------------------------------------------------------------
# Below these counts a result is refused, not computed. They are floors for a number to be shown at all;
# a trustworthy estimate needs more (see RECOMMENDED_TARGETS_ICC), and the confidence intervals say how much.
MIN_TARGETS_ICC = 5
"""Fewest targets (patients or trials) for an ICC. Shrout & Fleiss's worked example has 6; with fewer, the
F-based interval of ICC(A,1) routinely spans most of -1..1 and a point value misleads."""
MIN_RATERS_ICC = 2
"""An ICC compares at least two raters (here: MoveScope and the reference)."""
RECOMMENDED_TARGETS_ICC = 30
"""Koo & Li (2016): at least 30 heterogeneous targets for a reliability study. Fewer is allowed (down to
MIN_TARGETS_ICC) but :attr:`IccTable.caution` says so."""
MIN_PAIRS_BLAND_ALTMAN = 10
"""Fewest pairs for limits of agreement. A project choice: at n = 10 the exact 95% CI of the upper limit
already runs from 0.8 SD below it to 1.8 SD above it (see :func:`bland_altman`); with fewer pairs the limits
are mostly noise."""
MIN_PAIRS_CORRELATION = 10
"""Fewest pairs for Pearson r, Lin's CCC, MAE, RMSE and R^2 (the same floor as Bland-Altman, so the page's
table and plots describe the same trials)."""
MIN_PAIRS_MDC = 10
"""Fewest test-retest pairs to estimate an MDC from a clinic's own data."""

Z_95 = 1.96
"""Two-sided 95% normal quantile as the method papers write it (Bland & Altman's 1.96 SD, MDC95's 1.96)."""
ICC_EXCELLENT_ABOVE = 0.75
ICC_POOR_BELOW = 0.40

CiMethod = Literal["exact", "approximate", "approximate-1986"]
Scale = Literal["difference", "ratio"]


# --- ICC -----------------------------------------------------------------------------------------------


def icc_band(value: float) -> str:
    """The qualitative band the gait seed reported: ``excellent`` (> 0.75), ``good`` (0.40-0.75), ``poor``.

    These are Fleiss's (1986) cut-offs (he calls the middle band "fair to good"); Cicchetti (1994) splits it
    into fair (0.40-0.59) and good (0.60-0.74). Koo & Li (2016) propose stricter bands (0.5 / 0.75 / 0.9),
    which is what pingouin prints; MoveScope keeps the seed's bands so old and new reports compare.
    Both boundaries belong to ``good``; a negative ICC is ``poor``.
    """
    if not math.isfinite(value):
        raise InputError("an ICC that could not be computed has no band")
    if value > ICC_EXCELLENT_ABOVE:
        return "excellent"
    if value >= ICC_POOR_BELOW:
        return "good"
    return "poor"


@dataclass(frozen=True)
class IccResult:
    """One ICC form: its value, exact 95% CI, F test and the band a clinician reads."""

    form: str  # Shrout & Fleiss name: ICC(1,1), ICC(2,1), ICC(3,1), ICC(1,k), ICC(2,k), ICC(3,k)
    mcgraw_wong: str  # McGraw & Wong name: ICC(1), ICC(A,1), ICC(C,1), ICC(k), ICC(A,k), ICC(C,k)
    model: str  # "one-way random", "two-way random", "two-way mixed"
    definition: str  # "absolute agreement" or "consistency"
    unit: str  # "single measurement" or "mean of k measurements"
    value: float
    ci_low: float
    ci_high: float
    f: float
    df1: int
    df2: int
    p: float  # H0: ICC = 0
    band: str

    @property
    def label(self) -> str:
        """``ICC(2,1) = ICC(A,1): two-way random, absolute agreement, single measurement``."""
        return f"{self.form} = {self.mcgraw_wong}: {self.model}, {self.definition}, {self.unit}"

    def to_dict(self) -> dict:
        return {
            "form": self.form,
            "mcgraw_wong": self.mcgraw_wong,
            "model": self.model,
            "definition": self.definition,
            "unit": self.unit,
            "value": _finite(self.value),
            "ci95": [_finite(self.ci_low), _finite(self.ci_high)],
            "f": _finite(self.f),
            "df1": self.df1,
            "df2": self.df2,
            "p": _finite(self.p),
            "band": self.band,
        }


@dataclass(frozen=True)
class IccTable:
    """All six ICC forms of one ``(targets, raters)`` table, plus the ANOVA they come from."""

    forms: tuple[IccResult, ...]
    n_targets: int
    n_raters: int
    ms_rows: float  # between targets (MSR)
    ms_within: float  # within targets, one-way (MSW)
    ms_columns: float  # between raters (MSC)
    ms_error: float  # residual, two-way (MSE)
    caution: str | None = None

    def __getitem__(self, name: str) -> IccResult:
        """Look a form up by either name: ``table["ICC(2,1)"]`` is ``table["ICC(A,1)"]``.

        ``k`` may be written as the number of raters: ``ICC(3,4)`` for four judges.
        """
        wanted = name.replace(" ", "").upper().replace(f",{self.n_raters})", ",K)")
        for result in self.forms:
            if wanted in (result.form.upper(), result.mcgraw_wong.upper()):
                return result
        raise KeyError(name)

    @property
    def agreement(self) -> IccResult:
        """ICC(2,1) = ICC(A,1), the form for MoveScope against a reference (absolute agreement)."""
        return self["ICC(2,1)"]

    def to_dict(self) -> dict:
        return {
            "n_targets": self.n_targets,
            "n_raters": self.n_raters,
            "forms": [f.to_dict() for f in self.forms],
            "caution": self.caution,
        }


def icc_table(ratings: np.ndarray | Sequence[Sequence[float]], confidence: float = 0.95) -> IccTable:
    """All six Shrout & Fleiss ICC forms of ``ratings`` (rows: targets, columns: raters or systems).

    From the two-way ANOVA without replication (Shrout & Fleiss 1979, Table 1):
    ``MSR`` between targets, ``MSC`` between raters, ``MSE`` residual, ``MSW = (SSC + SSE) / (n (k - 1))``.

    - ICC(1,1) = (MSR - MSW) / (MSR + (k-1) MSW);  ICC(1,k) = (MSR - MSW) / MSR
    - ICC(2,1) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n);
      ICC(2,k) = (MSR - MSE) / (MSR + (MSC - MSE) / n)
    - ICC(3,1) = (MSR - MSE) / (MSR + (k-1) MSE);  ICC(3,k) = (MSR - MSE) / MSR

    CIs: exact from the F distribution for the one-way and consistency forms; for the absolute-agreement
    forms, Satterthwaite's approximate degrees of freedom (Shrout & Fleiss eq. 11-12; McGraw & Wong Table 7),
    the k-rater bounds by the Spearman-Brown step-up of the single-rater bounds. Rows with a missing value
    are dropped (listwise, as pingouin does).

    Raises :class:`InputError` with fewer than ``MIN_TARGETS_ICC`` complete rows or ``MIN_RATERS_ICC``
    columns, or when the table has no variation between targets to correlate.
    """
    table = np.asarray(ratings, dtype=float)
    if table.ndim != 2:
        raise InputError(f"ICC needs a table of targets x raters, got an array of shape {table.shape}")
    table = table[np.all(np.isfinite(table), axis=1)]
    n, k = table.shape
    if k < MIN_RATERS_ICC:
        raise InputError(f"ICC needs at least {MIN_RATERS_ICC} raters or systems, got {k}")
    if n < MIN_TARGETS_ICC:
        raise InputError(
            f"ICC needs at least {MIN_TARGETS_ICC} targets measured by every rater, got {n}: "
            "record more trials before judging agreement"
        )

    grand = table.mean()
    ss_rows = k * np.sum((table.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((table.mean(axis=0) - grand) ** 2)
    ss_total = np.sum((table - grand) ** 2)
    ss_error = ss_total - ss_rows - ss_cols
    df_rows, df_cols, df_error, df_within = n - 1, k - 1, (n - 1) * (k - 1), n * (k - 1)
    msr, msc = ss_rows / df_rows, ss_cols / df_cols
    mse = max(ss_error, 0.0) / df_error  # rounding can make a perfect table's SSE -1e-13
    msw = (ss_cols + max(ss_error, 0.0)) / df_within
    if msr <= 0 or not math.isfinite(msr):
        raise InputError(
            "every target has the same mean value: there is no between-target variation, so no ICC"
        )

    alpha = 1.0 - confidence
    icc1 = (msr - msw) / (msr + (k - 1) * msw)
    icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    icc3 = (msr - mse) / (msr + (k - 1) * mse)

    def f_bounds(f_obs: float, df1: int, df2: int) -> tuple[float, float]:
        # Shrout & Fleiss eq. 6-7: F_L = F / F(1-a/2; df1, df2), F_U = F * F(1-a/2; df2, df1).
        return f_obs / stats.f.ppf(1 - alpha / 2, df1, df2), f_obs * stats.f.ppf(1 - alpha / 2, df2, df1)

    with np.errstate(divide="ignore", invalid="ignore"):
        f_one = msr / msw if msw > 0 else math.inf
        f_two = msr / mse if mse > 0 else math.inf
        p_one = float(stats.f.sf(f_one, df_rows, df_within))
        p_two = float(stats.f.sf(f_two, df_rows, df_error))
        f1l, f1u = f_bounds(f_one, df_rows, df_within)
        f3l, f3u = f_bounds(f_two, df_rows, df_error)
        # (F - 1) / (F + k - 1) written as 1 - k / (F + k - 1), which stays 1 for the infinite F of a
        # table without residual error.
        ci1 = (1 - k / (f1l + k - 1), 1 - k / (f1u + k - 1))
        ci1k = (1 - 1 / f1l, 1 - 1 / f1u)
        ci3 = (1 - k / (f3l + k - 1), 1 - k / (f3u + k - 1))
        ci3k = (1 - 1 / f3l, 1 - 1 / f3u)
        ci2 = _icc_a1_ci(icc2, msr, msc, mse, n, k, alpha)

    def step_up(value: float) -> float:  # Spearman-Brown: reliability of the mean of k raters
        return k * value / (1 + (k - 1) * value)

    ci2k = (step_up(ci2[0]), step_up(ci2[1]))
    one_way, two_random, two_mixed = "one-way random", "two-way random", "two-way mixed"
    absolute, consistency = "absolute agreement", "consistency"
    single, average = "single measurement", "mean of k measurements"
    icc1k, icc2k, icc3k = (msr - msw) / msr, step_up(icc2), (msr - mse) / msr
    one, two = (f_one, df_within, p_one), (f_two, df_error, p_two)
    rows = (
        ("ICC(1,1)", "ICC(1)", one_way, absolute, single, icc1, ci1, *one),
        ("ICC(2,1)", "ICC(A,1)", two_random, absolute, single, icc2, ci2, *two),
        ("ICC(3,1)", "ICC(C,1)", two_mixed, consistency, single, icc3, ci3, *two),
        ("ICC(1,k)", "ICC(k)", one_way, absolute, average, icc1k, ci1k, *one),
        ("ICC(2,k)", "ICC(A,k)", two_random, absolute, average, icc2k, ci2k, *two),
        ("ICC(3,k)", "ICC(C,k)", two_mixed, consistency, average, icc3k, ci3k, *two),
    )
    forms = tuple(
        IccResult(
            form=form,
            mcgraw_wong=mw,
            model=model,
            definition=definition,
            unit=unit,
            value=float(value),
            ci_low=float(ci[0]),
            ci_high=float(ci[1]),
            f=float(f_obs),
            df1=df_rows,
            df2=int(df2),
            p=p,
            band=icc_band(float(value)),
        )
        for form, mw, model, definition, unit, value, ci, f_obs, df2, p in rows
    )
    caution = None
    if n < RECOMMENDED_TARGETS_ICC:
        caution = (
            f"only {n} targets (Koo & Li 2016 recommend at least {RECOMMENDED_TARGETS_ICC}): "
            "read the confidence intervals, not just the values"
        )
    return IccTable(forms, n, k, float(msr), float(msw), float(msc), float(mse), caution)


def _icc_a1_ci(
    icc: float, msr: float, msc: float, mse: float, n: int, k: int, alpha: float
) -> tuple[float, float]:
    """CI of ICC(A,1) with Satterthwaite's degrees of freedom (Shrout & Fleiss 1979, eq. 11-12)."""
    if mse == 0:  # perfect agreement on every target: nothing to be uncertain about in this sample
        return (1.0, 1.0) if msc == 0 else (icc, icc)
    a = k * icc / (n * (1 - icc))
    b = 1 + k * icc * (n - 1) / (n * (1 - icc))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    f_star_u = stats.f.ppf(1 - alpha / 2, n - 1, v)
    f_star_l = stats.f.ppf(1 - alpha / 2, v, n - 1)
    low = n * (msr - f_star_u * mse) / (f_star_u * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (f_star_l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_star_l * msr)
    return float(low), float(high)


# --- Bland-Altman --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman agreement of method ``a`` against method ``b`` (difference = a - b).

    On the ``ratio`` scale the analysis runs on natural logs and is reported back-transformed: ``bias`` is
    the geometric-mean ratio a/b, the limits are ratios, ``sd`` is the SD of ln(a/b) and ``differences``
    holds the ratios a/b (Bland & Altman 1999, section 3).

    Proportional bias: ``slope`` and ``intercept`` of the least-squares line of the differences on the pair
    means (on the ratio scale: ln(a/b) on the mean of ln a and ln b), ``slope_p`` tests slope = 0, and
    ``proportional_bias`` is ``slope_p < 1 - confidence``.
    """

    scale: str
    n: int
    bias: float
    bias_ci_low: float
    bias_ci_high: float
    sd: float
    sd_multiplier: float
    loa_low: float
    loa_high: float
    loa_low_ci_low: float
    loa_low_ci_high: float
    loa_high_ci_low: float
    loa_high_ci_high: float
    ci_method: str
    confidence: float
    slope: float
    intercept: float
    slope_ci_low: float
    slope_ci_high: float
    slope_p: float
    proportional_bias: bool
    n_outside_loa: int
    means: np.ndarray = field(repr=False, compare=False)  # x of the plot: (a + b) / 2
    differences: np.ndarray = field(repr=False, compare=False)  # y: a - b, or a / b on the ratio scale

    def to_dict(self, points: bool = False) -> dict:
        document = {
            "scale": self.scale,
            "n": self.n,
            "bias": _finite(self.bias),
            "bias_ci": [_finite(self.bias_ci_low), _finite(self.bias_ci_high)],
            "sd": _finite(self.sd),
            "sd_multiplier": self.sd_multiplier,
            "loa_low": _finite(self.loa_low),
            "loa_high": _finite(self.loa_high),
            "loa_low_ci": [_finite(self.loa_low_ci_low), _finite(self.loa_low_ci_high)],
            "loa_high_ci": [_finite(self.loa_high_ci_low), _finite(self.loa_high_ci_high)],
            "ci_method": self.ci_method,
            "confidence": self.confidence,
            "proportional_bias": {
                "present": self.proportional_bias,
                "slope": _finite(self.slope),
                "slope_ci": [_finite(self.slope_ci_low), _finite(self.slope_ci_high)],
                "intercept": _finite(self.intercept),
                "p": _finite(self.slope_p),
            },
            "n_outside_loa": self.n_outside_loa,
        }
        if points:
            document["means"] = [_finite(v) for v in self.means]
            document["differences"] = [_finite(v) for v in self.differences]
        return document


def bland_altman(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    scale: Scale = "difference",
    sd_multiplier: float = Z_95,
    confidence: float = 0.95,
    ci_method: CiMethod = "exact",
) -> BlandAltman:
    """Bland-Altman analysis of ``a - b`` (for MoveScope against a reference: ``a`` = MoveScope).

    Limits of agreement are ``bias -/+ sd_multiplier * SD`` (1.96 by default; the 1986 paper used 2).
    Their confidence intervals, by ``ci_method``:

    - ``"exact"`` (default): each limit is a normal percentile ``mu +/- z sigma``, whose exact interval comes
      from the non-central t distribution: ``d_bar + s * t'_{n-1, z sqrt(n)}(q) / sqrt(n)`` (Owen's
      one-sided tolerance factors; Carkeet 2015 and Shieh 2018 show the approximations below are too narrow
      for small n).
    - ``"approximate"``: Bland & Altman (1999), ``SE = s * sqrt(1/n + z^2 / (2 (n-1)))`` with t(n-1).
    - ``"approximate-1986"``: Bland & Altman (1986), ``SE = sqrt(3 s^2 / n)`` for 2 SD limits, here
      ``s * sqrt(1/n + z^2 / (2n))`` for any multiplier; kept to reproduce the paper.

    The bias CI is ``d_bar +/- t(n-1) s / sqrt(n)``. Pairs with a missing value are dropped. Raises
    :class:`InputError` with fewer than ``MIN_PAIRS_BLAND_ALTMAN`` pairs, a length mismatch, or (ratio
    scale) a value that is not positive.
    """
    x, y = _pairs(a, b, MIN_PAIRS_BLAND_ALTMAN, "Bland-Altman limits of agreement")
    if scale not in ("difference", "ratio"):
        raise InputError(f"unknown Bland-Altman scale {scale!r}: use 'difference' or 'ratio'")
    if ci_method not in ("exact", "approximate", "approximate-1986"):
        raise InputError(f"unknown CI method {ci_method!r}: use 'exact', 'approximate' or 'approximate-1986'")
    if scale == "ratio":
        if np.any(x <= 0) or np.any(y <= 0):
            raise InputError("the ratio (log) scale needs values above zero in both methods")
        d = np.log(x) - np.log(y)
        regress_on = (np.log(x) + np.log(y)) / 2
    else:
        d = x - y
        regress_on = (x + y) / 2
    n = len(d)
    mean_d = float(d.mean())
    sd = float(d.std(ddof=1))
    t = float(stats.t.ppf(1 - (1 - confidence) / 2, n - 1))
    half_bias = t * sd / math.sqrt(n)
    low, high = mean_d - sd_multiplier * sd, mean_d + sd_multiplier * sd

    if ci_method == "exact":
        q = (1 - confidence) / 2
        nc = sd_multiplier * math.sqrt(n)
        k_low, k_high = (float(stats.nct.ppf(p, n - 1, nc)) / math.sqrt(n) for p in (q, 1 - q))
        high_ci = (mean_d + k_low * sd, mean_d + k_high * sd)
        low_ci = (mean_d - k_high * sd, mean_d - k_low * sd)
    else:
        second = 2 * (n - 1) if ci_method == "approximate" else 2 * n
        half = t * sd * math.sqrt(1 / n + sd_multiplier**2 / second)
        low_ci, high_ci = (low - half, low + half), (high - half, high + half)

    fit = stats.linregress(regress_on, d)
    slope_half = t * fit.stderr if n > 2 else math.nan
    n_outside = int(np.sum((d < low) | (d > high)))

    def out(value: float) -> float:
        return math.exp(value) if scale == "ratio" else value

    return BlandAltman(
        scale=scale,
        n=n,
        bias=out(mean_d),
        bias_ci_low=out(mean_d - half_bias),
        bias_ci_high=out(mean_d + half_bias),
        sd=sd,
        sd_multiplier=float(sd_multiplier),
        loa_low=out(low),
        loa_high=out(high),
        loa_low_ci_low=out(low_ci[0]),
        loa_low_ci_high=out(low_ci[1]),
        loa_high_ci_low=out(high_ci[0]),
        loa_high_ci_high=out(high_ci[1]),
        ci_method=ci_method,
        confidence=confidence,
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        slope_ci_low=float(fit.slope - slope_half),
        slope_ci_high=float(fit.slope + slope_half),
        slope_p=float(fit.pvalue),
        proportional_bias=bool(fit.pvalue < 1 - confidence),
        n_outside_loa=n_outside,
        means=(x + y) / 2,
        differences=np.exp(d) if scale == "ratio" else d,
    )


# --- concordance and error summaries -------------------------------------------------------------------


@dataclass(frozen=True)
class Concordance:
    """Lin's concordance correlation coefficient: ``ccc = precision (r) * accuracy (C_b)``."""

    n: int
    ccc: float
    ci_low: float
    ci_high: float
    precision: float  # Pearson r: how tightly the points follow a line
    accuracy: float  # bias correction factor C_b: how close that line is to identity (1 = on it)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "ccc": _finite(self.ccc),
            "ci95": [_finite(self.ci_low), _finite(self.ci_high)],
            "precision": _finite(self.precision),
            "accuracy": _finite(self.accuracy),
        }


def lin_ccc(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> Concordance:
    """Lin's (1989) concordance correlation coefficient with its CI on Fisher's z scale.

    ``ccc = 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2)`` with 1/n moments, as Lin defines it. The CI uses
    Lin's asymptotic variance (with the 2000 correction) transformed by z = atanh(ccc), as in R's epiR:
    ``var(ccc) = [(1-r^2) ccc^2 (1-ccc^2) / r^2 + 2 ccc^3 (1-ccc) u^2 / r - ccc^4 u^4 / (2 r^2)] / (n-2)``,
    ``u = (mean_x - mean_y) / sqrt(s_x s_y)``. Raises :class:`InputError` below ``MIN_PAIRS_CORRELATION``
    pairs or when either series is constant.
    """
    a, b = _pairs(x, y, MIN_PAIRS_CORRELATION, "a concordance correlation coefficient")
    n = len(a)
    mx, my = a.mean(), b.mean()
    vx, vy = a.var(), b.var()  # 1/n, as in Lin (1989)
    if vx == 0 or vy == 0:
        raise InputError("one of the two series is constant: a correlation is undefined")
    sxy = np.mean((a - mx) * (b - my))
    ccc = float(2 * sxy / (vx + vy + (mx - my) ** 2))
    r = float(sxy / math.sqrt(vx * vy))
    accuracy = ccc / r if r != 0 else math.nan
    if abs(ccc) >= 1 or r == 0:
        return Concordance(n, ccc, ccc, ccc, r, accuracy)
    u = (mx - my) / math.sqrt(math.sqrt(vx) * math.sqrt(vy))
    var_ccc = (
        (1 - r**2) * ccc**2 * (1 - ccc**2) / r**2
        + 2 * ccc**3 * (1 - ccc) * u**2 / r
        - ccc**4 * u**4 / (2 * r**2)
    ) / (n - 2)
    se_z = math.sqrt(max(var_ccc, 0.0)) / (1 - ccc**2)
    z = math.atanh(ccc)
    q = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    return Concordance(n, ccc, math.tanh(z - q * se_z), math.tanh(z + q * se_z), r, accuracy)


@dataclass(frozen=True)
class AgreementSummary:
    """How close MoveScope's values are to the reference's, in the numbers method papers report.

    ``r_squared`` is Pearson r^2 (shared variance around the best-fit line); ``r2_identity`` is
    ``1 - sum((measured - reference)^2) / sum((reference - mean)^2)``, the coefficient of determination about
    the identity line (scikit-learn's ``r2_score(reference, measured)``), which bias lowers and can be < 0.
    ``bias``, ``mae`` and ``rmse`` are in the parameter's unit; ``bias`` = mean(measured - reference).
    """

    n: int
    pearson_r: float
    pearson_ci_low: float
    pearson_ci_high: float
    pearson_p: float
    r_squared: float
    r2_identity: float
    mae: float
    rmse: float
    bias: float
    ccc: Concordance

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "pearson_r": _finite(self.pearson_r),
            "pearson_ci95": [_finite(self.pearson_ci_low), _finite(self.pearson_ci_high)],
            "pearson_p": _finite(self.pearson_p),
            "r_squared": _finite(self.r_squared),
            "r2_identity": _finite(self.r2_identity),
            "mae": _finite(self.mae),
            "rmse": _finite(self.rmse),
            "bias": _finite(self.bias),
            "ccc": self.ccc.to_dict(),
        }


def agreement_summary(
    reference: Sequence[float] | np.ndarray, measured: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> AgreementSummary:
    """Pearson r (Fisher-z CI), R^2, MAE, RMSE, bias and Lin's CCC of ``measured`` against ``reference``.

    Raises :class:`InputError` below ``MIN_PAIRS_CORRELATION`` complete pairs or when either series is
    constant.
    """
    ref, meas = _pairs(reference, measured, MIN_PAIRS_CORRELATION, "an agreement summary")
    n = len(ref)
    if np.ptp(ref) == 0 or np.ptp(meas) == 0:
        raise InputError("one of the two series is constant: a correlation is undefined")
    r, p = stats.pearsonr(ref, meas)
    r = float(np.clip(r, -1.0, 1.0))
    q = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    if abs(r) < 1:
        z, se = math.atanh(r), 1 / math.sqrt(n - 3)
        r_low, r_high = math.tanh(z - q * se), math.tanh(z + q * se)
    else:
        r_low = r_high = r
    error = meas - ref
    ss_total = float(np.sum((ref - ref.mean()) ** 2))
    return AgreementSummary(
        n=n,
        pearson_r=r,
        pearson_ci_low=r_low,
        pearson_ci_high=r_high,
        pearson_p=float(p),
        r_squared=r**2,
        r2_identity=1 - float(np.sum(error**2)) / ss_total,
        mae=float(np.mean(np.abs(error))),
        rmse=float(math.sqrt(np.mean(error**2))),
        bias=float(error.mean()),
        ccc=lin_ccc(ref, meas, confidence),
    )


# --- one parameter, end to end (what the CLI and the agreement page show) -----------------------------


@dataclass(frozen=True)
class ParameterAgreement:
    """Everything the agreement page shows for one gait parameter, or the sentence saying why not."""

    parameter: str
    measured_column: str
    reference_column: str
    n: int  # complete pairs
    icc: IccTable | None = None
    bland_altman: BlandAltman | None = None
    summary: AgreementSummary | None = None
    message: str | None = None  # set when a guard rail refused this parameter

    def to_dict(self, points: bool = False) -> dict:
        return {
            "parameter": self.parameter,
            "measured_column": self.measured_column,
            "reference_column": self.reference_column,
            "n": self.n,
            "message": self.message,
            "icc": self.icc.to_dict() if self.icc else None,
            "bland_altman": self.bland_altman.to_dict(points) if self.bland_altman else None,
            "summary": self.summary.to_dict() if self.summary else None,
        }


def parameter_agreement(
    parameter: str,
    measured: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    *,
    measured_column: str | None = None,
    reference_column: str | None = None,
    scale: Scale = "difference",
    ci_method: CiMethod = "exact",
) -> ParameterAgreement:
    """ICC table, Bland-Altman and summary for one parameter; a guard rail's sentence instead when refused."""
    m, r = _as_float(measured), _as_float(reference)
    if len(m) != len(r):
        raise InputError(f"{parameter}: {len(m)} measured values but {len(r)} reference values")
    complete = np.isfinite(m) & np.isfinite(r)
    columns = {
        "measured_column": measured_column or parameter,
        "reference_column": reference_column or f"{parameter} (reference)",
    }
    try:
        return ParameterAgreement(
            parameter=parameter,
            n=int(complete.sum()),
            # Bland-Altman first: its floor is the highest, so a refusal names the number that matters.
            bland_altman=bland_altman(m, r, scale=scale, ci_method=ci_method),
            summary=agreement_summary(r, m),
            icc=icc_table(np.column_stack([m, r])),
            **columns,
        )
    except InputError as refused:
        return ParameterAgreement(parameter=parameter, n=int(complete.sum()), message=str(refused), **columns)


def paired_columns(
    columns: Iterable[str],
    *,
    reference_suffix: str = "_ref",
    pairs: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """``(measured column, reference column)`` pairs: the explicit ``pairs``, else every column ``X`` that
    has an ``X<reference_suffix>`` partner (``Velocity`` and ``Velocity_ref``), in file order.

    Raises :class:`InputError` naming any missing column, or when no pair is found.
    """
    names = list(columns)
    if pairs:
        missing = [c for pair in pairs.items() for c in pair if c not in names]
        if missing:
            raise InputError(
                f"column(s) {', '.join(repr(c) for c in dict.fromkeys(missing))} not in the file "
                f"(columns: {', '.join(names)})"
            )
        return list(pairs.items())
    if not reference_suffix:
        raise InputError("give a reference-column suffix or explicit pairs")
    found = [(c, c + reference_suffix) for c in names if c + reference_suffix in names]
    if not found:
        raise InputError(
            f"no paired columns: expected columns like 'Velocity' and 'Velocity{reference_suffix}' "
            f"(columns: {', '.join(names)})"
        )
    return found


def agreement_report(
    frame,
    *,
    pairs: Mapping[str, str] | None = None,
    reference_suffix: str = "_ref",
    scale: Scale = "difference",
    ci_method: CiMethod = "exact",
) -> list[ParameterAgreement]:
    """Agreement of every paired parameter in a table (pandas DataFrame) of MoveScope and reference values.

    Columns are paired by :func:`paired_columns`. Empty cells (and NA spellings pandas knows) are missing
    values; any other cell that is not a number makes the whole table refused, with every such cell listed
    (:class:`InputError`). A parameter with too few pairs gets its guard rail's sentence in ``message``.
    """
    import pandas as pd

    columns = paired_columns([str(c) for c in frame.columns], reference_suffix=reference_suffix, pairs=pairs)
    numeric = {}
    problems = []
    for column in dict.fromkeys(c for pair in columns for c in pair):
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce")
        for position in np.flatnonzero((values.isna() & raw.notna()).to_numpy()):
            text = raw.iloc[position]
            if str(text).strip():  # line numbers as in the file: the header is line 1
                problems.append(f"line {position + 2}: {column} = {text!r} is not a number")
        numeric[column] = values.to_numpy(dtype=float)
    if problems:
        shown = "; ".join(problems[:12]) + (f"; and {len(problems) - 12} more" if len(problems) > 12 else "")
        raise InputError(f"the paired table has values that are not numbers: {shown}")
    return [
        parameter_agreement(
            measured_column,
            numeric[measured_column],
            numeric[reference_column],
            measured_column=measured_column,
            reference_column=reference_column,
            scale=scale,
            ci_method=ci_method,
        )
        for measured_column, reference_column in columns
    ]


# --- SEM, MDC and the visit-to-visit flag --------------------------------------------------------------


def sem(icc: float, sd: float) -> float:
    """Standard error of measurement, ``SEM = SD * sqrt(1 - ICC)`` (Weir 2005), in the unit of ``sd``.

    ``sd`` is the between-subject SD of the measurements (pooled over sessions) and ``icc`` a test-retest
    ICC of the same data; SEM is the typical size of one measurement's error. Raises :class:`InputError` for
    an ICC outside 0..1 (a negative ICC means the error swamps the signal: there is no usable SEM).
    """
    if not (0.0 <= icc <= 1.0) or not math.isfinite(icc):
        raise InputError(f"an SEM needs an ICC between 0 and 1, got {icc}")
    if not (sd >= 0) or not math.isfinite(sd):
        raise InputError(f"an SEM needs a non-negative SD, got {sd}")
    return sd * math.sqrt(1.0 - icc)


def mdc95(sem_value: float) -> float:
    """Minimal detectable change at 95% confidence: ``MDC95 = SEM * 1.96 * sqrt(2)``.

    Why sqrt(2): a change is the difference of two measurements, the earlier and the later, and each carries
    its own independent error of SD = SEM. The variance of a difference of two independent errors is
    SEM^2 + SEM^2 = 2 SEM^2, so the SD of a change produced by error alone is SEM * sqrt(2); 95% of such
    error-only changes lie within 1.96 times that. A change larger than MDC95 is therefore unlikely (< 5%) to
    be measurement noise (Haley & Fragala-Pinkham 2006). It is the same number as Bland & Altman's
    repeatability coefficient 1.96 * sqrt(2) * s_w.
    """
    if not (sem_value >= 0) or not math.isfinite(sem_value):
        raise InputError(f"an MDC needs a non-negative SEM, got {sem_value}")
    return sem_value * Z_95 * math.sqrt(2.0)


@dataclass(frozen=True)
class MdcEstimate:
    """An MDC95 for one parameter with the numbers behind it and where they came from."""

    parameter: str
    unit: str
    sem: float
    mdc95: float
    source: str  # how it was obtained, with the citation of a published value
    n: int | None = None  # test-retest pairs it was computed from (None for a published value)
    icc: float | None = None  # test-retest ICC(A,1)
    sd: float | None = None  # between-subject SD

    def to_dict(self) -> dict:
        return {
            "parameter": self.parameter,
            "unit": self.unit,
            "sem": _finite(self.sem),
            "mdc95": _finite(self.mdc95),
            "source": self.source,
            "n": self.n,
            "icc": _finite(self.icc) if self.icc is not None else None,
            "sd": _finite(self.sd) if self.sd is not None else None,
        }


def mdc_from_test_retest(
    test: Sequence[float] | np.ndarray,
    retest: Sequence[float] | np.ndarray,
    *,
    parameter: str = "",
    unit: str = "",
) -> MdcEstimate:
    """MDC95 of a parameter from a clinic's own test-retest data (same patients, two sessions).

    ``SEM = sqrt(MSE)`` of the two-way ANOVA (Weir 2005 prefers it to ``SD * sqrt(1 - ICC)`` because it does
    not depend on which ICC and which SD are chosen); with two sessions it equals ``SD(differences) /
    sqrt(2)``, so ``MDC95 = 1.96 * SD(differences)``. The ICC(A,1) and the pooled SD are reported alongside.
    Raises :class:`InputError` below ``MIN_PAIRS_MDC`` complete pairs.
    """
    first, second = _pairs(test, retest, MIN_PAIRS_MDC, "a minimal detectable change")
    table = icc_table(np.column_stack([first, second]))
    sem_value = math.sqrt(table.ms_error)
    return MdcEstimate(
        parameter=parameter,
        unit=unit,
        sem=sem_value,
        mdc95=mdc95(sem_value),
        source="test-retest data: SEM = sqrt(MSE) of the two-way ANOVA (Weir 2005), MDC95 = SEM*1.96*sqrt(2)",
        n=len(first),
        icc=table.agreement.value,
        sd=float(np.concatenate([first, second]).std(ddof=1)),
    )


@dataclass(frozen=True)
class PublishedMdc:
    """A published MDC95 for a GAITRite parameter, with the population and the paper it comes from."""

    parameter: str  # GAITRite name
    mdc95: float
    unit: str
    population: str
    citation: str


PUBLISHED_MDC95: tuple[PublishedMdc, ...] = ()
"""Published GAITRite test-retest MDC95 values MoveScope trusts, one entry per (parameter, population).

Deliberately empty in this version. The values we could find while writing this module were either for a
different instrument (GaitMat II, body-worn sensors), between different systems rather than test-retest
(which overstates visit-to-visit noise), or could not be checked against the paper's own table; a wrong MDC
here would silently mislabel every patient's history. Add an entry only with the paper's table in hand,
citing author, year, journal, table, population, session interval and the SEM formula used. Until then
compute the MDC from the clinic's own test-retest data (:func:`mdc_from_test_retest`) or from a published
ICC and SD (``mdc95(sem(icc, sd))``), and record the source with it.
"""


def published_mdc95(parameter: str, population: str | None = None) -> tuple[PublishedMdc, ...]:
    """The published MDC95 entries for a GAITRite ``parameter`` (optionally one ``population``)."""
    return tuple(
        entry
        for entry in PUBLISHED_MDC95
        if entry.parameter == parameter and (population is None or entry.population == population)
    )


def change_exceeds_mdc(previous: float, current: float, mdc: float) -> bool:
    """Whether the change from ``previous`` to ``current`` is larger than the MDC (in either direction).

    A change exactly equal to the MDC is not flagged (the MDC is the largest change noise explains at 95%).
    A missing value (NaN or None) never raises a flag: nothing can be said about a change not measured.
    """
    if mdc is None or not math.isfinite(mdc) or mdc < 0:
        raise InputError(f"the minimal detectable change must be a non-negative number, got {mdc}")
    if previous is None or current is None or not (math.isfinite(previous) and math.isfinite(current)):
        return False
    return abs(current - previous) > mdc


@dataclass(frozen=True)
class VisitChange:
    """The change of one parameter between two visits and whether it exceeds the MDC."""

    from_visit: str
    to_visit: str
    previous: float
    current: float
    change: float  # current - previous, in the parameter's unit
    mdc: float
    exceeds: bool

    @property
    def direction(self) -> str:
        """``"increase"``, ``"decrease"`` or ``"none"``: a change only counts beyond the MDC."""
        if not self.exceeds:
            return "none"
        return "increase" if self.change > 0 else "decrease"

    def to_dict(self) -> dict:
        return {
            "from_visit": self.from_visit,
            "to_visit": self.to_visit,
            "previous": _finite(self.previous),
            "current": _finite(self.current),
            "change": _finite(self.change),
            "mdc": self.mdc,
            "exceeds": self.exceeds,
            "direction": self.direction,
        }


def flag_changes(
    history: Iterable[tuple[str, float | None]],
    mdc: float,
    *,
    against: Literal["previous", "baseline"] = "previous",
) -> list[VisitChange]:
    """Flag, visit by visit, a change in one parameter larger than its MDC.

    ``history`` is ``(visit label, value)`` in visit order (the caller sorts by date). Visits without a
    value are skipped; each other visit is compared with the last earlier visit that has one
    (``against="previous"``) or with the first visit that has one (``"baseline"``).
    """
    if against not in ("previous", "baseline"):
        raise InputError(f"compare a visit with 'previous' or 'baseline', not {against!r}")
    measured = [
        (str(visit), float(value))
        for visit, value in history
        if value is not None and math.isfinite(float(value))
    ]
    changes = []
    for i in range(1, len(measured)):
        (from_visit, previous) = measured[0] if against == "baseline" else measured[i - 1]
        to_visit, current = measured[i]
        changes.append(
            VisitChange(
                from_visit=from_visit,
                to_visit=to_visit,
                previous=previous,
                current=current,
                change=current - previous,
                mdc=float(mdc),
                exceeds=change_exceeds_mdc(previous, current, mdc),
            )
        )
    return changes


# --- helpers -------------------------------------------------------------------------------------------


def _as_float(values: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as error:
        raise InputError(f"values must be numbers: {error}") from None
    return array


def _pairs(a, b, minimum: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The complete pairs of ``a`` and ``b``; InputError when the lengths differ or too few remain."""
    x, y = _as_float(a), _as_float(b)
    if len(x) != len(y):
        raise InputError(f"the two series must pair up value by value, got {len(x)} and {len(y)} values")
    complete = np.isfinite(x) & np.isfinite(y)
    n = int(complete.sum())
    if n < minimum:
        raise InputError(f"{what} needs at least {minimum} complete pairs, got {n}")
    return x[complete], y[complete]


def _finite(value: float) -> float | None:
    """A JSON-safe number: ``None`` for NaN or infinity (the CLI writes strict JSON)."""
    value = float(value)
    return value if math.isfinite(value) else None
