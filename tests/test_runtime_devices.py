"""A package its runtime enumerates as several devices (the chip file's ``memory.runtime_devices``, with the vendor's
source) is read by a serving engine's per-device rule as one of them (stop 47, branch capresolve47): ROCm exposes an
MI250X's two GCDs as two 64 GiB GPUs, so vLLM's API-server defaults there are 256 / 2,048 (64 GiB < 70 GiB), not the
1,024 / 8,192 the catalogue's one 128 GiB chip gave. The view is data: the same file without the field is 1,024."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import inferchip.catalog.chips as chips_mod
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import get_engine
from inferchip.errors import SpecError

CHIPS = Path(chips_mod.__file__).resolve().parent / "chips"


def _caps(chip: str) -> tuple[int, int, str]:
    p = get_chip_params(chip)
    c = get_engine(None).caps_on(p.id, p.memory_capacity_bytes, p.family, p.runtime_devices)
    return c.max_num_seqs, c.chunk_tokens, c.reason


def test_mi250x_is_two_64_gib_devices_to_the_rule():
    p = get_chip_params("amd-mi250x")
    assert p.runtime_devices == 2 and p.memory_capacity_bytes == 128 * 2**30
    seqs, chunk, reason = _caps("amd-mi250x")
    assert (seqs, chunk) == (256, 2048)
    assert "2 devices" in reason and "64 GiB < 70 GiB" in reason
    assert _caps("amd-mi300x")[:2] == (1024, 8192)  # one device of 192 GiB
    assert all(get_chip_params(c.stem).runtime_devices == 1 for c in CHIPS.glob("*.yaml") if c.stem != "amd-mi250x")


def test_the_device_view_is_data_not_the_id(tmp_path):
    """The same chip file without ``memory.runtime_devices`` (its id unchanged) is one 128 GiB device: 1,024."""
    doc = yaml.safe_load((CHIPS / "amd-mi250x.yaml").read_text(encoding="utf-8"))
    assert "instinct.docs.amd.com" in doc["memory"]["runtime_devices"]["source"]
    del doc["memory"]["runtime_devices"]
    path = tmp_path / "mi250x-one-device.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    seqs, chunk, reason = _caps(str(path))
    assert (seqs, chunk) == (1024, 8192) and "128 GiB >= 70 GiB" in reason
    doc["memory"]["runtime_devices"] = {"count": 2, "source": "x"}
    doc["memory"]["capacity"] = 192  # two devices of 96 GiB: above the threshold
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert _caps(str(path))[:2] == (1024, 8192)


@pytest.mark.parametrize("bad", [{"count": 1, "source": "x"}, {"count": 2}, {"count": 2, "source": ""}])
def test_a_runtime_device_count_needs_two_or_more_and_a_source(tmp_path, bad):
    doc = yaml.safe_load((CHIPS / "amd-mi250x.yaml").read_text(encoding="utf-8"))
    doc["memory"]["runtime_devices"] = bad
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(SpecError, match="runtime_devices"):
        get_chip_params(str(path))
