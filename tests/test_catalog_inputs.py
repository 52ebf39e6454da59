"""Catalogue inputs the file system or the parser cannot take: clear errors, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inferchip.atomic_io import write_text
from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.calibration_file import load_calibration, save_calibration
from inferchip.catalog.chips import load_chip
from inferchip.catalog.models import load_model
from inferchip.errors import OutputError, SpecError, UnknownIdError


@pytest.mark.parametrize("loader, kind", [(load_chip, "chip"), (load_model, "model")])
def test_an_id_longer_than_a_file_name_is_an_unknown_id(loader, kind):
    with pytest.raises(UnknownIdError, match=f"unknown {kind}"):
        loader("x" * 300)


def test_a_path_longer_than_a_file_name_is_a_missing_file():
    with pytest.raises(SpecError, match="no such chip file"):
        load_chip("folder/" + "x" * 300 + ".yaml")


@pytest.mark.parametrize("loader, kind", [(load_chip, "chip"), (load_model, "model")])
def test_a_folder_or_a_device_given_as_a_file_says_what_it_is(tmp_path: Path, loader, kind):
    """A folder given as a chip or a model (without a config.json in it) and a device such as /dev/null were
    reported as "no such chip file" or "unknown model '/tmp'", though the path is there (stop 36)."""
    with pytest.raises(SpecError, match="a folder") as info:
        loader(str(tmp_path))
    assert str(tmp_path) in str(info.value) and "allowed:" in str(info.value)
    if os.path.exists(os.devnull):
        with pytest.raises(SpecError, match="not a regular file.*allowed:"):
            loader(os.devnull)


def test_a_folder_a_device_or_a_json_given_as_a_vision_network_says_what_it_is(tmp_path: Path):
    from inferchip.catalog.vision_networks import load_network_spec

    (tmp_path / "net.json").write_text("{}")
    for given, what in ((str(tmp_path), "a folder"), (os.devnull, "not a regular file"),
                        (str(tmp_path / "net.json"), "not a network file")):
        if not os.path.exists(given):
            continue
        with pytest.raises(SpecError, match=what) as info:
            load_network_spec(given)
        assert "allowed: a vision network id" in str(info.value) and given in str(info.value)
    with pytest.raises(UnknownIdError, match="unknown vision network 'resnet50'"):
        load_network_spec("resnet50")


def test_a_checkpoint_folder_with_its_config_is_read(tmp_path: Path):
    src = Path(__file__).parents[1] / "src/inferchip/catalog/models/meta-llama__Llama-3.1-8B.json"
    (tmp_path / "config.json").write_text(src.read_text())
    assert load_model(str(tmp_path)).num_layers == load_model("meta-llama/Llama-3.1-8B").num_layers


def test_broken_yaml_is_one_line_with_its_line_and_column(tmp_path: Path):
    bad = tmp_path / "a.yaml"
    bad.write_text("energy:\n  x: [\n")
    with pytest.raises(SpecError) as info:
        load_assumptions(str(bad))
    text = str(info.value)
    assert "\n" not in text
    assert str(bad) in text and "not valid YAML" in text and "line 3" in text


def test_falcon_without_a_context_key_takes_the_transformers_default():
    assert load_model("tiiuae/falcon-40b").max_context_tokens == 2048


def test_calibration_is_written_atomically_and_reads_back(tmp_path: Path):
    cal = load_calibration(None)
    out = tmp_path / "cal.yaml"
    save_calibration(cal, out)
    assert load_calibration(str(out)) == cal
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.yaml"]  # no temporary file left


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def full_device(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_device)
    with pytest.raises(OutputError, match="No space left on device"):
        write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("text, field", [("gemm_compute_fraction: true\n", "gemm_compute_fraction"),
                                         ("memory_bandwidth_fraction: .nan\n", "memory_bandwidth_fraction"),
                                         ("step_overhead_s: 5\n", "step_overhead_s"),
                                         ("moe_imbalance: 0.5\n", "moe_imbalance")])
def test_a_calibration_file_outside_its_physical_bounds_is_refused(tmp_path: Path, text: str, field: str):
    path = tmp_path / "cal.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=field):
        load_calibration(str(path))
