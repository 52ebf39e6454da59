"""The deployment note names where a sized chip's unit comes from (review42).

deploy42's note said "in whole units of N chips (catalog/competitors.yaml deployment_units)" for every sized chip,
also for a user's layer-pipelined chip that file does not name, whose unit is its scale-up domain
(``review.deploy.sizing.unit_of``): a user reading "units of 1 chips (catalog/competitors.yaml deployment_units)"
looked for an entry that is not there. The note now says the unit's basis as ``unit_of`` gives it."""

from __future__ import annotations

from pathlib import Path

from inferchip.catalog.chips import _CHIPS_DIR as CHIPS_DIR
from inferchip.review.claim_file import load_claim
from inferchip.review.deploy.sizing import deployment_notes, unit_of
from inferchip.review.inputs import chip_entry


def _rows(chip_id: str, n: int) -> list[dict]:
    base = {"chip_id": chip_id, "model_id": "m", "slo": "batch"}
    return [{**base, "setting": "domain", "status": "ok", "deployment_chips": n},
            {**base, "setting": "scaleup", "status": "does not fit", "deployment_chips": 1}]


def test_a_user_chip_without_a_deployment_unit_is_said_to_be_sized_in_scale_up_domains(tmp_path: Path) -> None:
    src = (CHIPS_DIR / "groq-lpu-v1.yaml").read_text(encoding="utf-8")
    path = tmp_path / "mygroq.yaml"
    path.write_text(src.replace("id: groq-lpu-v1", "id: mygroq").replace("max_scaleup_domain: 10440",
                                                                         "max_scaleup_domain: 2"), encoding="utf-8")
    chip = chip_entry(str(path), 72)
    assert unit_of(chip)[0] == 2
    (note,) = deployment_notes([chip], _rows("mygroq", 96), load_claim().scale_out)
    assert ("in whole units of 2 chips, its scale-up domain (catalog/competitors.yaml deployment_units names no "
            "unit for it)") in note, note


def test_groq_names_its_groqnode() -> None:
    chip = chip_entry("groq-lpu-v1", 72)
    (note,) = deployment_notes([chip], _rows("groq-lpu-v1", 96), load_claim().scale_out)
    assert "in whole units of 8 chips (catalog/competitors.yaml deployment_units), up to" in note, note
    assert "m on 96 chips" in note
