"""Gait analysis from video: events, GAITRite-named parameters, calibration, quality gate, validation."""
