"""A TDP typed in mW on a chip YAML that gives no die area (review42).

newuser42 refuses a TDP above 17 W per mm2 of compute die, but only where ``silicon.die_area_mm2`` is given, and 21 of
the catalogue's 53 chips with a TDP give none. An H100 without its die area and with ``tdp_w: 700000`` loaded with
no word and ``predict`` gave 368,689 W per chip (the modelled power is mostly a share of the TDP). Now such a chip
carries a note where its bare arithmetic draws under 1e-4 of its TDP: the catalogue's lowest share is 8.1e-4 (Intel
Core i9-13900K, its fp32 vector peak alone), every accelerator's at least 0.017 (AWS Trainium3), so a TDP typed
1,000 times high (a share of 1.7e-5 to 6.7e-4) falls below it for every catalogue accelerator but Untether's."""

from __future__ import annotations

from pathlib import Path

import yaml

from inferchip.catalog.chips import _CHIPS_DIR as CHIPS_DIR
from inferchip.catalog.chips import TDP_HIGH_NOTE_SHARE, arithmetic_w, chip_ids, get_chip_params, load_chip, tdp_note
from inferchip.spec.bounds import pick


def _h100(tmp_path: Path, tdp: float, area: bool) -> Path:
    raw = yaml.safe_load((CHIPS_DIR / "nvidia-h100-sxm-80gb.yaml").read_text(encoding="utf-8"))
    raw["id"], raw["power"]["tdp_w"] = "mine", tdp
    if not area:
        del raw["silicon"]["die_area_mm2"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_h100_in_milliwatts_without_area_is_noted(tmp_path: Path) -> None:
    path = _h100(tmp_path, 700_000, area=False)
    # by hand: 989.4e12 FLOP/s x 0.75 pJ x node factor 0.0408 at 4 nm = 30.3 W; 30.3 / 700,000 = 4.3e-5 < 1e-4
    w, fmt, _ = arithmetic_w(load_chip(str(path)), "central")
    assert fmt == "bf16" and abs(w - 30.3) < 0.1
    notes = get_chip_params(str(path)).notes
    got = [n for n in notes if "is it in mW" in n]
    assert len(got) == 1, notes
    assert got[0].startswith("power.tdp_w = 700,000 W is high for its bf16 peak")
    assert "0.0043%" in got[0]


def test_h100_in_watts_without_area_has_no_note(tmp_path: Path) -> None:
    path = _h100(tmp_path, 700, area=False)
    assert not any("is it in mW" in n for n in get_chip_params(str(path)).notes)


def test_no_catalogue_chip_is_noted_and_the_threshold_is_below_every_share() -> None:
    shares = []
    for c in chip_ids():
        spec = load_chip(c)
        if spec.power is None or spec.power.tdp_w is None:
            continue
        got = arithmetic_w(spec, "central")
        if got is not None:
            shares.append(got[0] / pick(spec.power.tdp_w, "central"))
        note = tdp_note(spec)
        assert note is None or "is it in mW" not in note, (c, note)
    assert len(shares) >= 50
    assert min(shares) > 5 * TDP_HIGH_NOTE_SHARE
