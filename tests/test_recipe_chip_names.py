"""A recipe entry's ``accelerator`` fragment names whole parts of a chip id: "b200" is the B200's part, not a
piece of "gb200"; "h200" is not a piece of "gh200" (review37b L1: a B200 launch recipe would otherwise reach a
GB200 row, an H200 one a GH200 row)."""

from inferchip.catalog.engines import get_engine
from inferchip.spec.engine import ChipRecipe
from inferchip.spec.engine.workers import FirstUseWait, RunLength, first_use_wait_s, names_chip, run_length


def test_names_chip_by_whole_parts():
    assert names_chip("b200", "nvidia-b200-180gb") and not names_chip("b200", "nvidia-gb200-186gb")
    assert names_chip("h200", "nvidia-h200-sxm-141gb") and not names_chip("h200", "nvidia-gh200-144gb")
    assert names_chip("gb200", "nvidia-gb200-186gb") and names_chip("mi355x", "amd-mi355x")
    assert names_chip("h100-sxm", "nvidia-h100-sxm-80gb") and not names_chip("h100-s", "nvidia-h100-sxm-80gb")
    assert names_chip("", "anything")  # blank: every chip


def test_chip_recipes_and_worker_records_use_whole_parts():
    r = ChipRecipe(accelerator="b200")
    assert r.on_chip("nvidia-b200-180gb", "fp8") and not r.on_chip("nvidia-gb200-186gb", "fp8")
    runs = [RunLength(software="sglang", accelerator="b200", prompts_per_client=7)]
    kw = dict(software="sglang", model="deepseek-ai/deepseek-r1", output_tokens=1024, disaggregated=False)
    assert run_length(runs, accelerator="nvidia-b200-180gb", **kw) == 7
    assert run_length(runs, accelerator="nvidia-gb200-186gb", **kw) is None
    waits = [FirstUseWait(accelerator="h200", batch_tokens_above=1024, wait_s=5.0)]
    kw2 = dict(weights="fp8", disaggregated=False, warmup_prompt_tokens=512, first_batch_tokens=4096)
    assert first_use_wait_s(waits, accelerator="nvidia-h200-sxm-141gb", **kw2) == 5.0
    assert first_use_wait_s(waits, accelerator="nvidia-gh200-144gb", **kw2) == 0.0


def test_shipped_sglang_b200_poll_interval_does_not_reach_gb200():
    """The B200 SGLang recipes poll every 10 / 30 decode steps; a GB200 SGLang worker keeps the default poll."""
    sgl = get_engine("sglang")
    assert sgl.recv_interval_steps(64, "nvidia-b200-180gb") == 30
    assert sgl.recv_interval_steps(64, "nvidia-gb200-186gb") == sgl.recv_interval_steps(64, "nvidia-h100-sxm-80gb")


def test_a_chip_recipe_entry_an_earlier_entry_shadows_is_refused(tmp_path):
    """recipe_moe_kernel is read by chip and weights alone (first match wins): an 'h100' entry with blank weights
    placed before the H100 MXFP4 Marlin entry would take its rows; the catalogue refuses that order. A 'b200'
    entry does not shadow a 'gb200' one (whole id parts)."""
    from pathlib import Path

    import pytest
    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError
    from inferchip.spec.engine import ChipRecipe, chip_entry_covers

    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    eng = next(e for e in data["engines"] if e.get("recipe_moe_kernel"))
    j = next(i for i, x in enumerate(eng["recipe_moe_kernel"]) if x["accelerator"] == "h100")
    wide = {k: v for k, v in eng["recipe_moe_kernel"][j].items() if k != "weights"}
    eng["recipe_moe_kernel"].insert(j, wide)
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=rf"engine {eng['id']}: recipe_moe_kernel entry {j + 1} .* is never reached"):
        load_engines(bad)
    assert chip_entry_covers(ChipRecipe(accelerator="h100"), ChipRecipe(accelerator="h100", weights="fp8"))
    assert not chip_entry_covers(ChipRecipe(accelerator="h100", weights="fp8"), ChipRecipe(accelerator="h100"))
    assert not chip_entry_covers(ChipRecipe(accelerator="b200"), ChipRecipe(accelerator="gb200"))
