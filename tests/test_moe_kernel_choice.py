"""A user's MoE kernel (performance/moe_kernel.py, catalog/engines.yaml ``moe_kernels``, ``--moe-kernel``): the kernel
``--engine vllm`` serves MXFP4 experts with, by default what vLLM 007d5005 ``get_mxfp4_backend`` picks on the chip
family, and the padding its weight layout applies (``Mxfp4MoEMethod.create_weights``), by hand for gpt-oss-120b
(hidden 2,880, expert width 2,880; TP2: 1,440 per rank)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli_in_process import run_main
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import ENGINES_FILE, get_engine, load_engines, moe_kernel_entry
from inferchip.catalog.models import load_model
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.mapping.layout import Layout
from inferchip.mapping.operators import GroupedGemm
from inferchip.mapping.sharding import pad_experts, shard
from inferchip.performance.moe_kernel import moe_kernel_calibration
from inferchip.spec.calibration import Calibration

GPT_OSS = "openai/gpt-oss-120b"
H100, H200, B200, A100 = "nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "nvidia-a100-sxm-80gb"
MI300X, MI355X = "amd-mi300x", "amd-mi355x"


def _resolve(chip: str, choice: str | None = None, weights: str = "mxfp4", model: str = GPT_OSS,
             engine: str | None = "vllm") -> tuple[Calibration, str | None]:
    return moe_kernel_calibration(Calibration(), None if engine is None else get_engine(engine),
                                  get_chip_params(chip), weights, load_model(model), choice)


@pytest.mark.parametrize(("chip", "kernel", "pads"), [
    (H100, "triton", (1, 64)),  # SM90 without env: Triton matmul_ogs; the CUDA branch pads the rank width to 64
    (H200, "triton", (1, 64)),
    (B200, "flashinfer", (256, 256)),  # SM100 with FlashInfer: MXFP4 x BF16 (trtllm-gen), both widths to 256
    (A100, "marlin", (256, 128)),  # SM80: triton_kernels need [9.0, 11.0), so Marlin
    (MI300X, "triton", (128, 128)),  # ROCm gfx942: get_padding_alignment() 128
    (MI355X, "triton", (256, 256)),  # ROCm gfx950: 256
])
def test_default_kernel_per_family(chip: str, kernel: str, pads: tuple[int, int]) -> None:
    cal, note = _resolve(chip)
    assert (cal.moe_pad_hidden_to, cal.moe_pad_intermediate_to) == pads
    assert note is not None and f"{kernel} kernel (vLLM's default on" in note


def test_default_triton_on_h100_widths_by_hand() -> None:
    """TP2: 1,440 per rank -> round_up(1,440, 64) = 1,472 (23 x 64); the hidden width 2,880 kept."""
    cal, _ = _resolve(H100)
    sm = pad_experts(shard(load_model(GPT_OSS), Layout(tp=2)), cal.moe_pad_hidden_to, cal.moe_pad_intermediate_to,
                     gated=True)
    g = {x.name: x for x in sm.layers[0].gemms if isinstance(x, GroupedGemm)}
    assert (g["experts_up"].k, g["experts_up"].n) == (2880, 2 * 1472)
    assert (g["experts_down"].k, g["experts_down"].n) == (1472, 2880)
    assert cal.moe_mma_peak_fraction == Calibration().moe_mma_peak_fraction  # not the Marlin recipe's
    assert cal.moe_stream_cap_bytes_per_s == float("inf")


def test_marlin_on_h100_takes_the_recipe_rate() -> None:
    """Marlin on H100: pads 256 / 128 and, as the InferenceMAX recipe entry states for H100, mma.sync at 0.667 of the
    peak and a read cap of 132 SMs x 19.3 GB/s = 2.5476 TB/s (the closed-loop rows' calibration)."""
    cal, note = _resolve(H100, "marlin")
    assert (cal.moe_pad_hidden_to, cal.moe_pad_intermediate_to) == (256, 128)
    assert cal.moe_mma_peak_fraction == pytest.approx(0.667)
    assert cal.moe_stream_cap_bytes_per_s == pytest.approx(132 * 19.3e9)
    assert note is not None and "moe_kernel=marlin" in note and "launch recipe" in note


def test_marlin_on_a100_has_no_recipe_rate() -> None:
    cal, _ = _resolve(A100, "marlin")
    assert (cal.moe_pad_hidden_to, cal.moe_pad_intermediate_to) == (256, 128)
    assert cal.moe_stream_cap_bytes_per_s == float("inf")


def test_nothing_changes_without_an_entry() -> None:
    """No engine, a dense model, or a format without entries: the calibration as it was, no note."""
    base = Calibration()
    for kw in ({"engine": None}, {"model": "meta-llama/Llama-3.1-8B"}, {"weights": "fp8"}):
        cal, note = _resolve(H100, **kw)  # type: ignore[arg-type]
        assert cal == base and note is None
    cal, note = _resolve(H100, engine="sglang")
    assert cal == base and note is None


@pytest.mark.parametrize(("chip", "choice", "kw", "match"), [
    (H100, "flashinfer-cutlass", {}, r"on nvidia-h100-sxm-80gb \(family nvidia-hopper\); the table lists "
                                     r"flashinfer-cutlass on nvidia-blackwell only, and on nvidia-hopper vLLM picks "
                                     r"triton; allowed there: flashinfer, marlin, triton"),
    # vLLM 007d5005 get_mxfp4_backend returns FlashInfer on SM100 whenever it is installed (its CUDA build requires
    # it), before it reads VLLM_MXFP4_USE_MARLIN: Marlin and Triton are not offered on Blackwell
    (B200, "marlin", {}, r"the table lists marlin on nvidia-ada, nvidia-ampere, nvidia-hopper only, and on "
                         r"nvidia-blackwell vLLM picks flashinfer; allowed there: flashinfer, flashinfer-cutlass, "
                         r"flashinfer-mxfp8 "),
    ("nvidia-gb200-186gb", "triton", {}, r"family nvidia-blackwell\); the table lists triton on amd-cdna3, amd-cdna4, "
                                         r"nvidia-hopper only, and on nvidia-blackwell vLLM picks flashinfer; allowed "
                                         r"there: flashinfer, flashinfer-cutlass, flashinfer-mxfp8 "),
    (MI300X, "marlin", {}, r"family amd-cdna3\); the table lists marlin on nvidia-ada, nvidia-ampere, nvidia-hopper "
                           r"only, and on amd-cdna3 vLLM picks triton; allowed there: triton"),
    (H100, "marlin", {"engine": None}, r"give engine= too"),
    (H100, "marlin", {"model": "meta-llama/Llama-3.1-8B"}, r"has no routed experts"),
    (H100, "marlin", {"weights": "fp8"}, r"for weights= mxfp4, not fp8"),
    (H100, "marlin", {"engine": "sglang"}, r"SGLang has no expert-kernel entries"),
])
def test_a_kernel_the_chip_or_format_cannot_use_is_refused(chip: str, choice: str, kw: dict, match: str) -> None:
    with pytest.raises(InvalidSettingError, match=match):
        _resolve(chip, choice, **kw)


def test_cli_names_the_kernel_and_refuses_a_bad_one() -> None:
    args = ["predict", "--chip", H100, "--model", GPT_OSS, "--weights", "mxfp4", "--tp", "2", "--count", "2",
            "--batch", "8", "--engine", "vllm", "--format", "json"]
    code, text = run_main(args)
    assert code == 0, text
    assert "triton kernel (vLLM's default on nvidia-hopper)" in json.loads(text)["engine"]["moe_kernel"]
    code, text = run_main([*args, "--moe-kernel", "flashinfer-cutlass"])
    assert code == 2 and "allowed there: flashinfer, marlin, triton" in text
    code, text = run_main(["serve", "--chip", H100, "--model", GPT_OSS, "--weights", "mxfp4", "--engine", "vllm",
                           "--moe-kernel", "marlin", "--mtp", "1", "--concurrency", "4"])
    assert code == 2 and "launch recipe picks its expert kernel" in text


def _catalog_with(tmp_path: Path, entry: dict) -> Path:
    data = yaml.safe_load(ENGINES_FILE.read_text(encoding="utf-8"))
    data["moe_kernels"] = [*data["moe_kernels"], entry]
    p = tmp_path / "engines.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


@pytest.mark.parametrize(("entry", "match"), [
    ({"kernel": "x", "families": ["nvidia-hopper"], "default_on": ["nvidia-ampere"]}, "must be among its families"),
    ({"kernel": "x", "families": ["nvidia-hopper"], "default_on": ["nvidia-hopper"]}, "already has its default"),
    ({"kernel": "marlin", "families": ["nvidia-hopper"]}, "already has this kernel"),
    ({"kernel": "x", "families": ["nvidia-hoper"]}, "'nvidia-hoper': not a chip family"),
    ({"kernel": "x", "families": ["nvidia-hopper"], "engine": "vlm"}, "engine 'vlm' is not an engine id"),
])
def test_catalog_refuses_a_bad_entry(tmp_path: Path, entry: dict, match: str) -> None:
    full = {"engine": "vllm", "weights": "mxfp4", "pad_hidden_to": 1, "pad_intermediate_to": 1, "source": "test",
            **entry}
    with pytest.raises(SpecError, match=match):
        load_engines(_catalog_with(tmp_path, full))


def test_the_recipe_kernel_reads_its_padding_from_the_moe_kernels_entry() -> None:
    """Marlin's padding has one record: the Hopper recipes' kernel names the moe_kernels entry, and the closed-loop
    row and a user's --moe-kernel marlin both read it (a changed entry moves both)."""
    recipe = get_engine("vllm").moe_kernel_on(H100, "mxfp4")
    assert recipe is not None and recipe.kernel == "marlin" and "pad_hidden_to" not in type(recipe).model_fields
    entry = moe_kernel_entry("vllm", "mxfp4", "marlin", "nvidia-hopper", "test")
    user, _ = _resolve(H100, "marlin")
    assert (entry.pad_hidden_to, entry.pad_intermediate_to) == (user.moe_pad_hidden_to,
                                                                user.moe_pad_intermediate_to) == (256, 128)
    with pytest.raises(InvalidSettingError, match=r"row 7: .*no vllm mxfp4 marlin kernel on chip family "
                                                  r"'amd-cdna3'; allowed: nvidia-ada, nvidia-ampere, nvidia-hopper"):
        moe_kernel_entry("vllm", "mxfp4", "marlin", "amd-cdna3", "row 7")


def test_a_recipe_kernel_without_a_moe_kernels_entry_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(ENGINES_FILE.read_text(encoding="utf-8"))
    vllm = next(e for e in data["engines"] if e["id"] == "vllm")
    vllm["recipe_moe_kernel"][0]["kernel"] = "machete"
    p = tmp_path / "engines.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"engine vllm: recipe_moe_kernel entry 0 \(h100 mxfp4\): kernel 'machete' is "
                                        r"no moe_kernels entry of vllm; allowed: flashinfer, flashinfer-cutlass, "
                                        r"flashinfer-mxfp8, marlin, triton"):
        load_engines(p)


def test_the_shipped_cuda_triton_entry_pads_as_the_energy_rows() -> None:
    """vLLM's CUDA Triton MXFP4 padding (one moe_kernels record, read for users' --moe-kernel and for the energy
    rows stating 'MoE kernels: vLLM Triton') pads both the same: the rank width to 64, the hidden width kept (vLLM
    007d5005 create_weights, the CUDA else-branch)."""
    from inferchip.validation.moe_kernels import run_calibration

    cuda = [k for k in load_engines().moe_kernels
            if k.kernel == "triton" and any(f.startswith("nvidia-") for f in k.families)]
    assert len(cuda) == 1 and set(cuda[0].families) == {"nvidia-hopper"}
    assert (cuda[0].pad_hidden_to, cuda[0].pad_intermediate_to) == (1, 64)
    row = {"case_id": "x", "software": "vLLM 0.11.1", "weight_dtype": "mxfp4", "model": GPT_OSS,
           "notes": "MoE kernels: vLLM Triton"}
    energy = run_calibration(Calibration(), row, False, "nvidia-hopper")
    user, _ = _resolve(H100)
    assert (energy.moe_pad_hidden_to, energy.moe_pad_intermediate_to) == (
        user.moe_pad_hidden_to, user.moe_pad_intermediate_to) == (1, 64)


def test_default_triton_on_h100_carries_the_energy_rows_token_work() -> None:
    """vLLM's default Triton MXFP4 kernel on H100 is priced as the ML.ENERGY H100 gpt-oss rows stating 'MoE kernels:
    vLLM Triton' are: 0.49 us per token and MoE layer beyond the MMA at H100's 66.9 TFLOP/s vector rate = 3.2781e7
    vector FLOP (vLLM PR #39902), beside the same padding. Marlin (tuned) and the ROCm Triton entries (no ROCm
    measurement) carry none."""
    from inferchip.validation.moe_kernels import run_calibration

    user, note = _resolve(H100)
    assert user.moe_token_vector_flop == pytest.approx(0.49e-6 * 66.9e12) == pytest.approx(3.2781e7)
    assert note is not None and "per-token work" in note
    row = {"case_id": "x", "software": "vLLM 0.11.1", "weight_dtype": "mxfp4", "model": GPT_OSS,
           "notes": "MoE kernels: vLLM Triton"}
    energy = run_calibration(Calibration(), row, False, "nvidia-hopper")
    assert user.moe_token_vector_flop == energy.moe_token_vector_flop
    for chip, choice in ((H100, "marlin"), (MI300X, None), (MI355X, None), (B200, None)):
        cal, note = _resolve(chip, choice)
        assert cal.moe_token_vector_flop == 0.0 and note is not None and "per-token work" not in note
