"""Validation: published cases, predictions against them, calibration, statistics."""
