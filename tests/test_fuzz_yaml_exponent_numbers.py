"""A number in exponent form in a user's YAML (newuser42).

PyYAML reads YAML 1.1, whose float needs a dot and a signed exponent: ``1.4e+3`` is a number but ``1.4e3``, ``14e2``
and ``1e-3`` are text. A chip architect writing ``tdp_w: 1.4e3`` (as JSON, YAML 1.2 and every other reader have it)
got ``power.tdp_w = '1.4e3': must be a finite number between 0 (exclusive) and 1,000,000 (W)``: an error that
contradicts itself. Now the loader reads the exponent forms as YAML 1.2's core schema does; every shipped YAML file
parses as before."""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.catalog.chips import _CHIPS_DIR as CHIPS_DIR
from inferchip.catalog.chips import load_chip
from inferchip.catalog.yaml_io import _EXPONENT_FLOAT, parse_yaml

SRC = Path(__file__).resolve().parents[1] / "src"

mantissa = st.one_of(st.integers(1, 99_999).map(str),
                     st.tuples(st.integers(0, 999), st.integers(0, 999)).map(lambda t: f"{t[0]}.{t[1]}"))
exponent = st.tuples(st.sampled_from(["e", "E"]), st.sampled_from(["", "+", "-"]), st.integers(0, 12))


@given(m=mantissa, e=exponent, sign=st.sampled_from(["", "-", "+"]))
def test_exponent_forms_are_numbers(m: str, e: tuple[str, str, int], sign: str) -> None:
    text = f"{sign}{m}{e[0]}{e[1]}{e[2]}"
    got = parse_yaml(f"x: {text}\n", "t.yaml")["x"]
    assert isinstance(got, float) and math.isclose(got, float(text)), (text, got)


def test_text_and_yaml11_forms_are_unchanged() -> None:
    for text, want in (("e3", "e3"), ("1e", "1e"), ("1.4e+3", 1400.0), ("'1e3'", "1e3"), ("0x10", 16), ("1_000", 1000),
                       ("1.5", 1.5), (".inf", math.inf), ("4nm", "4nm"), ("N3P", "N3P"), ("1e3e3", "1e3e3")):
        assert parse_yaml(f"x: {text}\n", "t.yaml")["x"] == want, text


def _as_12(v: object) -> object:
    """What YAML 1.2 makes of YAML 1.1's parse: exponent-form text becomes its number, the rest is unchanged."""
    if isinstance(v, dict):
        return {k: _as_12(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_as_12(x) for x in v]
    return float(v) if isinstance(v, str) and _EXPONENT_FLOAT.match(v) else v


def test_every_shipped_yaml_parses_as_before_but_its_exponent_numbers() -> None:
    files = sorted(SRC.rglob("*.yaml"))
    assert len(files) > 60
    changed = 0
    for f in files:
        old = yaml.safe_load(f.read_text(encoding="utf-8"))
        assert parse_yaml(f.read_text(encoding="utf-8"), str(f)) == _as_12(old), f
        changed += _as_12(old) != old
    assert changed >= 10  # engines.yaml's recipe GEMM rates, the vision networks' published counts, claim.yaml


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tdp=st.integers(300, 1400), digits=st.integers(0, 3))
def test_a_chip_tdp_in_exponent_form_loads(tmp_path: Path, tdp: int, digits: int) -> None:
    text = f"{tdp / 10 ** digits}e{digits}"
    src = (CHIPS_DIR / "nvidia-h100-sxm-80gb.yaml").read_text(encoding="utf-8")
    assert "  tdp_w: 700\n" in src
    path = tmp_path / "mine.yaml"
    path.write_text(src.replace("id: nvidia-h100-sxm-80gb", "id: mine").replace("  tdp_w: 700\n", f"  tdp_w: {text}\n"))
    assert math.isclose(load_chip(str(path)).power.tdp_w, float(text))
