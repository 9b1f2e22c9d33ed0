"""Validation of the gait measures against exact truth (filled in below)."""
