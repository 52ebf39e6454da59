"""Bad input to the chip and model specs is a clear SpecError naming file, field and value.

Each class of bad input a fuzzing user found (inf, NaN, 1e308, a bool in a number field,
zero tiles, usable above physical capacity, a die beyond the reticle, duplicate keys, bad ids,
non-UTF-8, deep nesting, huge integers, absurd model sizes, bad sliding windows) has a test;
a Hypothesis test mutates valid chip YAMLs at random and asserts a SpecError, never a raw
pydantic/Key/Type error. Fixtures are the bundled catalogue files of this repository.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.catalog import chips as chips_mod
from inferchip.catalog.chips import get_chip_params, load_chip
from inferchip.catalog.hf_config import model_spec_from_config
from inferchip.catalog.models import load_model
from inferchip.catalog.yaml_io import parse_yaml, read_mapping, validate
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.spec.chip import FamilyDefaults
from inferchip.units import (
    CAPACITY_UNIT_BYTES,
    GIB,
    capacity_bytes,
    percent,
    percent_error,
)

CATALOG = Path(chips_mod.__file__).parent
CHIPS = CATALOG / "chips"


def _doc(chip_id: str = "nvidia-h100-sxm-80gb") -> dict[str, Any]:
    return yaml.safe_load((CHIPS / f"{chip_id}.yaml").read_text(encoding="utf-8"))


def _set(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node: Any = doc
    *head, last = dotted.split(".")
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


_counter = itertools.count()
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _write(tmp: Path, doc: Any, name: str | None = None) -> Path:
    path = tmp / (name or f"chip-{next(_counter)}.yaml")  # a fresh name: load_chip caches by path and mtime
    text = doc if isinstance(doc, str) else yaml.dump(doc, Dumper=_DUMPER, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(SpecError) as exc:
        load_chip(path)
    msg = str(exc.value)
    assert "Traceback" not in msg and "pydantic" not in msg.lower() and "errors.pydantic.dev" not in msg
    return msg


# ---------------------------------------------------------------- numbers: finite, physical, not bool


@pytest.mark.parametrize("value,shown", [(math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "nan"),
                                         (1e308, "1e+308"), (True, "True"), ("fast", "'fast'"), (-1, "-1")])
@pytest.mark.parametrize("field", ["memory.bandwidth_tb_per_s", "compute.dense_tflops.bf16", "power.tdp_w",
                                   "memory.capacity", "silicon.die_area_mm2", "compute.clock_ghz"])
def test_non_finite_bool_or_out_of_range_number_is_named(tmp_path, field, value, shown):
    path = _write(tmp_path, _set(_doc(), field, value), name="my-chip.yaml")
    msg = _error(path)
    assert re.search(rf"my-chip\.yaml: {re.escape(field)} = {re.escape(shown)}: must be a finite number between", msg)


def test_message_states_the_allowed_interval_and_unit(tmp_path):
    msg = _error(_write(tmp_path, _set(_doc(), "memory.bandwidth_tb_per_s", math.inf)))
    assert msg.endswith("memory.bandwidth_tb_per_s = inf: must be a finite number between 0 (exclusive) and "
                        "1,000,000 (TB/s)")


def test_integer_with_hundreds_of_digits_in_a_count(tmp_path):
    msg = _error(_write(tmp_path, _set(_doc(), "compute.matrix_unit_count", 10**400)))
    assert "compute.matrix_unit_count = an integer of about 401 digits: must be a whole number between 1 and" in msg


def test_integer_with_thousands_of_digits_in_the_file(tmp_path):
    text = (CHIPS / "nvidia-h100-sxm-80gb.yaml").read_text(encoding="utf-8").replace(
        "tdp_w: 700", "tdp_w: " + "9" * 5000)
    path = _write(tmp_path, text, name="digits.yaml")
    assert "digits.yaml: not a spec: a number has thousands of digits" in _error(path)
    j = tmp_path / "digits.json"
    j.write_text('{"id": ' + "9" * 5000 + "}", encoding="utf-8")
    with pytest.raises(SpecError, match=r"digits\.json: not a spec: a number has thousands of digits"):
        read_mapping(j)


def test_range_values_are_bounded_each(tmp_path):
    bad = {"low": 1.0, "central": 2.0, "high": math.inf, "derivation": "guess"}
    msg = _error(_write(tmp_path, _set(_doc(), "memory.bandwidth_tb_per_s", bad)))
    assert "memory.bandwidth_tb_per_s.high = inf: must be a finite number between 0 (exclusive)" in msg


@pytest.mark.parametrize("tile,shown", [([0, 128], "compute.gemm_tile.0 = 0"),
                                        ([128, -256], "compute.gemm_tile.1 = -256"),
                                        ([128, 1.5], "compute.gemm_tile.1 = 1.5")])
def test_zero_negative_or_fractional_tile_sizes(tmp_path, tile, shown):
    msg = _error(_write(tmp_path, _set(_doc(), "compute.gemm_tile", tile)))
    assert f"{shown}: must be a whole number between 1 and 65,536 (elements)" in msg


def test_family_defaults_are_bounded_too():
    with pytest.raises(SpecError, match=r"families\.yaml \(x\): gemm_tile\.0 = 0: must be a whole number"):
        validate(FamilyDefaults, {"gemm_tile": [0, 128], "sources": [{"citation": "c"}]}, "families.yaml (x)")
    with pytest.raises(SpecError, match=r"idle_power_fraction_of_tdp = 1\.5: must be a finite number between 0 and 1"):
        validate(FamilyDefaults, {"idle_power_fraction_of_tdp": 1.5, "sources": [{"citation": "c"}]}, "f")


def test_a_range_built_in_python_is_checked_against_the_field_bound():
    from inferchip.spec.chip import Range
    from inferchip.spec.chip_sections import MemorySpec

    ok = MemorySpec(type="HBM3", capacity=Range(low=1, central=2, high=3, derivation="d"), capacity_unit="GiB",
                    bandwidth_tb_per_s=1)
    assert ok.capacity.high == 3
    with pytest.raises(SpecError, match=r"^m: capacity\.high = 3000000000\.0: must be a finite number between"):
        validate(MemorySpec, {"type": "HBM3", "capacity": Range(low=1, central=2, high=3e9, derivation="d"),
                              "capacity_unit": "GiB", "bandwidth_tb_per_s": 1}, "m")


# ---------------------------------------------------------------- cross-field physics


def test_usable_capacity_above_physical_capacity(tmp_path):
    msg = _error(_write(tmp_path, _set(_doc(), "memory.usable_capacity_gib", 81), name="my-chip.yaml"))
    assert "my-chip.yaml: memory.usable_capacity_gib = 81" in msg
    assert "must not exceed the physical capacity memory.capacity = 80 GiB" in msg


def test_die_area_beyond_the_reticle_unless_wafer_scale(tmp_path):
    msg = _error(_write(tmp_path, _set(_doc(), "silicon.die_area_mm2", 900)))
    assert "silicon.die_area_mm2 = 900" in msg and "858 mm2 reticle field" in msg and "wafer_scale" in msg
    ok = _set(_set(_doc(), "silicon.die_area_mm2", 900), "silicon.wafer_scale", True)
    assert load_chip(_write(tmp_path, ok)).silicon.die_area_mm2 == 900
    msg = _error(_write(tmp_path, _set(ok, "silicon.die_area_mm2", 80_000)))  # larger than a 300 mm wafer
    assert "silicon.die_area_mm2 = 80000: must be a finite number between 0 (exclusive) and 70,685.8 (mm2)" in msg
    msg = _error(_write(tmp_path, _set(_doc(), "silicon.wafer_scale", "yes")))
    assert "silicon.wafer_scale = 'yes'" in msg


@pytest.mark.parametrize("chip_id", ["cerebras-wse-3", "nvidia-b200-180gb", "amd-mi300x", "tesla-dojo-training-tile"])
def test_wafer_scale_and_multi_die_catalogue_parts_stay_valid(chip_id):
    spec = load_chip(chip_id)
    area = spec.silicon.die_area_mm2
    central = area.central if hasattr(area, "central") else area
    assert spec.silicon.wafer_scale or central is None or central <= 858
    assert get_chip_params(chip_id).memory_capacity_bytes > 0


def test_idle_power_above_tdp(tmp_path):
    msg = _error(_write(tmp_path, _set(_doc(), "power.idle_w", 800)))
    assert "power.idle_w = 800" in msg and "must not exceed power.tdp_w = 700 W" in msg


@pytest.mark.parametrize("field,value,expected", [
    ("compute", 0, "compute = 0: must be a mapping of fields"),
    ("estimate", 1, "estimate = 1: must be true or false"),
    ("memory.capacity_unit", "Gb",
     "memory.capacity_unit = 'Gb': must be one of 'MB', 'GB', 'TB', 'MiB', 'GiB' or 'TiB'"),
    ("name", "", "name = '': must not be empty"),
    ("sources", [], "sources = []: must have at least 1 item(s)"),
    ("vendor", 7, "vendor = 7: must be text"),
])
def test_wrong_kinds_of_value_are_said_in_the_users_words(tmp_path, field, value, expected):
    msg = _error(_write(tmp_path, _set(_doc(), field, value)))
    assert expected in msg and "Input should" not in msg


# ---------------------------------------------------------------- ids, renamed keys, files


@pytest.mark.parametrize("chip_id,expected", [
    ("", "id = '': must not be empty"),
    ("x" * 256, "must be at most 255 bytes in UTF-8"),
    ("é" * 128, "must be at most 255 bytes in UTF-8"),  # 256 bytes in 128 characters
    ("vendor/chip", "id = 'vendor/chip': must be a file name"),
    ("..", "id = '..': must be a file name"),
])
def test_bad_ids(tmp_path, chip_id, expected):
    assert expected in _error(_write(tmp_path, _set(_doc(), "id", chip_id)))


@pytest.mark.parametrize("old,new,note", [
    ("memory.bandwidth_tbps", "memory.bandwidth_tb_per_s", "TB/s = 1e12 bytes/s"),
    ("interconnect.scaleup_bw_gbps_per_direction", "interconnect.scaleup_bw_gb_per_s_per_direction",
     "GB/s = 1e9 bytes/s"),
])
def test_old_bits_looking_keys_name_their_new_name(tmp_path, old, new, note):
    doc = _doc()
    section, new_key = new.split(".")
    value = doc[section].pop(new_key)
    doc[section][old.split(".")[1]] = value
    msg = _error(_write(tmp_path, doc, name="my-chip.yaml"))
    assert msg == f"{tmp_path / 'my-chip.yaml'}: {old} was renamed to {new} ({note})"


def test_old_family_key_names_its_new_name():
    with pytest.raises(SpecError, match=r"^fam: scaleout_bw_gbps_per_direction was renamed to "
                                        r"scaleout_bw_gb_per_s_per_direction \(GB/s = 1e9 bytes/s\)$"):
        validate(FamilyDefaults, {"scaleout_bw_gbps_per_direction": 50, "sources": [{"citation": "c"}]}, "fam")


def test_duplicate_keys_are_an_error(tmp_path):
    text = (CHIPS / "nvidia-h100-sxm-80gb.yaml").read_text(encoding="utf-8")
    path = _write(tmp_path, text.replace("memory:\n", "memory:\n  capacity: 94\n", 1), name="dup.yaml")
    assert re.search(r"dup\.yaml: key 'capacity' appears twice in one mapping \(line \d+ and line \d+\)", _error(path))
    assert parse_yaml("a: &x {b: 1}\nc:\n  <<: *x\n  b: 2\n", "merge") == {"a": {"b": 1}, "c": {"b": 2}}


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: caf\xe9\n".encode("latin-1"))
    assert "latin1.yaml: not UTF-8 text (byte 0xe9 at offset 7)" in _error(path)


@pytest.mark.parametrize("name,text", [("deep.yaml", "a: " + "[" * 50_000 + "]" * 50_000),
                                       ("deep.json", '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}")])
def test_deeply_nested_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert re.search(rf"{re.escape(name)}: not (valid YAML|a spec)", _error(path))


def test_empty_file(tmp_path):
    assert "empty.yaml: the file is empty" in _error(_write(tmp_path, "", name="empty.yaml"))


# ---------------------------------------------------------------- generated bad input

_FUZZ_BASES = {c: _doc(c) for c in ("nvidia-h100-sxm-80gb", "tesla-ai5", "cerebras-wse-3")}


def _numeric_paths(obj: Any, prefix: str = "") -> list[str]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _numeric_paths(v, f"{prefix}{k}.")]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _numeric_paths(v, f"{prefix}{i}.")]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return [prefix[:-1]]
    return []


_NEVER_VALID = [math.inf, -math.inf, math.nan, -1, -0.5, 1e308, True, False, "abc", 10**400, -(10**30)]
_MAYBE_VALID = [0, 0.0, "", None, [], {}]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_bad_numbers_give_a_clean_error_naming_the_field(tmp_path, data):
    base = data.draw(st.sampled_from(sorted(_FUZZ_BASES)))
    doc = _FUZZ_BASES[base]
    field = data.draw(st.sampled_from(_numeric_paths(doc)))
    value = data.draw(st.sampled_from(_NEVER_VALID))
    path = _write(tmp_path, _set(doc, field, value))
    msg = _error(path)
    assert str(path) in msg and field in msg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_odd_values_anywhere_load_or_give_a_spec_error(tmp_path, data):
    base = data.draw(st.sampled_from(sorted(_FUZZ_BASES)))
    doc = _FUZZ_BASES[base]

    def paths(obj: Any, prefix: str = "") -> list[str]:
        if isinstance(obj, dict):
            return [prefix[:-1]] * bool(prefix) + [p for k, v in obj.items() for p in paths(v, f"{prefix}{k}.")]
        if isinstance(obj, list):
            return [prefix[:-1]] + [p for i, v in enumerate(obj) for p in paths(v, f"{prefix}{i}.")]
        return [prefix[:-1]]

    field = data.draw(st.sampled_from(paths(doc)))
    value = data.draw(st.sampled_from(_NEVER_VALID + _MAYBE_VALID))
    path = _write(tmp_path, _set(doc, field, value))
    try:
        load_chip(path)
        get_chip_params(path)
    except SpecError as exc:
        assert str(path) in str(exc)


# ---------------------------------------------------------------- model configs


def _config(name: str = "meta-llama__Llama-2-70b-hf") -> dict[str, Any]:
    return json.loads((CATALOG / "models" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("key,value,allowed", [
    ("num_hidden_layers", 100_000, "between 1 and 10,000"),
    ("hidden_size", 10**7, "between 1 and 1,000,000"),
    ("vocab_size", 10**9, "between 1 and 10,000,000"),
    ("num_attention_heads", 10**6, "between 1 and 65,536"),
    ("max_position_embeddings", 10**12, "between 1 and 1,000,000,000"),
    ("intermediate_size", 10**400, "between 1 and 10,000,000"),  # the spec's FFN bound, read with the key
    ("num_hidden_layers", True, "between 1 and 10,000"),
    ("hidden_size", 8192.5, "between 1 and 1,000,000"),
])
def test_absurd_model_sizes(key, value, allowed):
    with pytest.raises(SpecError) as exc:
        model_spec_from_config(_config() | {key: value}, "m", "cfg.json")
    msg = str(exc.value)
    assert msg.startswith(f"cfg.json: {key} = ") and allowed in msg


@pytest.mark.parametrize("window,expected", [
    (-4096, "sliding_window = -4096: expected an integer between 1 and"),
    (0, "sliding_window = 0: expected an integer between 1 and"),
    (4096.5, "sliding_window = 4096.5: expected an integer between 1 and"),
    ("4k", "sliding_window = '4k': expected an integer between 1 and"),
    (65536, "sliding_window = 65536: must not exceed the context window max_position_embeddings = 32,768 tokens"),
])
def test_invalid_sliding_window(window, expected):
    with pytest.raises(SpecError) as exc:
        model_spec_from_config(_config("mistralai__Mistral-7B-v0.1") | {"sliding_window": window}, "m", "cfg.json")
    assert str(exc.value).startswith("cfg.json: ") and expected in str(exc.value)


_CONFIG_BASES = {n: _config(n) for n in ("meta-llama__Llama-2-70b-hf", "mistralai__Mixtral-8x7B-v0.1",
                                         "deepseek-ai__DeepSeek-V3", "google__gemma-2-9b")}


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_generated_bad_config_sizes_give_a_clean_error_naming_the_key(data):
    name = data.draw(st.sampled_from(sorted(_CONFIG_BASES)))
    config = _CONFIG_BASES[name]
    keys = sorted(k for k, v in config.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0
                  and not k.endswith("token_id") and k not in ("max_window_layers", "first_k_dense_replace"))
    key = data.draw(st.sampled_from(keys))
    value = data.draw(st.sampled_from([math.inf, math.nan, -1, 0, 1e308, True, "abc", 10**400, 2.5, [], {}]))
    if key in _CORE_KEYS:  # read by every family: always a clean error naming that key
        with pytest.raises(SpecError, match=rf"^cfg\.json: {key} = "):
            model_spec_from_config(config | {key: value}, "m", "cfg.json")
        return
    try:  # a key some family reads, or none: loads, or a clean error naming the file
        model_spec_from_config(config | {key: value}, "m", "cfg.json")
    except SpecError as exc:
        assert str(exc).startswith("cfg.json: ")


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(sorted({"num_hidden_layers", "hidden_size", "vocab_size", "intermediate_size",
                                   "num_attention_heads", "max_position_embeddings"})),
       exponent=st.integers(min_value=10, max_value=300), negative=st.booleans())
def test_a_huge_whole_float_is_shown_as_written(key, exponent, negative):
    """newuser40: ``"sliding_window": 1e+30`` was shown as 'an integer of thousands of digits' (the float, whole, was
    turned into an int of 31 digits first); a config's value is shown as the file gives it."""
    value = (-1.0 if negative else 1.0) * 10.0**exponent
    with pytest.raises(SpecError) as exc:
        model_spec_from_config(_config() | {key: value}, "m", "cfg.json")
    assert str(exc.value).startswith(f"cfg.json: {key} = {value!r}: expected an integer between"), str(exc.value)


def test_a_huge_integer_is_shown_by_its_digits():
    with pytest.raises(SpecError, match=r"^cfg\.json: hidden_size = an integer of 31 digits: expected"):
        model_spec_from_config(_config() | {"hidden_size": 10**30}, "m", "cfg.json")
    with pytest.raises(SpecError, match=r"^cfg\.json: hidden_size = an integer of 400 digits: expected"):
        model_spec_from_config(_config() | {"hidden_size": -(10**399)}, "m", "cfg.json")
    with pytest.raises(SpecError, match=r"^cfg\.json: hidden_size = an integer of about 41\d\d digits: expected"):
        model_spec_from_config(_config() | {"hidden_size": 10**4100}, "m", "cfg.json")


_CORE_KEYS = {"num_hidden_layers", "hidden_size", "vocab_size", "num_attention_heads", "num_key_value_heads",
              "intermediate_size", "max_position_embeddings"}


def test_model_context_window_is_exposed_and_checked():
    spec = load_model("mistralai/Mistral-7B-v0.1")
    assert spec.max_context_tokens == 32768
    spec.check_context(32768)
    with pytest.raises(InvalidSettingError, match=r"input \+ output tokens = 32,769 is beyond the context window"):
        spec.check_context(32769)
    no_key = spec.model_copy(update={"max_position_embeddings": None})  # a config that states none: nothing to check
    assert no_key.max_context_tokens is None
    no_key.check_context(10**6)


def test_model_config_file_errors_name_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_config() | {"num_key_value_heads": -8}), encoding="utf-8")
    with pytest.raises(SpecError, match=r"config\.json: num_key_value_heads = -8: expected an integer between 1"):
        load_model(path)


# ---------------------------------------------------------------- one capacity table, one percent


def test_capacity_table_means_what_the_unit_says():
    assert capacity_bytes(80, "GiB") == 80 * 2**30 == 80 * GIB
    assert capacity_bytes(80, "GB") == 80e9
    assert capacity_bytes(230, "MB") == 230e6 and capacity_bytes(52, "MiB") == 52 * 2**20
    assert set(CAPACITY_UNIT_BYTES) == {"MB", "GB", "TB", "MiB", "GiB", "TiB"}
    with pytest.raises(KeyError):
        capacity_bytes(1, "Gb")


def test_usable_and_physical_capacity_keep_their_sources():
    from inferchip.catalog.chips import family_defaults
    from inferchip.spec.chip import memory_capacity

    b200 = load_chip("nvidia-b200-180gb")
    cap = memory_capacity(b200, family_defaults(b200.family))
    assert (cap.physical_bytes, cap.usable_bytes) == (180 * GIB, 179 * GIB)
    assert "180 GiB" in cap.physical_source and "runtime figure" in cap.usable_source
    h100 = load_chip("nvidia-h100-sxm-80gb")
    cap = memory_capacity(h100, family_defaults(h100.family))
    assert cap.usable_bytes == 78 * GIB and "runtime reserve 2 GiB" in cap.usable_source
    assert load_chip("groq-lpu-v1").memory.off_chip_gib() == 0.0  # MB-class on-die SRAM has no DRAM to buy
    assert h100.memory.off_chip_gib() == 80.0


def test_percent():
    assert percent(0.25) == 25.0 and percent(1) == 100.0
    assert percent_error(110.0, 100.0) == pytest.approx(10.0) and percent_error(90.0, 100.0) == pytest.approx(-10.0)
