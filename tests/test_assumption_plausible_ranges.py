"""Money and rate assumptions outside a plausible range are refused, naming the file, the field, the value and the
range (stop 36, polish36: ``tco.annual_cost_of_capital: 8`` meant as 8 % and ``usd_per_kwh: 120`` in cents were
accepted silently). Generated: for every bounded field, its usual slips (x100 for a percent, x1000 for a price in
cents or per MWh, /1000 for a price in thousands) and seeded values either side of each bound."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from inferchip.catalog.assumptions import BUNDLED_PATH, load_assumptions
from inferchip.errors import SpecError
from inferchip.spec.assumptions import PLAUSIBLE

BUNDLED = yaml.safe_load(BUNDLED_PATH.read_text(encoding="utf-8"))


def _entries(key: str) -> list[tuple[list[str], float]]:
    """(path in the YAML, bundled value) of the constant ``key``, or of every entry of the table ``key``."""
    section, field = key.split(".")
    node = BUNDLED[section][field]
    if "value" in node:
        return [([section, field], float(node["value"]))]
    return [([section, field, str(k)], float(c["value"])) for k, c in node.items()]


def _write(tmp_path: Path, path: list[str], value: float) -> Path:
    leaf: object = value
    for part in reversed(path):
        leaf = {part: leaf}
    f = tmp_path / "over.yaml"
    f.write_text(yaml.safe_dump(leaf), encoding="utf-8")
    return f


def _refused(tmp_path: Path, path: list[str], value: float) -> str:
    f = _write(tmp_path, path, value)
    with pytest.raises(SpecError) as exc:
        load_assumptions(f)
    return str(exc.value)


@pytest.mark.parametrize("key", sorted(PLAUSIBLE))
def test_every_bundled_value_is_inside_its_range(key):
    low, high, _, _ = PLAUSIBLE[key]
    for path, value in _entries(key):
        assert low <= value <= high, (path, value)
        # and well inside it (a bound that a real figure nearly reaches is a model, not an input check), except the
        # physical ends: a PSU converts at most all of its power, a PUE (an energy overhead) is at least 1
        assert value <= high / 1.9 or key == "host.psu_efficiency", (path, value)
        assert low == 0 or value >= low * 1.9 or key in ("tco.pue", "tco.embedded_soc_energy_overhead"), (path, value)


@pytest.mark.parametrize("key", sorted(PLAUSIBLE))
def test_the_usual_slips_are_refused_by_name(tmp_path, key):
    low, high, unit, _ = PLAUSIBLE[key]
    for path, value in _entries(key)[:3]:
        slips = [v for v in (value * 100, value * 1000, value / 1000, high * 1.01, low * 0.99 if low else -1.0)
                 if not low <= v <= high]
        assert slips
        for v in slips:
            text = _refused(tmp_path, path, v)
            if key == "tco.pue" and v < 1:  # the physical floor, checked first with its own words
                assert "over.yaml" in text and "pue" in text and "at least 1" in text, text
                continue
            field = ".".join(path)
            assert "over.yaml" in text and field in text and f"{v:g}" in text, text
            assert f"allowed: {low:g} to {high:,g}" in text or v < 0, text


def test_the_two_reported_slips(tmp_path):
    text = _refused(tmp_path, ["tco", "annual_cost_of_capital"], 8)
    assert "tco.annual_cost_of_capital = 8 (1/year)" in text and "allowed: 0 to 0.5" in text and "0.08" in text
    text = _refused(tmp_path, ["tco", "usd_per_kwh"], 120)
    assert "tco.usd_per_kwh = 120 (USD/kWh)" in text and "allowed: 0 to 1" in text and "0.12" in text


@pytest.mark.parametrize("key", sorted(PLAUSIBLE))
def test_values_inside_the_range_load_and_are_read(tmp_path, key):
    low, high, _, _ = PLAUSIBLE[key]
    rng = random.Random(key)
    a_low = max(low, 1e-9) if key != "tco.pue" else low
    for v in (a_low, high, *(rng.uniform(low, high) for _ in range(3))):
        path, _ = _entries(key)[0]
        a = load_assumptions(_write(tmp_path, path, v))
        assert a.number(".".join(path)) == pytest.approx(v)


@pytest.mark.parametrize("key", sorted(PLAUSIBLE))
def test_seeded_values_outside_the_range_are_refused(tmp_path, key):
    low, high, _, _ = PLAUSIBLE[key]
    rng = random.Random("out " + key)
    path, _ = _entries(key)[0]
    outside = [high * rng.uniform(1.0001, min(1e4, 0.9e9 / high)) for _ in range(3)]  # above 1e9: the envelope
    if low > 0:
        outside += [low * rng.uniform(0.0, 0.9999) for _ in range(3)]
    for v in outside:
        text = _refused(tmp_path, path, v)
        if key == "tco.pue" and v < 1:
            assert "pue" in text and "at least 1" in text, text
            continue
        assert ".".join(path) in text and "allowed" in text, text


def test_cli_cost_names_the_file_field_value_and_range(tmp_path):
    from cli_in_process import run_main

    f = _write(tmp_path, ["tco", "annual_cost_of_capital"], 8)
    code, out = run_main(["cost", "--chip", "nvidia-h100-sxm-80gb", "--assumptions", str(f)])
    assert code == 2, out
    line = [x for x in out.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and str(f) in line[0] and "annual_cost_of_capital = 8" in line[0] and "0 to 0.5" in line[0]


def test_the_npu_board_host_pair_is_set_together():
    """An NPU board's host is priced by idle W and W per accelerator together: a file with one of them is refused at
    load, naming the file and both fields (review37b L2: it was a refusal deep in the review's cost views)."""
    import copy

    from inferchip.catalog.assumptions import _bundled_raw
    from inferchip.catalog.yaml_io import validate
    from inferchip.errors import SpecError
    from inferchip.spec.assumptions import Assumptions

    raw = copy.deepcopy(_bundled_raw())
    del raw["host"]["npu_board_host_per_accelerator_w"]
    with pytest.raises(SpecError, match=r"mine\.yaml.*npu_board_host_idle_w and npu_board_host_per_accelerator_w"):
        validate(Assumptions, raw, "mine.yaml")
    del raw["host"]["npu_board_host_idle_w"]
    assert validate(Assumptions, raw, "mine.yaml").host.npu_board_host_idle_w is None  # neither: the GPU server's
