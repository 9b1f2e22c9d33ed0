"""Synthetic video frames: labels agree with the pixels, a seed fixes the clip, YOLO sees the people."""

from __future__ import annotations

import numpy as np
import pytest

from core.synth.render import (
    Appearance,
    CameraEffects,
    Lighting,
    RenderStyle,
    make_background,
    project_joints,
    render_clip,
    render_frame,
    render_joints,
)
from tests.synth_bodies import VIEWS, look_at_camera, standing_bodies, walking_bodies

WIDTH, HEIGHT, FOCAL = 640, 480, 560.0
BACKDROP_BGR = (255, 0, 255)  # magenta: no skin, hair or clothing colour is exactly this


def _scene(n_frames: int = 3, view: str = "side"):
    """A walker (the patient) and a bystander standing behind the walk line."""
    eye, target = VIEWS[view]
    project = look_at_camera(eye, target, FOCAL, WIDTH, HEIGHT)
    walker = walking_bodies(n_frames, 10.0, 1.7, (-0.6, 0.0), 0.0)
    bystander = standing_bodies(n_frames, 10.0, 1.6, (0.7, 2.5), np.pi)
    return project_joints(np.stack([walker, bystander], axis=1), project)


def _plain_style() -> RenderStyle:
    """Flat background, no shadow and no camera effects: every changed pixel belongs to a person."""
    background = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    background[:] = BACKDROP_BGR
    effects = CameraEffects(blur_sigma_px=0.0, noise_sigma=0.0, vignetting=0.0, jpeg_quality=None)
    return RenderStyle(background, Lighting(contact_shadow=0.0), effects)


def _appearances(rng: np.random.Generator, n: int = 2) -> list[Appearance]:
    return [Appearance.random(rng) for _ in range(n)]


def _dilate(mask: np.ndarray, px: int = 1) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def test_patient_mask_and_boxes_agree_with_drawn_pixels():
    uv, depth = _scene(1)
    rng = np.random.default_rng(3)
    apps = _appearances(rng)
    style = _plain_style()
    both = render_frame(uv[0], depth[0], FOCAL, apps, style, patient=0)
    alone = render_frame(uv[0, :1], depth[0, :1], FOCAL, apps[:1], style, patient=0)

    drawn = np.any(alone.image_bgr != BACKDROP_BGR, axis=2)
    # every mask pixel is drawn; drawn pixels outside the mask are only the anti-aliased rim
    assert alone.patient_mask.sum() > 2000
    assert not (alone.patient_mask & ~drawn).any()
    assert not (drawn & ~_dilate(alone.patient_mask)).any()
    rows, cols = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
    np.testing.assert_allclose(alone.boxes_px[0], [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], atol=1.5)
    assert alone.visible_fraction[0] == pytest.approx(1.0, abs=0.01)

    # with the bystander: the patient's mask never covers the bystander's pixels, and the box is unchanged
    np.testing.assert_allclose(both.boxes_px[0], alone.boxes_px[0], atol=0.5)
    assert (both.patient_mask <= alone.patient_mask).all()
    assert np.isfinite(both.boxes_px[1]).all()


def test_nearer_person_hides_the_one_behind():
    project = look_at_camera((0.0, -6.0, 1.0), (0.0, 0.0, 0.9), FOCAL, WIDTH, HEIGHT)
    front = standing_bodies(1, 10.0, 1.7, (0.0, -1.0), 0.0)
    back = standing_bodies(1, 10.0, 1.7, (0.1, 1.0), 0.0)
    uv, depth = project_joints(np.stack([back, front], axis=1), project)
    frame = render_frame(
        uv[0], depth[0], FOCAL, _appearances(np.random.default_rng(0)), _plain_style(), patient=0
    )
    assert 0.0 < frame.visible_fraction[0] < 0.6  # the patient stands mostly behind the bystander
    assert frame.visible_fraction[1] == pytest.approx(1.0, abs=0.01)
    assert frame.patient_mask.sum() > 0


def test_same_seed_same_clip():
    uv, depth = _scene(2)

    def clip(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        style = RenderStyle.random(WIDTH, HEIGHT, rng)
        return [f.image_bgr for f in render_clip(uv, depth, FOCAL, _appearances(rng), style, 0, rng)]

    first, again, other = clip(7), clip(7), clip(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_clip_is_a_generator_with_labels_per_frame():
    uv, depth = _scene(4)
    rng = np.random.default_rng(1)
    frames = render_clip(uv, depth, FOCAL, _appearances(rng), RenderStyle.random(WIDTH, HEIGHT, rng), 1, rng)
    assert not isinstance(frames, list)
    out = list(frames)
    assert len(out) == 4
    for f in out:
        assert f.image_bgr.shape == (HEIGHT, WIDTH, 3) and f.image_bgr.dtype == np.uint8
        assert f.patient_mask.shape == (HEIGHT, WIDTH) and f.patient_mask.any()
        assert f.boxes_px.shape == (2, 4)


def test_world_joints_render_like_projected_ones():
    project = look_at_camera(*VIEWS["oblique_high"], FOCAL, WIDTH, HEIGHT)
    joints = walking_bodies(2, 10.0, 1.7, (-0.6, 0.0), 0.0)[:, None]
    uv, depth = project_joints(joints, project)
    apps = _appearances(np.random.default_rng(0), 1)
    style = _plain_style()
    direct = list(render_clip(uv, depth, FOCAL, apps, style, 0, np.random.default_rng(1)))
    world = list(render_joints(joints, project, FOCAL, apps, style, 0, np.random.default_rng(1)))
    assert all(np.array_equal(a.image_bgr, b.image_bgr) for a, b in zip(direct, world, strict=True))


def test_people_out_of_view_or_absent_have_no_box():
    uv, depth = _scene(1)
    uv = uv.copy()
    uv[0, 1] += 5000.0  # bystander far outside the image
    uv[0, 0] = np.nan  # patient absent in this frame
    frame = render_frame(
        uv[0], depth[0], FOCAL, _appearances(np.random.default_rng(0)), _plain_style(), patient=0
    )
    assert np.isnan(frame.boxes_px).all()
    assert not frame.patient_mask.any()
    assert np.all(frame.image_bgr == BACKDROP_BGR)


def test_bad_shapes_are_refused():
    uv, depth = _scene(1)
    with pytest.raises(ValueError):
        render_frame(
            uv[0, :, :17], depth[0, :, :17], FOCAL, _appearances(np.random.default_rng(0)), _plain_style()
        )
    with pytest.raises(ValueError):
        render_frame(uv[0], depth[0], FOCAL, _appearances(np.random.default_rng(0), 1), _plain_style())
    with pytest.raises(ValueError):
        make_background(64, 48, np.random.default_rng(0), kind="beach")


@pytest.mark.parametrize("kind", ["room", "corridor", "outdoor"])
def test_backgrounds_are_varied_images(kind):
    image = make_background(320, 240, np.random.default_rng(5), kind=kind)
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    assert image.std() > 5  # not a flat colour


def test_yolo_finds_rendered_people():
    """Two rendered frames (side and front view, people 180-300 px tall): YOLO11n-pose finds the patient."""
    from core.pose import PoseEstimator, PoseSettings
    from core.tracking import iou_matrix

    rng = np.random.default_rng(11)
    images, truth, joints2d = [], [], []
    for view in ("side", "toward"):
        uv, depth = _scene(6, view)
        style = RenderStyle.random(WIDTH, HEIGHT, rng, kind="room")
        frame = render_frame(uv[3], depth[3], FOCAL, _appearances(rng), style, 0, rng)
        images.append(frame.image_bgr)
        truth.append(frame.boxes_px[0])
        joints2d.append(uv[3, 0, :17])
    found = PoseEstimator(PoseSettings(imgsz=640)).predict(images, [0, 1])
    for poses, box, gt in zip(found, truth, joints2d, strict=True):
        iou = iou_matrix(box[None], poses.boxes)[0]
        assert len(iou) and iou.max() > 0.5, "the rendered patient was not detected"
        kp = poses.keypoints[int(iou.argmax())]
        confident = kp[:, 2] >= 0.5
        error = np.linalg.norm(kp[confident, :2] - gt[confident], axis=1)
        assert np.median(error) < 0.1 * (box[3] - box[1])


def test_dataset_hook_writes_video_and_masks(tmp_path):
    """``render_video(SceneClip, path)``: the dataset builder's hook, through the project's video writer."""
    from core.synth.body import Body
    from core.synth.camera import Camera
    from core.synth.render import load_patient_masks, render_video
    from core.synth.scene import Person, film
    from core.synth.walker import GaitParameters, walk
    from core.video import probe_video

    motion = walk(GaitParameters(), Body(170.0), 3.0, 4.0, np.random.default_rng(0))[0]
    camera = Camera.look_at([1.0, -5.0, 1.2], [1.0, 0.0, 0.9], width_px=320, height_px=240, hfov_deg=70.0)
    clip = film(camera, [Person(motion, "patient", "walk")], seed=5)
    path = render_video(clip, tmp_path / "clip.mp4")
    info = probe_video(path)
    assert (info.width, info.height, info.frames) == (320, 240, clip.frames)
    masks = load_patient_masks(path.with_name("clip_labels.npz"))
    assert masks.shape == (clip.frames, 240, 320) and masks.any(axis=(1, 2)).all()
