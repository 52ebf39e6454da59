"""Fit the shipped vision calibration on ``catalog/vision/vision_cases.csv`` and write
``catalog/vision/calibration.yaml`` (atomically; ``--out FILE`` writes FILE instead). Prints the LOAO summary.

    PYTHONPATH=src python tools/vision/fit_vision_calibration.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inferchip.catalog.vision_networks import CALIBRATION_FILE, VISION_CASES_FILE
from inferchip.validation.vision.calibrate import fit_and_summarize, write_calibration


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=CALIBRATION_FILE,
                    help="where to write the fitted calibration (default: the shipped file, replaced)")
    out = ap.parse_args().out
    cal, summary = fit_and_summarize(VISION_CASES_FILE)
    write_calibration(cal, out)
    summary.pop("unexpressible", None)
    print(json.dumps({"calibration": cal.model_dump(), "summary": summary}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
