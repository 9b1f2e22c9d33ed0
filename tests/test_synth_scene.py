"""Cameras and scenes: pixels land where a pinhole camera puts them and occlusion follows depth order."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.synth.body import Body
from core.synth.camera import VIEWS, Camera, camera_for_view
from core.synth.scene import Person, bystander, film
from core.synth.skeleton import J
from core.synth.walker import GaitParameters, walk
from core.types import KP


@pytest.fixture(scope="module")
def walker():
    return walk(GaitParameters(), Body(175.0), 8.0, 30.0, np.random.default_rng(0))[0]


def test_pinhole_projection_and_depth():
    camera = Camera.look_at([0.0, 0.0, 1.0], [5.0, 0.0, 1.0], width_px=1000, height_px=500, hfov_deg=90.0)
    assert camera.focal_px == pytest.approx(500.0)
    uv, depth = camera.project(np.array([[5.0, 0.0, 1.0], [5.0, -1.0, 0.0], [-1.0, 0.0, 1.0]]))
    assert uv[0] == pytest.approx([500.0, 250.0])  # on the optical axis: the image centre
    assert uv[1] == pytest.approx([600.0, 350.0])  # right of and below the axis: right and down in the image
    assert depth[:2] == pytest.approx([5.0, 5.0])
    assert depth[2] < 0 and np.isnan(uv[2]).all()  # behind the camera: no pixel
    # x_camera = R x_world + t and the intrinsics reproduce the projection.
    point = np.array([6.0, 0.7, 1.4])
    camera_point = camera.rotation @ point + camera.translation
    homogeneous = camera.intrinsics @ camera_point
    assert camera.project(point)[0] == pytest.approx(homogeneous[:2] / homogeneous[2])


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_keeps_the_patient_in_the_picture(view, walker):
    camera = camera_for_view(view, walker, np.random.default_rng(1))
    clip = film(camera, [Person(walker, "patient", "walk")])
    seen = clip.in_frame[:, 0]
    assert seen.mean() > 0.7
    height_px = clip.boxes_px[:, 0, 3] - clip.boxes_px[:, 0, 1]
    assert np.nanmedian(height_px) > 80  # the patient is big enough for a pose model


def test_walking_toward_the_camera_grows_and_walking_away_shrinks(walker):
    for view, sign in (("toward", 1), ("away", -1)):
        clip = film(
            camera_for_view(view, walker, np.random.default_rng(2)), [Person(walker, "patient", "walk")]
        )
        depth = clip.depth_m[:, 0, KP["left_hip"]]
        assert sign * (depth[0] - depth[-1]) > 5.0


def test_face_is_hidden_from_behind_and_far_arm_from_the_side(walker):
    away = film(
        camera_for_view("away", walker, np.random.default_rng(3)), [Person(walker, "patient", "walk")]
    )
    assert away.occluded[:, 0, KP["nose"]].mean() > 0.9
    toward = film(
        camera_for_view("toward", walker, np.random.default_rng(3)), [Person(walker, "patient", "walk")]
    )
    assert toward.occluded[:, 0, KP["nose"]].mean() < 0.1
    side = camera_for_view("across", walker, np.random.default_rng(3))
    clip = film(side, [Person(walker, "patient", "walk")])
    # Which shoulder is nearer the camera decides which arm hides behind the trunk.
    near_left = (
        clip.depth_m[:, 0, KP["left_shoulder"]].mean() < clip.depth_m[:, 0, KP["right_shoulder"]].mean()
    )
    near, far = ("left", "right") if near_left else ("right", "left")
    assert clip.occluded[:, 0, KP[f"{far}_shoulder"]].mean() > 0.5
    assert clip.occluded[:, 0, KP[f"{near}_shoulder"]].mean() < 0.05


def test_a_bystander_walking_between_camera_and_patient_hides_the_patient(walker):
    rng = np.random.default_rng(4)
    camera = camera_for_view("across", walker, rng)
    alone = film(camera, [Person(walker, "patient", "walk")])
    other = bystander("occlude", walker, camera, rng)
    assert other is not None
    crowd = film(camera, [Person(walker, "patient", "walk"), other])
    hidden_by_other = crowd.occluded[:, 0] & ~alone.occluded[:, 0]
    assert hidden_by_other.any(axis=1).sum() >= 3  # frames where the bystander covers patient joints
    # Only while the bystander is nearer the camera than the patient.
    frames = np.flatnonzero(hidden_by_other.any(axis=1))
    assert (crowd.depth_m[frames, 1].mean(axis=1) < crowd.depth_m[frames, 0].mean(axis=1)).all()
    gap = np.linalg.norm(other.motion.joint("pelvis")[:, :2] - walker.joint("pelvis")[:, :2], axis=1)
    assert gap.min() >= 0.7  # nobody walks through the patient


@pytest.mark.parametrize("behaviour", ["stand", "walk", "cross"])
def test_bystanders_are_placed_in_view(behaviour, walker):
    rng = np.random.default_rng(5)
    camera = camera_for_view("oblique", walker, rng)
    other = bystander(behaviour, walker, camera, rng)
    assert other is not None and other.role == "bystander"
    clip = film(camera, [Person(walker, "patient", "walk"), other])
    assert clip.in_frame[:, 1].any(axis=1).mean() > 0.2
    arrays = clip.arrays()
    assert arrays["keypoints_px"].shape == (240, 2, 17, 2)
    assert arrays["joints_m"].shape == (240, 2, len(J), 3)
    assert list(arrays["roles"]) == ["patient", "bystander"]


def test_unknown_view_is_refused(walker):
    with pytest.raises(InputError, match="camera view"):
        camera_for_view("drone", walker, np.random.default_rng(0))
