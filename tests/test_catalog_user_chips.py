"""Chip ids and users' chip YAMLs: loaded by path with family defaults, re-read when edited,
malformed ones named by file, field and value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from inferchip.catalog.chips import family_defaults, get_chip_params, load_chip
from inferchip.errors import SpecError, UnknownIdError
from inferchip.spec.chip import ChipSpec

GIB = 2**30


# ---------------------------------------------------------------- errors and user files


def test_unknown_id_names_close_ids():
    with pytest.raises(UnknownIdError) as exc:
        load_chip("nvidia-h100-sxm")
    assert "nvidia-h100-sxm-80gb" in exc.value.closest
    assert "nvidia-h100-sxm" in str(exc.value)


def _user_chip(**over) -> dict:
    doc = {
        "id": "my-npu",
        "name": "My NPU",
        "vendor": "Me",
        "family": "generic",
        "compute": {"dense_tflops": {"bf16": 100.0, "int8": 200.0}, "matrix_unit_count": 64},
        "memory": {"type": "LPDDR5X", "capacity": 32, "capacity_unit": "GiB", "bandwidth_tb_per_s": 0.5},
        "power": {"tdp_w": 50},
        "sources": [{"citation": "my own datasheet", "kind": "datasheet"}],
    }
    for dotted, value in over.items():
        node = doc
        *head, last = dotted.split(".")
        for k in head:
            node = node[k]
        node[last] = value
    return doc


def _write(tmp_path: Path, doc: dict, name: str = "my-npu.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_user_yaml_loads_by_path_with_generic_defaults(tmp_path):
    path = _write(tmp_path, _user_chip())
    spec = load_chip(path)
    assert isinstance(spec, ChipSpec) and spec.id == "my-npu"
    p = get_chip_params(str(path))
    assert p.peak_flop_per_s["bf16"] == pytest.approx(100e12)
    assert p.memory_bytes_per_s == pytest.approx(0.5e12)
    gen = family_defaults("generic")
    assert p.gemm_tiles_in_flight == pytest.approx(64 * gen.gemm_tiles_in_flight_per_unit)
    assert p.usable_memory_bytes == pytest.approx((32 - gen.runtime_reserve_gib) * GIB)
    assert p.idle_w == pytest.approx(50 * gen.idle_power_fraction_of_tdp)


def test_edited_user_file_is_reread(tmp_path):
    path = _write(tmp_path, _user_chip())
    assert get_chip_params(path).memory_bytes_per_s == pytest.approx(0.5e12)
    path.write_text(yaml.safe_dump(_user_chip(**{"memory.bandwidth_tb_per_s": 0.8})), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert get_chip_params(path).memory_bytes_per_s == pytest.approx(0.8e12)


@pytest.mark.parametrize(
    ("over", "field", "value"),
    [
        ({"memory.bandwidth_tb_per_s": -1.0}, "memory.bandwidth_tb_per_s", "-1.0"),
        ({"power.tdp_w": -50}, "power.tdp_w", "-50"),
        ({"compute.dense_tflops": {"bf16": 0.0}}, "compute.dense_tflops.bf16", "0.0"),
        ({"compute.dense_tflops": {"bf17": 10.0}}, "compute.dense_tflops", "bf17"),
        ({"memory.capacity_unit": "GiBs"}, "memory.capacity_unit", "GiBs"),
        ({"compute.matrix_unit_count": 0}, "compute.matrix_unit_count", "0"),
        ({"memory.hbm_gb": 80}, "memory.hbm_gb", "80"),
        ({"sources": []}, "sources", "[]"),
        ({"family": "nvidia-kepler"}, "family", "nvidia-kepler"),
    ],
)
def test_malformed_user_yaml_names_file_field_and_value(tmp_path, over, field, value):
    path = _write(tmp_path, _user_chip(**over), name="bad-chip.yaml")
    with pytest.raises(SpecError) as exc:
        load_chip(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert field in msg
    assert value in msg


def test_not_yaml_and_missing_file_are_spec_errors(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match="broken.yaml"):
        load_chip(bad)
    with pytest.raises(SpecError, match="nope.yaml"):
        load_chip(str(tmp_path / "nope.yaml"))


# ------------------------------------------------------------ a family reserve that takes all the memory (newuser40)

_RESERVED = {"generic": 2.0, "nvidia-jetson": 6.0, "x86-cpu": 8.0, "tenstorrent": 0.5}


@pytest.mark.parametrize("family", sorted(_RESERVED))
@pytest.mark.parametrize("capacity,unit", [(400, "MB"), (128, "MB"), (0.4, "GiB"), (1, "MiB")])
def test_capacity_under_the_family_reserve_is_refused_at_load(tmp_path, family, capacity, unit):
    """Before: a user's 900 MB SRAM part (or 128 GiB typed as 128 MB) in the generic family loaded with 0 bytes usable,
    and every model was refused 'short by' its whole size, the advice naming neither the 2 GiB reserve nor
    memory.usable_capacity_gib."""
    assert family_defaults(family).runtime_reserve_gib == _RESERVED[family]
    path = _write(tmp_path, _user_chip(family=family, **{"memory.capacity": capacity, "memory.capacity_unit": unit}))
    with pytest.raises(SpecError) as err:
        load_chip(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: memory.capacity = {capacity:g} {unit}: not above the {family} family's runtime "
                          f"reserve of {_RESERVED[family]:g} GiB"), msg
    assert "allowed:" in msg and "memory.usable_capacity_gib" in msg


def test_capacity_under_the_reserve_loads_with_its_usable_capacity_or_a_reserve_free_family(tmp_path):
    """Controls: the usable capacity stated, a family without a reserve, and a Range whose low end alone is short."""
    sram = {"memory.capacity": 900, "memory.capacity_unit": "MB", "memory.type": "SRAM-only"}
    p = get_chip_params(str(_write(tmp_path, _user_chip(**sram, **{"memory.usable_capacity_gib": 0.8}), "a.yaml")))
    assert p.usable_memory_bytes == pytest.approx(0.8 * GIB)
    p = get_chip_params(str(_write(tmp_path, _user_chip(family="groq", **sram), "b.yaml")))
    assert p.usable_memory_bytes == pytest.approx(900e6)
    ranged = {"low": 1, "central": 8, "high": 8, "derivation": "guess"}
    with pytest.raises(SpecError, match=r"memory.capacity = 1 GiB \(its low value\): not above"):
        load_chip(_write(tmp_path, _user_chip(**{"memory.capacity": ranged}), "c.yaml"))
