"""A chip architect's own chip file, before silicon (branch architect50, stop 50): the defects of the tour, each with
a test that failed before its fix.

1. ``silicon.memory_stacks`` was taken as stated however few: 2 stacks for 216 GiB of HBM3E at 7.2 TB/s (108 GiB and
   3.6 TB/s a stack, three times the largest and fastest HBM3E stack announced) drew an interposer of 1,802 mm2
   where the 6 stacks the memory needs take 2,286; and ``memory.type: HBM3e (6 stacks)`` beside
   ``memory_stacks: 2`` was read as 2 without a word.
2. ``explore --target aurora.yaml`` named the chip by its path ("smallest changes that make aurora.yaml first",
   "note: aurora.yaml: ...", the page's title), not its id; and its table (11 columns) and the search's winners were
   174 columns wide in a pipe, where predict's and cost's keep to 100.
3. A chip file's left-out fields took their family's defaults (idle 15 % of TDP, a 50 GB/s NIC, 5 us a hop) or
   chip_params' rule (128 matrix units, 1/16 of the peak as vector rate, no scale-up domain) without a word.
4. A design space's left-out parameters (18 links of 25 GB/s, 8 chips a board, HBM3, 5 nm) were not named.
5. ``gemm_tile: [128]`` was told "compute.gemm_tile.1 is missing": neither the list's value nor its length.
"""

from __future__ import annotations

import math
import re

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cli_in_process import run_main
from explore_run import explore_page
from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import load_chip
from inferchip.cost.chip_cost import STACK_FIGURE_ROUNDING, chip_cost, hbm_stacks
from inferchip.errors import InvalidSettingError
from user_chip import AURORA

A = load_assumptions()



def _write(tmp_path, data: dict, name: str = "aurora.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def _aurora(**silicon_and_memory) -> dict:
    data = yaml.safe_load(yaml.safe_dump(AURORA))  # a deep copy
    for key, value in silicon_and_memory.items():
        section, field = key.split("__")
        if value is None:
            data[section].pop(field, None)
        else:
            data[section][field] = value
    return data


# ------------------------------------------------------------------ 1. a stated HBM stack count
def test_the_architects_chip_costs_with_its_six_stated_stacks(tmp_path):
    code, out = run_main(["cost", "--chip", _write(tmp_path, AURORA)])
    assert code == 0, out
    assert "2 x 780 mm2 + 6 HBM stacks x 121 mm2" in out


def test_two_stacks_for_216_gib_of_hbm3e_are_refused_naming_field_value_and_the_fewest_allowed(tmp_path):
    data = _aurora(silicon__memory_stacks=2, memory__type="HBM3e")
    code, out = run_main(["cost", "--chip", _write(tmp_path, data)])
    assert code == 2, out
    assert "silicon.memory_stacks = 2 stacks: too few" in out
    assert "need 6 to hold memory.capacity (stacks of 36 GiB, silicon.hbm_stack_gib)" in out
    assert "allowed: at least 6 stacks, or a smaller memory.capacity" in out
    assert "interposer area" not in out  # no half-priced package


def test_too_few_stacks_for_the_bandwidth_name_the_bandwidth(tmp_path):
    data = _aurora(silicon__memory_stacks=6, memory__type="HBM3e", memory__bandwidth_tb_per_s=10.0)
    code, out = run_main(["cost", "--chip", _write(tmp_path, data)])
    assert code == 2, out
    assert "need 8 to carry memory.bandwidth_tb_per_s (stacks of 1.28 TB/s" in out  # 10 / (1.28 x 1.01) = 7.7
    assert "allowed: at least 8 stacks, or a smaller memory.bandwidth_tb_per_s" in out


def test_the_stated_count_and_the_memory_text_disagreeing_is_refused(tmp_path):
    code, out = run_main(["cost", "--chip", _write(tmp_path, _aurora(silicon__memory_stacks=8))])
    assert code == 2, out
    assert "silicon.memory_stacks = 8 but memory.type 'HBM3e (6 stacks)' says 6" in out
    assert "allowed: one count" in out


@settings(max_examples=80, deadline=None)
@given(stacks=st.integers(1, 24), gib=st.floats(8.0, 800.0), tb_s=st.floats(0.5, 25.0))
@example(stacks=2, gib=216.0, tb_s=7.2)
def test_a_stated_count_is_taken_exactly_when_it_holds_the_capacity_and_carries_the_rate(stacks, gib, tb_s):
    spec = load_chip("nvidia-h100-sxm-80gb")
    mem = spec.memory.model_copy(update={"type": "HBM3E", "memory_type": "hbm3e", "capacity": gib,
                                         "bandwidth_tb_per_s": tb_s, "measured_bandwidth": None,
                                         "usable_capacity_gib": None})
    spec = spec.model_copy(update={"memory": mem, "silicon": spec.silicon.model_copy(
        update={"memory_stacks": stacks})})
    per_gib, per_tb = A.table("silicon.hbm_stack_gib")["hbm3e"], A.table("silicon.hbm_stack_tb_per_s")["hbm3e"]
    holds = stacks * per_gib >= gib * (1 - 1e-9) - 1e-9 * per_gib
    carries = stacks * per_tb * (1 + STACK_FIGURE_ROUNDING) >= tb_s or math.ceil(
        tb_s / (per_tb * (1 + STACK_FIGURE_ROUNDING))) <= stacks
    if holds and carries:
        count = hbm_stacks(spec, assumptions=A)
        assert count.stated and count.stacks == stacks
    else:
        with pytest.raises(InvalidSettingError, match=f"silicon.memory_stacks = {stacks} stacks: too few"):
            hbm_stacks(spec, assumptions=A)
        with pytest.raises(InvalidSettingError):
            chip_cost(spec, A)


# ------------------------------------------------------------------ 2. explore names the chip; its tables in a pipe
TABLE_EDGES = "┏┃┡│└┌├"  # the characters a rich table's lines start with
L8 = "meta-llama/Llama-3.1-8B-Instruct"


def _table_width(text: str) -> int:
    return max(len(line) for line in text.splitlines() if line[:1] in TABLE_EDGES)


def test_beat_names_the_chip_file_by_its_id_and_its_table_fits_100_columns_in_a_pipe(tmp_path):
    path = _write(tmp_path, AURORA, "my-design.yaml")
    out_dir = tmp_path / "beat"
    code, out = run_main(["explore", "--target", path, "--beat", "nvidia-b200-180gb,amd-mi355x", "--models", L8,
                          "--parts", "per_chip,equal_money,performance_per_watt", "--out", str(out_dir)])
    assert code == 0, out
    assert "smallest changes that make aurora-1 first against nvidia-b200-180gb, amd-mi355x" in out
    assert "my-design.yaml" not in out.replace(str(out_dir), "")
    assert _table_width(out) <= 100
    for row in ("compute x", "memory x", "links x", "target after", "best rival", "extra area mm2", "cost $"):
        assert any(line.startswith(f"│ {row} ") for line in out.splitlines()), row
    assert (out_dir / "beat.html").read_text(encoding="utf-8").count("aurora-1 against") == 1


def test_a_chip_file_that_takes_a_catalogue_id_is_named_with_its_file(tmp_path):
    from inferchip.explore.beat import chip_label

    data = {**AURORA, "id": "nvidia-h100-sxm-80gb"}
    assert chip_label(_write(tmp_path, data, "copy.yaml")) == "nvidia-h100-sxm-80gb (copy.yaml)"
    assert chip_label("nvidia-h100-sxm-80gb") == "nvidia-h100-sxm-80gb"


def test_the_search_winners_fit_100_columns_in_a_pipe_with_every_number_whole(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("name: t\nmax_dies: 2\nparameters:\n  matrix_units: [128, 1024]\n  matrix_unit_dim: [64, 128]\n"
                     "  memory_units: [4, 8]\n  memory_type: [hbm3e, lpddr5x]\n  formats: [bf16+fp8, bf16+fp8+fp4]\n")
    code, out = run_main(["explore", str(space), "--out", str(tmp_path / "run"), "--budget", "16", "--no-page",
                          "--workers", "1", "--models", L8])
    assert code == 0, out
    table = out[out.index("best design on each objective"):]
    assert _table_width(table) <= 100 and "…" not in table
    assert re.search(r"│ +(1,024|128) x (64|128)\^2 │", table)  # each design's MACs whole on one line
    assert "bf16+fp8" in table and ("x hbm3e" in table or "x lpddr5x" in table)


# ------------------------------------------------------------------ 3. the defaults a chip file's left-out fields take
OPTIONAL = {  # field left out -> what the note says it takes (the Aurora file, generic family)
    ("compute", "matrix_unit_count"): "compute.matrix_unit_count: 128 matrix units",
    ("compute", "vector_tflops"): "compute.vector_tflops: 500 TFLOP/s (1/16 of the largest dense peak)",
    ("interconnect", "max_scaleup_domain"): "interconnect.max_scaleup_domain: 1",
    ("interconnect", "scaleup_latency_us"): "interconnect.scaleup_latency_us: 5 us a hop",
    ("interconnect", "scaleout_bw_gb_per_s_per_direction"): "interconnect.scaleout_bw_gb_per_s_per_direction: 50 GB/s",
    ("power", "idle_w"): "power.idle_w: 15% of power.tdp_w = 135 W",
    ("memory", "usable_capacity_gib"): "memory.usable_capacity_gib: the capacity less a 2 GiB runtime reserve",
}
STATED = {("interconnect", "scaleup_latency_us"): 2.0, ("interconnect", "scaleout_bw_gb_per_s_per_direction"): 100.0,
          ("power", "idle_w"): 90.0, ("memory", "usable_capacity_gib"): 210.0,
          ("interconnect", "scaleup_direct_all_reduce"): True, ("compute", "gemm_tile"): [128, 128],
          ("compute", "gemm_tiles_in_flight"): 256}


def _left_out_note(tmp_path, data: dict) -> str | None:
    code, out = run_main(["predict", "--chip", _write(tmp_path, data), "--model", L8, "--batch", "1",
                          "--input-tokens", "128", "--output-tokens", "8", "--format", "json"])
    assert code == 0, out
    import json

    notes = [n for n in json.loads(out)["notes"] if "left out of the chip file" in n]
    assert len(notes) <= 1
    return notes[0] if notes else None


def test_predict_on_the_architects_file_says_what_its_left_out_fields_take(tmp_path):
    note = _left_out_note(tmp_path, AURORA)
    assert note is not None and note.startswith("aurora-1: left out of the chip file, so taken from the generic "
                                                "family's defaults (an inferchip assumption)")
    for text in ("power.idle_w: 15% of power.tdp_w = 135 W", "interconnect.scaleup_latency_us: 5 us a hop",
                 "interconnect.scaleout_bw_gb_per_s_per_direction: 50 GB/s", "compute.gemm_tiles_in_flight: 256"):
        assert text in note
    assert "matrix_unit_count" not in note and "max_scaleup_domain" not in note  # stated in the file


def test_a_catalogue_chip_gets_no_such_note():
    code, out = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L8, "--batch", "1",
                          "--input-tokens", "128", "--output-tokens", "8"])
    assert code == 0, out
    assert "left out of the chip file" not in out


def _full() -> dict:
    data = yaml.safe_load(yaml.safe_dump(AURORA))
    for (section, field), value in STATED.items():
        data[section][field] = value
    return data


@settings(max_examples=12, deadline=None)
@given(st.sets(st.sampled_from(sorted(OPTIONAL))))
@example(set())
@example(set(OPTIONAL))
def test_the_note_names_exactly_the_fields_left_out(tmp_path_factory, dropped):
    data = _full()
    for section, field in dropped:
        data[section].pop(field, None)
    note = _left_out_note(tmp_path_factory.mktemp("chip"), data)
    if not dropped:
        assert note is None
        return
    assert note is not None
    for key, text in OPTIONAL.items():
        assert (text in note) == (key in dropped), (key, note)


# ------------------------------------------------------------------ 4. explore names the parameters it defaulted
def test_the_search_names_the_parameters_the_space_leaves_out_with_their_values(tmp_path):
    """A space without links searched every design with 18 links of 25 GB/s (an H100's NVLink), said only by the
    winners' 'links x GB/s 18 x 25' row."""
    space = tmp_path / "space.yaml"
    space.write_text("name: t\nparameters:\n  matrix_units: [128, 256]\n  memory_type: [hbm3e]\n")
    code, out = run_main(["explore", str(space), "--out", str(tmp_path / "run"), "--budget", "2", "--no-page",
                          "--workers", "1", "--models", L8])
    assert code == 0, out
    flat = " ".join(out.split())  # the line wraps at 100 columns in a pipe (reviewchip50): read back as one
    line = flat[flat.index("not in the space file, so at one default each"):].split(" feasible:")[0]
    for text in ("matrix_unit_dim 32", "clock_ghz 1.8", "sram_mb 80", "link_count 18", "link_gb_per_s 25",
                 "node_nm 5", "chips_per_board 8", "memory_units 5", "formats bf16+fp8"):
        assert text in line
    assert "matrix_units" not in line and "memory_type" not in line


@settings(max_examples=25, deadline=None)
@given(st.sets(st.sampled_from(["matrix_units", "clock_ghz", "sram_mb", "link_count", "node_nm", "formats"])))
def test_the_defaulted_parameters_are_exactly_those_the_file_leaves_out(given_names):
    from inferchip.spec.design_space import DEFAULTS, PARAMETERS, DesignSpace

    values = {"formats": ["bf16"], "matrix_units": [64], "clock_ghz": [1.0], "sram_mb": [16.0], "link_count": [4],
              "node_nm": [3.0]}
    space = DesignSpace.from_dict({"parameters": {k: values[k] for k in given_names}})
    assert set(space.defaulted) == set(PARAMETERS) - set(given_names)
    line = space.defaults_line()
    assert (line is None) == (not space.defaulted)
    for p in space.defaulted:
        assert space.values[p] == [DEFAULTS[p]] and f" {p} " in f" {line.split(': ', 1)[1].replace(',', ' ')} "


# ------------------------------------------------------------------ 5. a fixed-length list short of items
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4096), max_size=4))
@example([128])
@example([])
def test_a_gemm_tile_of_the_wrong_length_names_the_list_its_value_and_the_two_it_takes(tmp_path_factory, tile):
    """``gemm_tile: [128]`` was told "compute.gemm_tile.1 is missing: this field is required": no value, no length,
    and ``[]`` "missing 0 and 1 (required fields of it)", as if 0 and 1 were keys."""
    from inferchip.errors import SpecError

    data = _aurora(compute__gemm_tile=tile)
    path = _write(tmp_path_factory.mktemp("chip"), data)
    if len(tile) == 2:
        assert load_chip(path).compute.gemm_tile == tuple(tile)
        return
    with pytest.raises(SpecError) as err:
        load_chip(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: compute.gemm_tile = {tile}: ")
    if len(tile) < 2:
        assert "needs 2 values in order; allowed: a list of 2 (Output tile (M, N)" in msg
        assert "is missing" not in msg and "required fields of it" not in msg
    else:
        assert "must have at most 2 item(s)" in msg


# ------------------------------------------------------------------ 6. the Pareto page's axes
def test_the_pareto_page_leaves_designs_that_serve_nothing_off_its_log_axes_and_counts_them(tmp_path):
    """A design serving none of the suite's workloads sits at the floor (1e-06 tok/s, 1,000 s): drawn, it stretched
    every log axis over ten decades and pressed the real designs and chips into a corner."""
    import json

    # 4 MACs a unit on lpddr: designs too slow or too small to serve anything
    page = explore_page(tmp_path, "name: t\nparameters:\n  matrix_units: [1, 512]\n  matrix_unit_dim: [4, 64]\n"
                        "  memory_type: [lpddr5x, hbm3e]\n  memory_units: [1, 8]\n", 16, L8)
    figures = [json.loads(m) for m in re.findall(r'Plotly\.newPlot\(\s*"pair\d+",\s*(\[.*?\]),\s*\{', page, re.S)]
    assert figures, "no pair charts found"
    floors = {1e-06, 1e6}  # tok/s (and per W, per $) floor; 1,000 s drawn in ms
    for traces in figures:
        for t in traces:
            assert not floors & {round(v, 12) for v in (*t["x"], *t["y"])}, t["name"]
    assert "off the axes: they serve none of the workloads" in page
