"""The second reader of stop 51's landed work (review52): defects a caller meets in the new options and keywords,
each test failing before its fix.

``ic.drive(chip, ..., models="resnet50-v1.5")`` iterated the string letter by letter ("unknown vision network 'r'")
and ``ic.drive(None, ...)`` answered "unknown chip 'None'" (the chip was passed on as ``str(chip)``), where every
other call of the API names a bad chip or a string given for a list."""

from __future__ import annotations

import pytest

import inferchip as ic
from inferchip.errors import InvalidSettingError

L4 = "nvidia-l4"


@pytest.mark.parametrize("models", ["resnet50-v1.5", "resnet50-v1.5@camera"])
def test_drive_refuses_one_string_for_its_list_of_networks(models: str) -> None:
    with pytest.raises(InvalidSettingError) as got:
        ic.drive(L4, 2, 10.0, models, duration_s=0.5)  # type: ignore[arg-type]
    text = str(got.value)
    assert "one string" in text and f"models=[{models!r}]" in text, text


@pytest.mark.parametrize("chip", [None, 5, 2.5])
def test_drive_names_a_chip_that_is_no_chip_as_the_api_does(chip: object) -> None:
    with pytest.raises(InvalidSettingError) as got:
        ic.drive(chip, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)  # type: ignore[arg-type]
    text = str(got.value)
    assert text.startswith(f"chip: {chip!r} ({type(chip).__name__}) names no chip"), text
    assert "unknown chip" not in text, text


def test_drive_still_takes_a_chip_as_id_spec_or_path() -> None:
    """The check lets every chip the API takes through, with the same record."""
    from pathlib import Path

    import inferchip

    by_id = ic.drive(L4, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)
    by_spec = ic.drive(ic.load_chip(L4), 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)
    path = Path(inferchip.__file__).parent / "catalog" / "chips" / f"{L4}.yaml"
    by_path = ic.drive(path, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)
    assert by_id["latency_ms"] == by_spec["latency_ms"] == by_path["latency_ms"]
