"""``catalog/alias_checkpoints.csv`` is read by one reader (``catalog.models.alias_checkpoints``): one frozen
record per row, checked once, used by the formats (``checkpoint_weights``, ``attention_weight_format``) and by the
aliases the catalogue adds (``catalog.models``); a bad row is refused naming the file, the line, the column and the
value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from inferchip.catalog import checkpoints, models
from inferchip.errors import SpecError

HEADER = "alias,same_architecture_as,weights,attention_weights,source\n"
LISTED = "Qwen/Qwen3-235B-A22B-FP8"  # an alias of aliases.csv
BASE = "deepseek-ai/DeepSeek-R1"  # a bundled id


@pytest.fixture
def csv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write rows to a stand-in alias_checkpoints.csv; the readers' caches are cleared before and after."""
    path = tmp_path / "alias_checkpoints.csv"

    def write(rows: str) -> None:
        path.write_text(HEADER + rows, encoding="utf-8")
        models.alias_checkpoints.cache_clear()
        models._aliases.cache_clear()

    monkeypatch.setattr(models, "_ALIAS_CSV", path)
    yield write
    models.alias_checkpoints.cache_clear()
    models._aliases.cache_clear()


def test_one_frozen_record_per_row_serves_both_readers():
    rows = models.alias_checkpoints()
    r1 = rows["meta-llama/Llama-3.1-405B-Instruct-FP8"]
    assert (r1.same_architecture_as, r1.weights, r1.attention_weights) == (None, "fp8", "bf16")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r1.weights = "bf16"  # type: ignore[misc]
    added = rows["nvidia/DeepSeek-R1-0528-FP4-v2"]
    assert added.same_architecture_as == BASE and added.weights == "fp4"
    assert models.resolve_alias(added.alias) == BASE  # the catalogue's alias, from the same record
    assert checkpoints.checkpoint_weights(added.alias).format == "fp4"
    assert checkpoints.attention_weight_format(r1.alias, "fp8") == "bf16"


@pytest.mark.parametrize(("rows", "column", "value"), [
    (f"{LISTED},,fp9,,a source\n", "weights", "fp9"),
    (f"{LISTED},,fp8,int3,a source\n", "attention_weights", "int3"),
    (f"{LISTED},,fp8,,\n", "source", ""),
    ("org/not-an-alias,,fp8,,a source\n", "alias", "org/not-an-alias"),
    (f"org/new-fp4,{LISTED},fp4,,a source\n", "same_architecture_as", LISTED),  # not a bundled id
    (f"{LISTED},{BASE},fp8,,a source\n", "same_architecture_as", BASE),  # an alias aliases.csv lists already
    (f"{LISTED},,fp8,,a source\n{LISTED},,fp8,,again\n", "alias", LISTED),  # twice
])
def test_a_bad_row_names_the_file_line_column_and_value(csv_file, rows: str, column: str, value: str):
    csv_file(rows)
    with pytest.raises(SpecError) as err:
        models.alias_checkpoints()
    line = 2 + rows.count("\n") - 1  # the last row written is the bad one
    assert f"catalog/alias_checkpoints.csv: line {line}: column {column} = {value!r}: expected" in str(err.value)


def test_a_missing_column_is_named(csv_file, tmp_path: Path):
    csv_file("")
    (tmp_path / "alias_checkpoints.csv").write_text("alias,weights,source\n", encoding="utf-8")
    with pytest.raises(SpecError, match="header: no column same_architecture_as, attention_weights"):
        models.alias_checkpoints()


def test_a_good_file_adds_its_aliases(csv_file):
    csv_file(f"org/new-fp4,{BASE},fp4,,a source\n{LISTED},,fp8,,another\n")
    assert models.resolve_alias("org/new-fp4") == BASE
    assert checkpoints.checkpoint_weights("org/new-fp4").format == "fp4"
    assert checkpoints.checkpoint_weights(LISTED).source.startswith(f"checkpoint {LISTED}: another")
