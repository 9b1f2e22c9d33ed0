"""Soft thresholds shared by the fall detectors: how far past its threshold is a measure, on a 0-1 scale?

A rule-based detector decides with hard thresholds; for timelines and for ranking events it also reports a
score that moves smoothly through 0.5 at the threshold (a logistic curve whose width is the measure's own
uncertainty). Several criteria are combined with a fuzzy AND (the weakest criterion decides), so a score
above 0.5 means every criterion is met. These scores order events and draw plots; they are not calibrated
probabilities.
"""

from __future__ import annotations

import numpy as np

LOGIT_CLIP = 50.0  # keeps exp() finite for measures far from their threshold


def soft_threshold(value, threshold: float, scale: float, above: bool = True):
    """0-1 score of ``value`` (scalar or array) against ``threshold``; 0.5 at it, ~0.88 two ``scale``s past.

    ``above=False`` scores values *below* the threshold high. ``None`` and NaN score 0.
    """
    if value is None:
        return 0.0
    array = np.asarray(value, dtype=float)
    z = (array - threshold) / scale if above else (threshold - array) / scale
    score = 1.0 / (1.0 + np.exp(-np.clip(z, -LOGIT_CLIP, LOGIT_CLIP)))
    score = np.where(np.isfinite(array), score, 0.0)
    return float(score) if score.ndim == 0 else score
