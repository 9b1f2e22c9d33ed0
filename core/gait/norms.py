"""Is this patient's gait within what healthy adults of the same age and sex show? Reference values.

Sources (means of healthy adults walking at their comfortable speed; neither gives the spread in a form
MoveScope can use, so the page shows the reference and the patient's difference from it, not a band):

- Walking speed by sex and decade: Bohannon RW, Williams Andrews A. Normal walking speed: a descriptive
  meta-analysis. Physiotherapy 2011;97(3):182-189 (41 studies, 23,111 people; its abstract gives the
  range's ends, 143.4 cm/s for men aged 40-49 and 94.3 cm/s for women aged 80-99).
- Cadence, stride length and the phases of the cycle: Perry J, Burnfield JM. Gait Analysis: Normal and
  Pathological Function, 2nd ed. SLACK, 2010, chapter 1 (adults 20-80 years: men 111 steps/min and
  1.46 m strides, women 117 steps/min and 1.28 m; stance 60 %, swing 40 %, double support 10 % at each
  end of stance).
"""

from __future__ import annotations

from dataclasses import dataclass

BOHANNON_2011 = "Bohannon & Williams Andrews, Physiotherapy 2011;97:182-189"
PERRY_2010 = "Perry & Burnfield, Gait Analysis, 2nd ed., 2010"

# (age from, age to) -> (men, women) comfortable walking speed, cm/s
VELOCITY_BY_DECADE: dict[tuple[int, int], tuple[float, float]] = {
    (20, 29): (135.8, 134.1),
    (30, 39): (143.3, 133.7),
    (40, 49): (143.4, 139.0),
    (50, 59): (143.3, 140.2),
    (60, 69): (133.9, 129.6),
    (70, 79): (126.2, 113.2),
    (80, 99): (96.8, 94.3),
}
CADENCE = {"male": 111.0, "female": 117.0}  # steps/min
STRIDE_LENGTH_CM = {"male": 146.0, "female": 128.0}
STANCE_PCT, SWING_PCT, DOUBLE_SUPPORT_PCT = 60.0, 40.0, 20.0


@dataclass(frozen=True)
class Reference:
    parameter: str
    value: float
    unit: str
    source: str
    group: str  # who the reference describes, in words


def _mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def references(age: int | None, sex: str | None) -> dict[str, Reference]:
    """Reference values for a patient's age and sex (either may be unknown: then the adult average)."""
    sexes = ("male", "female") if sex not in ("male", "female") else (sex,)
    group_sex = {"male": "men", "female": "women"}.get(sex or "", "adults")
    out: dict[str, Reference] = {}
    decade = next(((lo, hi) for lo, hi in VELOCITY_BY_DECADE if age is not None and lo <= age <= hi), None)
    if decade is not None:
        speeds = VELOCITY_BY_DECADE[decade]
        value = sum(speeds[0 if s == "male" else 1] for s in sexes) / len(sexes)
        out["Velocity"] = Reference(
            "Velocity", value, "cm/s", BOHANNON_2011, f"{group_sex} {decade[0]}-{decade[1]}"
        )
    cadence = _mean({s: CADENCE[s] for s in sexes})
    stride = _mean({s: STRIDE_LENGTH_CM[s] for s in sexes})
    out["Cadence"] = Reference("Cadence", cadence, "steps/min", PERRY_2010, f"{group_sex} 20-80")
    for side in ("L", "R"):
        out[f"Stride Length(cm)/{side}"] = Reference(
            f"Stride Length(cm)/{side}", stride, "cm", PERRY_2010, f"{group_sex} 20-80"
        )
        out[f"Step Length(cm)/{side}"] = Reference(
            f"Step Length(cm)/{side}", stride / 2, "cm", PERRY_2010, f"{group_sex} 20-80 (half a stride)"
        )
        out[f"Cycle Time(sec)/{side}"] = Reference(
            f"Cycle Time(sec)/{side}", 120.0 / cadence, "s", PERRY_2010, f"{group_sex} 20-80 (from cadence)"
        )
        for name, value in (
            ("Stance % of Cycle", STANCE_PCT),
            ("Swing % of Cycle", SWING_PCT),
            ("Double Supp % Cycle", DOUBLE_SUPPORT_PCT),
        ):
            out[f"{name}/{side}"] = Reference(f"{name}/{side}", value, "%", PERRY_2010, "adults")
    return out
