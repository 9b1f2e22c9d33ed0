"""Synthetic motion lab: simulated patients with exact ground truth (gait, posture, falls, sensors, video)."""
