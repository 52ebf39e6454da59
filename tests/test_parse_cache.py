"""The cache of parsed shipped YAML (inferchip.catalog.parse_cache): a hit gives exactly what a
parse gives, and only a hit on the very same bytes is used; user files are never cached."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from inferchip.catalog import parse_cache, yaml_io
from inferchip.errors import SpecError

SHIPPED = ["assumptions.yaml", "families.yaml", "calibration.yaml", "chips/nvidia-h100-sxm-80gb.yaml"]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(parse_cache.ENV, str(root))
    return root


@pytest.fixture
def catalog(tmp_path, monkeypatch) -> Path:
    """A stand-in for the package's catalogue folder whose files a test may edit."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    monkeypatch.setattr(parse_cache, "CATALOG_DIR", Path(os.path.realpath(folder)))
    return folder


def _no_parse(monkeypatch) -> None:
    def refuse(text: str, where: str) -> object:
        raise AssertionError(f"{where} was parsed, not read from the cache")

    monkeypatch.setattr(yaml_io, "parse_yaml", refuse)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_hit_gives_exactly_what_the_parse_gave(cache, monkeypatch, name):
    path = parse_cache.CATALOG_DIR / name
    parsed = yaml_io.read_mapping(path)
    assert parse_cache.entry_path(path) is not None and parse_cache.entry_path(path).is_file()
    _no_parse(monkeypatch)
    again = yaml_io.read_mapping(path)
    assert again == parsed
    assert again is not parsed  # a fresh object each time: a caller may change what it gets


def test_shared_anchors_stay_shared(cache, catalog):
    path = catalog / "anchors.yaml"
    path.write_text("x: &s {a: 1}\nfirst: *s\nsecond: *s\n")
    parsed = yaml_io.read_mapping(path)
    cached = yaml_io.read_mapping(path)
    assert cached == parsed
    assert (cached["first"] is cached["second"]) == (parsed["first"] is parsed["second"])


def test_an_edited_file_is_parsed_again_and_its_entry_replaced(cache, catalog, monkeypatch):
    path = catalog / "x.yaml"
    path.write_text("a: 1\n")
    assert yaml_io.read_mapping(path) == {"a": 1}
    entries = list(cache.rglob("*.marshal"))
    path.write_text("a: 2\n")  # the same size, possibly the same modification time: only the bytes differ
    assert yaml_io.read_mapping(path) == {"a": 2}
    assert list(cache.rglob("*.marshal")) == entries  # one entry per file, overwritten
    _no_parse(monkeypatch)
    assert yaml_io.read_mapping(path) == {"a": 2}


def test_an_entry_of_other_bytes_or_another_pyyaml_is_stale(cache, catalog, monkeypatch):
    path = catalog / "x.yaml"
    path.write_text("a: 1\n")
    yaml_io.read_mapping(path)
    assert parse_cache.load(path, b"a: 1\n") == {"a": 1}
    assert parse_cache.load(path, b"a: 3\n") is None
    with monkeypatch.context() as m:
        m.setattr(parse_cache, "_yaml_identity", lambda: "another PyYAML")
        assert parse_cache.load(path, b"a: 1\n") is None
    with monkeypatch.context() as m:
        m.setattr(parse_cache, "FORMAT", parse_cache.FORMAT + 1)
        assert parse_cache.load(path, b"a: 1\n") is None
    assert parse_cache.load(path, b"a: 1\n") == {"a": 1}


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "foreign", "folder"])
def test_a_damaged_entry_is_ignored(cache, catalog, damage):
    path = catalog / "x.yaml"
    path.write_text("a: [1, 2]\nb: {c: text}\n")
    expected = yaml_io.read_mapping(path)
    entry = parse_cache.entry_path(path)
    blob = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(blob[: len(blob) - 5])
    elif damage == "flip":
        entry.write_bytes(blob[:-3] + bytes([blob[-3] ^ 0xFF]) + blob[-2:])
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "foreign":
        entry.write_bytes(b"\x00" * 200)
    else:
        entry.unlink()
        entry.mkdir()
    assert parse_cache.load(path, path.read_bytes()) is None
    assert yaml_io.read_mapping(path) == expected


def test_a_user_file_is_never_cached(cache, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("a: 1\n")
    assert parse_cache.entry_path(path) is None
    assert yaml_io.read_mapping(path) == {"a": 1}
    assert not cache.exists()


def test_errors_are_the_same_and_nothing_is_cached(cache, catalog):
    path = catalog / "dup.yaml"
    path.write_text("a: 1\na: 2\n")
    for _ in range(2):
        with pytest.raises(SpecError, match="key 'a' appears twice"):
            yaml_io.read_mapping(path)
    assert not list(cache.rglob("*.marshal"))


def test_data_marshal_cannot_keep_exactly_is_not_cached(cache, catalog):
    path = catalog / "dates.yaml"
    path.write_text("when: 2024-05-01\nset: !!set {a, b}\n")
    first = yaml_io.read_mapping(path)
    assert not list(cache.rglob("*.marshal"))
    assert yaml_io.read_mapping(path) == first


def test_no_cache_folder_or_an_unwritable_one(tmp_path, catalog, monkeypatch):
    path = catalog / "x.yaml"
    path.write_text("a: 1\n")
    monkeypatch.setenv(parse_cache.ENV, "")
    assert parse_cache.cache_dir() is None and parse_cache.entry_path(path) is None
    assert yaml_io.read_mapping(path) == {"a": 1}
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(parse_cache.ENV, str(blocker / "cache"))  # cannot be created
    assert yaml_io.read_mapping(path) == {"a": 1}
    assert blocker.read_text() == "not a folder"


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(parse_cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert parse_cache.cache_dir() == tmp_path / "inferchip"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parse_cache.cache_dir() == tmp_path / "home" / ".cache" / "inferchip"


def test_a_predict_from_the_cache_does_not_import_pyyaml(cache, tmp_path):
    import subprocess
    import sys

    code = ("import sys; from inferchip.performance.predict import predict; "
            "p = predict('nvidia-h100-sxm-80gb', 'meta-llama/Llama-3.1-8B', batch=1, input_tokens=128, "
            "output_tokens=8); print(p.ttft_s, 'yaml' in sys.modules)")
    env = dict(os.environ, **{parse_cache.ENV: str(cache)})
    first, second = (subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout.split() for _ in range(2))
    assert first == [first[0], "True"] and second == [first[0], "False"]
    shutil.rmtree(cache)


def test_two_installations_keep_their_own_entries(cache, tmp_path, monkeypatch):
    first, second = tmp_path / "one", tmp_path / "two"
    for folder in (first, second):
        folder.mkdir()
        (folder / "x.yaml").write_text(f"where: {folder.name}\n")
    entries = []
    for folder in (first, second):
        monkeypatch.setattr(parse_cache, "CATALOG_DIR", Path(os.path.realpath(folder)))
        assert yaml_io.read_mapping(folder / "x.yaml") == {"where": folder.name}
        entries.append(parse_cache.entry_path(folder / "x.yaml"))
    assert entries[0] != entries[1] and all(e.is_file() for e in entries)
