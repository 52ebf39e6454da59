"""The calibration record the cost model takes (defined in :mod:`inferchip.spec.calibration`;
files are read by :mod:`inferchip.catalog.calibration_file`)."""

from inferchip.spec.calibration import Calibration

__all__ = ["Calibration"]
