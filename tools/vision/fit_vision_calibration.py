"""Fit the shipped vision calibration on ``catalog/vision/vision_cases.csv`` and write
``catalog/vision/calibration.yaml`` (atomically). Prints the LOAO summary.

    PYTHONPATH=src python tools/vision/fit_vision_calibration.py
"""

from __future__ import annotations

import json

from inferchip.catalog.vision_networks import CALIBRATION_FILE, VISION_CASES_FILE
from inferchip.validation.vision.calibrate import fit_and_summarize, write_calibration


def main() -> None:
    cal, summary = fit_and_summarize(VISION_CASES_FILE)
    write_calibration(cal, CALIBRATION_FILE)
    summary.pop("unexpressible", None)
    print(json.dumps({"calibration": cal.model_dump(), "summary": summary}, indent=1))
    print(f"wrote {CALIBRATION_FILE}")


if __name__ == "__main__":
    main()
