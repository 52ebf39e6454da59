"""The number formats a setting takes where the user names none, and where each came from.

Weights: what the checkpoint ships and KV in its model dtype, the checkpoint read once
(:func:`checkpoint_choice`, :func:`kv_choice`); the sources printed beside them (:func:`format_sources`). The setting
(:func:`inferchip.performance.setting.resolve_setting`, where ``resolve_formats`` and ``dequantises_four_bit``
live) applies these once; a command that needs a format
before it resolves the setting (the engine's expert kernel and host time, a case row) asks here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferchip.mapping.memory_fit import Formats

if TYPE_CHECKING:
    from inferchip.catalog.checkpoints import CheckpointWeights
    from inferchip.catalog.models import UserConfig
    from inferchip.spec.engine import EngineSpec

FOUR_BIT_FLOAT = ("fp4", "mxfp4")
# Where a format came from where the caller gave it, in the words of the record that carries it (``weights_source``,
# ``activations_source``, ``kv_source`` of predict's and serve's JSON and the API's): its own fields, not the
# command line's options (``--weights`` from the CLI, ``weights=`` from Python).
WEIGHTS_GIVEN, ACTIVATIONS_GIVEN, KV_GIVEN = "the weights given", "the activations given", "the kv given"


def weights_default(w: str) -> str:
    """The source of an activations or KV format that follows the weights given (``resolve_formats``' default)."""
    return f"the default of the weights given, {w}"


def checkpoint_choice(model_id: str, weights: str | None, kv: str | None,
                      config: UserConfig | None = None) -> tuple[str, str, str | None]:
    """(weight format, where it came from, the KV format to ask ``resolve_formats`` for) of a setting, the
    checkpoint read once: ``weights`` as given (:data:`WEIGHTS_GIVEN`, and ``kv`` as given: None lets the given format's
    default apply), else what ``model_id``'s checkpoint ships
    (:func:`~inferchip.catalog.checkpoints.checkpoint_weights`; ``config``: a user's config file as already read)
    and :func:`kv_choice` of it. The one rule ``resolve_setting`` applies."""
    if weights is not None:
        return weights, WEIGHTS_GIVEN, kv
    from inferchip.catalog.checkpoints import checkpoint_weights

    shipped = checkpoint_weights(model_id, config)
    return shipped.format, shipped.source, kv_choice(shipped, kv)


def weight_choice(model_id: str, weights: str | None, config: UserConfig | None = None) -> tuple[str, str]:
    """(weight format, where it came from): :func:`checkpoint_choice`'s, for a command that needs the format before
    it resolves the setting (the engine's expert kernel and host time); ``config``: a user's config as already read."""
    fmt, source, _ = checkpoint_choice(model_id, weights, None, config)
    return fmt, source


def kv_choice(shipped: CheckpointWeights, kv: str | None) -> str:
    """The KV format of a setting priced with its checkpoint's weights (``--weights`` not given): ``kv`` as given,
    else the KV format a ModelOpt checkpoint states (``CheckpointWeights.kv``: ``kv_cache_quant_algo: FP8``, which
    vLLM's and TensorRT-LLM's defaults take: ``catalog.checkpoints`` module doc), else the checkpoint's 16-bit model
    dtype (``CheckpointWeights.dtype``), as vLLM (``CacheConfig.cache_dtype``) and SGLang
    (``ServerArgs.kv_cache_dtype``) keep the KV cache by default, "auto will use model data type", whatever the
    weights' quantisation."""
    if kv is not None:
        return kv
    return shipped.kv or shipped.dtype


def format_sources(fmt: Formats, activations: str | None, kv: str | None, weights_source: str,
                   expert_activations: str | None = None) -> tuple[str, str]:
    """(where the activations' format came from, where the KV's did), for the output: the option where given;
    with ``--weights`` given, that format's default (``resolve_formats``); else what the engines do with
    the checkpoint by default. Block FP8 weights (DeepSeek-V3/R1 ``weight_block_size`` [128, 128],
    ``activation_scheme`` dynamic): activations quantised to FP8 at run time per token and 128 channels
    (DeepSeek-V3 report, arXiv:2412.19437, section 3.3; vLLM ``fp8_utils.per_token_group_quant_fp8``); row-wise
    ``fbgemm_fp8`` (Llama 3.1 FP8): per-token dynamic activations (vLLM ``fbgemm_fp8.py``); ModelOpt FP8: the
    checkpoint's static per-tensor ``input_scale`` (vLLM ``modelopt.py``), all at the fp8 rate. MXFP4
    experts: W4A16 (bf16) on a chip without 4-bit float units (``dequantises_four_bit``), else W4A8 with
    MXFP8 activations priced as fp8 (TensorRT-LLM ``get_mxfp4_quant_algo`` W4A8_MXFP4_MXFP8 on SM100; SGLang
    ServerArgs: ``flashinfer_mxfp4`` on SM100, ``flashinfer_mxfp4_moe_precision`` "default"; vLLM's SM100
    default, FlashInfer MXFP4 x BF16, is ``--engine vllm``, its kernel's record). 16-bit: its dtype.
    ``expert_activations``: the activations the engine's expert kernel takes (``Calibration.moe_activations``),
    which 4-bit float weights default to where they are set (``performance.setting.format_choice``)."""
    w, a = fmt.weights, fmt.activations
    if activations is not None:
        act_source = ACTIVATIONS_GIVEN
    elif w in FOUR_BIT_FLOAT and expert_activations is not None:
        act_source = (f"the engine's expert kernel (named on the engine line) takes {expert_activations} activations "
                      "(catalog/engines.yaml moe_kernels, with its source)")
    elif weights_source == WEIGHTS_GIVEN:
        act_source = weights_default(w)
    elif w == "fp8":
        act_source = ("checkpoint fp8 weights: W8A8, activations quantised to FP8 at run time (block FP8: per token "
                      "and 128-channel group; fbgemm_fp8: per token; ModelOpt FP8: a static scale per tensor)")
    elif w in FOUR_BIT_FLOAT and a == "bf16":
        act_source = f"checkpoint {w} weights, no 4-bit float units on the chip: W4A16, bf16 activations"
    elif w in FOUR_BIT_FLOAT:
        act_source = (f"checkpoint {w} weights, 4-bit float units on the chip: W4A8, MXFP8 activations at the fp8 "
                      "rate (TensorRT-LLM's and SGLang's default; vLLM's is bf16: the engine vllm)")
    elif w == "int4":
        act_source = "checkpoint int4 (AWQ/GPTQ) weights: weight-only W4A16, bf16 activations"
    else:
        act_source = f"checkpoint dtype {a}: served in one dtype"
    if kv is not None:
        kv_source = KV_GIVEN
    elif weights_source == WEIGHTS_GIVEN:
        kv_source = weights_default(w)
    else:
        kv_source = _checkpoint_kv_source(fmt.kv)
    return act_source, kv_source


def stated_formats(model_id: str, weights: str | None, kv: str | None,
                   config: UserConfig | None = None) -> tuple[str, str, str | None, str]:
    """(weights, weights' source, kv, kv's source) for a case row, which states its formats before any setting is
    resolved (``serve --mtp``/``--disagg``): :func:`checkpoint_choice`, the KV's source said as
    :func:`format_sources` says it; kv None: the default of the ``--weights`` given (``resolve_formats``).
    ``config``: a user's config file as already read."""
    weights, source, asked = checkpoint_choice(model_id, weights, kv, config)
    if kv is not None:
        return weights, source, kv, KV_GIVEN
    if asked is None:
        return weights, source, None, weights_default(weights)
    return weights, source, asked, _checkpoint_kv_source(asked)


def _checkpoint_kv_source(kv: str) -> str:
    if kv not in ("bf16", "fp16"):  # a checkpoint's model dtype is 16-bit: a narrower KV is its ModelOpt statement
        return (f"checkpoint kv_cache_quant_algo {kv.upper()} (ModelOpt): vLLM's --kv-cache-dtype auto and "
                "TensorRT-LLM take it (kv bf16 for an engine that keeps the model dtype)")
    return f"checkpoint model dtype {kv}: the engines' --kv-cache-dtype auto (kv fp8 for an FP8 cache)"


def served_attention(engine: EngineSpec | None, software: str, model_id: str, weights: str, stated: str,
                     decode_chips: int = 0) -> tuple[str, str | None, str | None, str] | None:
    """(attention projections' weights, the output projection's where it differs, MLA's q_b's where it differs, the
    note saying so) as the engine
    whose kernels run (``catalog.engines.kernel_engine`` of ``engine`` and ``software``) runs the checkpoint that
    ``stated`` names (a row's notes; a command's ``--model`` id, which may be the checkpoint's own name, an alias of
    ``catalog/alias_checkpoints.csv``): its ``checkpoint_attention`` entry
    (:func:`~inferchip.spec.engine.workers.checkpoint_attention_for`); a ``stated`` naming none of its model's listed
    checkpoints takes the first entry, and the note says that was assumed. None where no entry is of ``model_id``
    and ``weights`` (or no engine). ``decode_chips``: the chips of a disaggregated row's decode worker, the launch
    recipe's layout an entry's ``decode_worker_chips`` names (0: none). The one rule validate's rows and
    predict/serve/curve apply."""
    if engine is None:
        return None
    from inferchip.catalog.engines import kernel_engine
    from inferchip.spec.engine.checkpoints import checkpoint_attention_for

    kernels = kernel_engine(engine, software)
    hit = checkpoint_attention_for(kernels.checkpoint_attention, model_id, weights, stated, decode_chips)
    if hit is None:
        return None
    ck, named = hit
    out, q_b = ck.attention_out_weights or ck.attention_weights, ck.q_b_weights or ck.attention_weights
    which = named or f"{ck.checkpoints[0]} (no listed checkpoint named: the catalogue's first assumed)"
    four = ("q_a, q_b, kv_a, kv_b in " if q_b == ck.attention_weights else "q_a, kv_a, kv_b in ") + ck.attention_weights
    apart = "" if q_b == ck.attention_weights else (
        f", q_b in {q_b} (the launch recipe of a {decode_chips}-chip decode worker sets "
        "SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN)")
    return (ck.attention_weights, None if out == ck.attention_weights else out,
            None if q_b == ck.attention_weights else q_b,
            f"attention projections as engine {kernels.id} runs the served checkpoint {which}: {four}{apart}, o in "
            f"{out} (checkpoint_attention)")



def kv_format_note(chip_name: str, kv: str, chip_has_4bit_float: bool) -> str | None:
    """What a user should know of a 4-bit KV cache, or None: it is priced as stored (half fp8's bytes), but
    - a 4-bit float KV cache (``fp4``/``mxfp4``) runs only where the chip has 4-bit float units: TensorRT-LLM's NVFP4
      KV cache is a Blackwell feature that dequantises to FP8 inside attention (NVIDIA Technical Blog, 'Optimizing
      Inference for Long Context and Large Batch Sizes with NVFP4 KV Cache', 2025-12-08,
      https://developer.nvidia.com/blog/optimizing-inference-for-long-context-and-large-batch-sizes-with-nvfp4-kv-cache/);
      on a chip without them (Hopper: compute.dense_tflops lists no fp4) no engine runs one;
    - an ``int4`` KV cache is none of vLLM's, SGLang's or TensorRT-LLM's KV formats (vLLM ``--kv-cache-dtype`` auto /
      fp8; SGLang fp8_e4m3 / fp8_e5m2 / fp4_e2m1; TensorRT-LLM int8 / fp8 / nvfp4: their quantized-KV-cache docs)."""
    if kv in FOUR_BIT_FLOAT and not chip_has_4bit_float:
        return (f"kv {kv}: {chip_name} has no 4-bit float units (its compute.dense_tflops lists no fp4 or "
                "mxfp4), and no engine runs a 4-bit float KV cache on such a chip (TensorRT-LLM's NVFP4 KV cache is "
                "Blackwell-only, NVIDIA blog 2025-12-08): priced as stored in 4 bits, a what-if; fp8 is what runs")
    if kv == "int4":
        return ("kv int4: vLLM, SGLang and TensorRT-LLM store no int4 KV cache (their KV formats: fp8; fp8 and "
                "fp4_e2m1; int8, fp8 and nvfp4): priced as stored in 4 bits, a what-if")
    return None
