"""Vision validation reports its stages as they start (it runs about a minute on the shipped rows and
printed nothing until the end)."""

from __future__ import annotations

from pathlib import Path

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.validation.vision.cases import read_vision_cases
from inferchip.validation.vision.validate import validate_vision

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "vision" / "vision_cases.csv"


def test_stages_are_reported_in_order():
    cases = [c for c in read_vision_cases(SHIPPED) if c.scenario == "offline"][:3]
    heard: list[str] = []
    validate_vision(cases, load_vision_calibration(None), loao=False, progress=heard.append)
    assert heard[0] == f"vision rows: costing {len(cases)} rows"
    assert any(m.startswith("vision rows: predicting ") for m in heard), heard
    assert not any("leave one out" in m for m in heard)  # no fit without loao
