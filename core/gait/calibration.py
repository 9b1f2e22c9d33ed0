"""From pixels to centimetres: the user's choice of reference, and the geometry for each view.

Without calibration MoveScope reports temporal parameters only; lengths and speed need one of:

- ``height``: the patient's height. In a side view the body's size in pixels (from trunk, thigh and shank
  lengths, see :mod:`core.gait.signals`) gives centimetres per pixel at the patient's distance. Walking
  toward or away from the camera, the body's size gives its depth ``Z = f * H / h`` once the focal length
  ``f`` is known; it is taken from the camera's horizontal field of view (``hfov_deg``, a typical phone
  main camera by default) - say so when reporting, or mark the walkway instead.
- ``distance``: two image points a known distance apart in the walking plane (a side view): a tape on the
  floor along the walk, the ends of a walkway.
- ``walkway``: for views toward or away from the camera, the image rows where a walkway of known length
  starts and ends on the floor. With the ground plane fitted from the walk
  (:func:`core.gait.events.ground_plane`) each row has a depth in units of ``f * H``, so the known length
  fixes ``f * H`` in centimetres: perspective is handled exactly, no field of view needed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from core.errors import InputError

KINDS = ("none", "height", "distance", "walkway")
DEFAULT_HFOV_DEG = 66.0  # typical smartphone main camera filming 16:9 video


@dataclass(frozen=True)
class Calibration:
    kind: str = "none"
    height_cm: float | None = None
    distance_cm: float | None = None
    points_px: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2
    walkway_cm: float | None = None
    walkway_rows_px: tuple[float, float] | None = None  # image rows of the walkway's two ends
    hfov_deg: float = DEFAULT_HFOV_DEG

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"unknown calibration {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.kind == "height" and not (self.height_cm and 50 <= self.height_cm <= 250):
            raise InputError("calibration by height needs the patient's height (50-250 cm)")
        if self.kind == "distance":
            if not (self.distance_cm and self.distance_cm > 0 and self.points_px):
                raise InputError("calibration by distance needs two points and the distance between them")
            x1, y1, x2, y2 = self.points_px
            if math.hypot(x2 - x1, y2 - y1) < 10:
                raise InputError("the two calibration points are less than 10 pixels apart")
        if self.kind == "walkway":
            if not (self.walkway_cm and self.walkway_cm > 0 and self.walkway_rows_px):
                raise InputError("calibration by walkway needs its length and the image rows of its two ends")
            if abs(self.walkway_rows_px[0] - self.walkway_rows_px[1]) < 5:
                raise InputError("the walkway's two ends must be on different image rows")
        if not 20 <= self.hfov_deg <= 150:
            raise InputError("the camera's field of view must be 20-150 degrees")

    @property
    def spatial(self) -> bool:
        return self.kind != "none"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PlaneScale:
    """Side view: one scale for the walking plane."""

    cm_per_px: float
    source: str

    def describe(self) -> str:
        return f"{self.cm_per_px:.3f} cm per pixel ({self.source})"


@dataclass(frozen=True)
class DepthScale:
    """Toward/away view: depth ``Z = fh_cm / body height in px``; ``f`` gives lateral lengths."""

    fh_cm: float  # focal length (px) times stature (cm)
    focal_px: float | None  # known when the stature is known
    source: str

    def describe(self) -> str:
        focal = f", focal length {self.focal_px:.0f} px" if self.focal_px else ""
        return f"depth from body size, f*H = {self.fh_cm:.0f} px*cm{focal} ({self.source})"


def focal_from_fov(width_px: int, hfov_deg: float) -> float:
    return width_px / (2 * math.tan(math.radians(hfov_deg) / 2))


def plane_scale(calibration: Calibration, stature_px: float) -> PlaneScale | None:
    if calibration.kind == "height":
        return PlaneScale(calibration.height_cm / stature_px, f"patient height {calibration.height_cm:g} cm")
    if calibration.kind == "distance":
        x1, y1, x2, y2 = calibration.points_px
        return PlaneScale(
            calibration.distance_cm / math.hypot(x2 - x1, y2 - y1), f"{calibration.distance_cm:g} cm marked"
        )
    return None


def depth_scale(
    calibration: Calibration, width_px: int, plane: tuple[float, float] | None
) -> DepthScale | None:
    """Depth scale for frontal views, or None when the calibration cannot give one."""
    focal_from_height = focal_from_fov(width_px, calibration.hfov_deg)
    if calibration.kind == "walkway":
        if plane is None:
            return None
        y0, k = plane
        rows = np.array(calibration.walkway_rows_px, float)
        if np.any(rows <= y0 + 1):
            raise InputError("a walkway end is marked above the horizon of the floor; mark rows on the floor")
        inverse_depth = (rows - y0) / k  # body height in px a person would have standing there = f*H/Z
        fh = calibration.walkway_cm / abs(1 / inverse_depth[0] - 1 / inverse_depth[1])
        focal = fh / calibration.height_cm if calibration.height_cm else None
        return DepthScale(fh, focal, f"walkway of {calibration.walkway_cm:g} cm marked")
    if calibration.kind == "height":
        fh = focal_from_height * calibration.height_cm
        return DepthScale(
            fh,
            focal_from_height,
            f"patient height {calibration.height_cm:g} cm, camera field of view {calibration.hfov_deg:g} deg",
        )
    return None
