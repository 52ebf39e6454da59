"""A user's chip YAML whose TDP is typed in mW (newuser42).

Before: ``power.tdp_w: 700000`` (an H100's 700 W typed in mW) loaded, below the 1e6 W bound, with no word; the
modelled power is mostly a share of the TDP, so `predict` gave 374,708 W per chip (412.8 W at 700 W) and tokens/J
and $/Mtok 900 times worse. Now a TDP above the heat any chip cooling has removed from its compute die is refused
naming the file, the field, the value and the bound: 17 W per mm2 (1.7 kW/cm2, van Erp et al., 'Co-designing
electronics with microfluidics for more sustainable cooling', Nature 585, 211-216, 2020). The catalogue's highest is
2.3 W per mm2 (MI455X, high TDP over the low area)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chip_yaml import catalogue_raw
from inferchip.catalog.chips import MAX_HEAT_FLUX_W_PER_MM2, chip_ids, load_chip
from inferchip.errors import SpecError
from inferchip.spec.bounds import pick


def _area(c: str) -> float:
    si = load_chip(c).silicon
    if si is None or si.die_area_mm2 is None:
        return 0.0
    return (pick(si.die_area_mm2, "low") or 0.0) * si.compute_die_count


WITH_AREA = [c for c in chip_ids() if load_chip(c).power is not None and pick(load_chip(c).power.tdp_w, "high")
             and _area(c) > 0]


def test_catalogue_heat_flux_is_far_below_the_bound():
    assert len(WITH_AREA) >= 25
    worst = max(pick(load_chip(c).power.tdp_w, "high") / _area(c) for c in WITH_AREA)
    assert 2.0 < worst < MAX_HEAT_FLUX_W_PER_MM2 / 5


def test_the_h100_in_milliwatts_by_hand(tmp_path):
    raw = catalogue_raw("nvidia-h100-sxm-80gb")
    raw["id"], raw["power"]["tdp_w"] = "mine", 700_000
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match=r"mine\.yaml: power\.tdp_w = 700,000: 860 W per mm2 of compute die \(814 mm2 "
                       r"= silicon\.die_area_mm2 x compute_die_count\); allowed: at most 17 W per mm2.*is it in mW\?"):
        load_chip(str(path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.sampled_from(WITH_AREA), unit=st.sampled_from([1e3, 1024.0]))
def test_a_tdp_in_milliwatts_is_refused(tmp_path, chip, unit):
    raw = catalogue_raw(chip)
    tdp = raw["power"]["tdp_w"]
    if isinstance(tdp, dict):
        for k in ("low", "central", "high"):
            tdp[k] = tdp[k] * unit
    else:
        raw["power"]["tdp_w"] = tdp * unit
    raw["id"] = "mine-mw"
    path = tmp_path / "mw.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    assert str(err.value).startswith(f"{path}: power.tdp_w"), err.value  # the 1e6 W bound or the heat flux


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.sampled_from(WITH_AREA), share=st.floats(0.5, 0.99))
def test_a_tdp_below_the_bound_loads(tmp_path, chip, share):
    raw = catalogue_raw(chip)
    raw["power"]["tdp_w"] = round(share * MAX_HEAT_FLUX_W_PER_MM2 * _area(chip), 3)
    raw["id"] = "mine-ok"
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_chip(str(path)).power.tdp_w == raw["power"]["tdp_w"]


def test_wafer_scale_tdp_loads():
    wse = load_chip("cerebras-wse-3")
    assert pick(wse.power.tdp_w, "high") / _area("cerebras-wse-3") < 1.0
