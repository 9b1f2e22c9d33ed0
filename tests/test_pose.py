"""The pretrained pose model, loaded from its installed package, finds the people standing in bus.jpg."""

from __future__ import annotations

import numpy as np

from core.demo import bus_image
from core.models import model_version, pretrained_path
from core.pose import PoseEstimator, PoseSettings
from core.types import KP


def test_weights_come_from_the_installed_packages():
    assert pretrained_path("yolo11n-pose").name == "yolo11n-pose.pt"
    assert pretrained_path("fallen-person").name == "best.pt"
    assert model_version("yolo11n-pose").startswith("yolo11n-pose@")


def test_pose_finds_the_people_standing_at_the_bus():
    import torch

    poses = PoseEstimator(PoseSettings(imgsz=640)).predict([bus_image()], [0])[0]
    upright = [
        i
        for i in range(len(poses))
        if poses.scores[i] > 0.5
        and (poses.boxes[i, 3] - poses.boxes[i, 1]) > 2 * (poses.boxes[i, 2] - poses.boxes[i, 0])
    ]
    assert len(upright) >= 3, "three pedestrians stand in front of the bus"
    for i in upright:
        kp = poses.keypoints[i]
        ankles_y = kp[[KP["left_ankle"], KP["right_ankle"]], 1].mean()
        hips_y = kp[[KP["left_hip"], KP["right_hip"]], 1].mean()
        nose_y = kp[KP["nose"], 1]
        assert nose_y < hips_y < ankles_y, "standing people: head above hips above ankles"
        assert np.all(kp[:, 0] >= poses.boxes[i, 0] - 5) and np.all(kp[:, 0] <= poses.boxes[i, 2] + 5)
    assert torch.get_num_threads() == __import__("core.settings").settings.settings().threads
