"""What a checkpoint ships: its weights' number format (the default of ``--weights``) and which layers its
quantisation leaves wider (the per-layer format map), read from the ``quantization_config`` (else the
``torch_dtype``) of its Hugging Face config (``catalog/models/*.json``, or a user's ``config.json``).

Weight format (:func:`checkpoint_weights`), from ``quantization_config.quant_method``:

* ``mxfp4``: MXFP4 (gpt-oss-120b/20b; transformers ``Mxfp4Config``).
* ``fp8``: FP8 e4m3 with 128x128 block scales (DeepSeek-V3/R1, Qwen3 FP8; transformers
  ``FineGrainedFP8Config``); ``fbgemm_fp8``: row-wise FP8 (Meta's Llama 3.1 FP8 checkpoints, transformers
  ``FbgemmFp8Config``).
* ``modelopt``: NVIDIA Model Optimizer checkpoints, ``quant_algo`` ``FP8`` (fp8) or ``NVFP4`` (fp4) (vLLM
  ``docs/features/quantization/modelopt.md``: the ``quant_algo`` values it serves).
* ``awq``, ``gptq`` with ``bits`` 4: int4, weight-only (``spec.formats``: int4 is AWQ/GPTQ's W4A16).

A ModelOpt checkpoint's KV cache (:func:`_stated_kv`, ``CheckpointWeights.kv``): ``kv_cache_quant_algo: FP8`` (or an
8-bit float ``kv_cache_scheme``) makes the KV default fp8, as the engines' default reads it: vLLM's
``--kv-cache-dtype auto`` takes the checkpoint's KV scheme for ModelOpt (vllm-project/vllm
``vllm/utils/torch_utils.py`` ``resolve_kv_cache_dtype_string`` @959009b4, PR #29980 "Load kv-cache dtype from
hf_quant_config.json automatically", merged 2025-12) and TensorRT-LLM takes the checkpoint's ``kv_cache_quant_algo``
where none is given (NVIDIA/TensorRT-LLM ``tensorrt_llm/llmapi/llm_utils.py``
``ModelLoader._update_from_hf_quant_config`` @7b437aaa). ModelOpt's older exports state their quantisation only in
``hf_quant_config.json`` beside ``config.json`` (its ``quantization`` block: ``quant_algo``, ``kv_cache_quant_algo``,
``exclude_modules``); where ``config.json`` states no ``quantization_config``, that block is read as one (quant_method
modelopt), as TensorRT-LLM reads it.

Without a ``quantization_config`` the checkpoint is 16-bit: ``torch_dtype`` (newer transformers write
``dtype``) ``bfloat16`` is bf16, ``float16`` fp16; ``float32``, or no dtype at all, is served 16-bit, as vLLM's
``--dtype auto`` does (``vllm/config.py`` ``_get_and_verify_dtype``: "we use float16 for float32 models", a
missing dtype read as float32; bf16 on the platforms that have it since v0.10.1, as a third-party vLLM note
says: an estimate, not re-read in vLLM's source): bf16 here. A ``quantization_config`` or dtype outside
these is a :class:`SpecError` naming the file, the field, the value and what is allowed, raised only where
the default is needed (an explicit ``--weights`` never reads them). An alias of a bundled config that is a
quantised checkpoint of it (``aliases.csv``: the FP8 releases of Qwen3-235B, Llama-3.1-405B, Llama-4
Maverick) ships what ``alias_checkpoints.csv`` states, with its source.

Per-layer map (:func:`attention_weight_format`): NVFP4/MXFP4 checkpoints quantise the experts and keep other
layers wider: gpt-oss lists ``model.layers.*.self_attn``, the router, the embeddings and the LM head in
``modules_to_not_convert`` (``quant_method: mxfp4``), so its attention projections stay 16-bit (bf16, the
config's ``torch_dtype`` family). Embeddings and the LM head are 16-bit in every setting already
(``mapping.memory_fit.EMBEDDING_FORMAT``). An alias checkpoint of ``alias_checkpoints.csv`` states its
attention projections' format where it leaves them out (``attention_weights``: Meta's Llama-3.1-405B FP8 keeps
every layer's self_attn in bf16), applied where it is served in its own weight format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferchip.errors import SpecError
from inferchip.input_files import user_path
from inferchip.spec.formats import canonical_format

if TYPE_CHECKING:
    from inferchip.catalog.models import UserConfig

UNQUANTIZED_FORMAT = "bf16"  # what a module left out of the quantisation is stored in (the checkpoints' dtype)
_ATTENTION_MARKS = ("self_attn", "attention", "attn")
_SKIP_KEYS = ("modules_to_not_convert", "ignore", "exclude_modules")  # the lists checkpoints leave unquantised
# quant_method -> the weight format it ships (module doc); modelopt and awq/gptq are read further (_quant_format)
_METHODS = {"mxfp4": "mxfp4", "fp8": "fp8", "fbgemm_fp8": "fp8"}
# ModelOpt's quant_algo names are format names, read by the one resolver (spec.formats.canonical_format: NVFP4 is fp4)
_MODELOPT_ALGOS = {algo: canonical_format(algo) for algo in ("FP8", "NVFP4")}
_INT4_METHODS = ("awq", "gptq")
_KV_KEYS = ("kv_cache_scheme", "kv_cache_quant_algo")  # ModelOpt's KV cache statement, in vLLM's order (_stated_kv)
_MODELOPT_KV = {"fp8": "fp8"}  # vLLM's MODELOPT_TO_VLLM_KV_CACHE_DTYPE_MAP (fp8 -> fp8_e4m3), lower-cased algos
HF_QUANT_CONFIG = "hf_quant_config.json"  # ModelOpt's sidecar quantisation file beside config.json
ALLOWED_QUANT = ("quant_method mxfp4, fp8 or fbgemm_fp8; modelopt with quant_algo FP8 or NVFP4; awq or gptq with "
                 "bits 4")
# torch_dtype -> the weights' format: the 16-bit names by the one resolver (bfloat16 is bf16), fp32 served 16-bit
_DTYPES = {**{d: canonical_format(d) for d in ("bfloat16", "float16", "half")}, "float32": "bf16", "float": "bf16"}
_GIVE = "or give the format (--weights; weights= in the Python API)"  # every default's error says how to skip it
DEFAULT_FORMAT = "bf16"  # a checkpoint that states no dtype (vLLM reads it as float32 and serves it 16-bit)


@dataclass(frozen=True)
class CheckpointWeights:
    """The weight format a checkpoint ships (a ``spec.formats`` name) and where that was read, for the output;
    ``dtype``: its 16-bit model dtype (``torch_dtype``, bf16 or fp16; bf16 where none is stated), the one the
    engines keep the KV cache in by default (``--kv-cache-dtype auto``: ``mapping.format_defaults.kv_choice``)."""

    format: str
    source: str
    dtype: str = DEFAULT_FORMAT
    kv: str | None = None  # the KV cache format the checkpoint states for the engines' "auto" (_stated_kv); None: none


def checkpoint_weights(model_id: str, config: UserConfig | None = None) -> CheckpointWeights:
    """The weights' format ``model_id``'s checkpoint ships (module doc): a bundled id or alias, a user's
    ``config.json`` (or its folder; ``config``: that file as already read, ``catalog.models.load_model_config``);
    bf16 for an id that is neither (said in the source). A ``quantization_config`` or dtype the module doc does not
    list is a :class:`SpecError` naming the file, the field, the value and what is allowed."""
    from inferchip.catalog.models import _canonical, alias_checkpoints, resolve_alias

    if config is not None:
        return _weights_from_config(*_with_sidecar(config.mapping, config.path))
    canonical = _canonical(model_id)
    if canonical is not None:
        stated = alias_checkpoints().get(canonical)
        if stated is not None:
            dtype = _bundled_weights(resolve_alias(canonical)).dtype
            return CheckpointWeights(stated.weights, f"checkpoint {canonical}: {stated.source} "
                                     "(catalog/alias_checkpoints.csv)", dtype)
        return _bundled_weights(resolve_alias(canonical))
    path = user_path(model_id.strip())
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        return CheckpointWeights(DEFAULT_FORMAT, f"default {DEFAULT_FORMAT}: {model_id} has no config here "
                                                 "(neither bundled nor a file)")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path}: cannot read its quantization_config ({exc}); allowed: a JSON config") from None
    return _weights_from_config(*_with_sidecar(cfg, path))


def _with_sidecar(cfg: object, path: Path | None) -> tuple[object, str]:
    """(``cfg``, where it was read) with the quantisation of the ModelOpt ``hf_quant_config.json`` beside ``path``
    as its ``quantization_config`` (quant_method modelopt) where ``cfg`` states none: ModelOpt's older exports state
    it there alone, and the engines read it (module doc). A sidecar of the wrong shape is a :class:`SpecError`.
    ``path`` None: a config given as a Python mapping, which has no folder and so no sidecar."""
    if path is None:
        from inferchip.catalog.models import CONFIG_DICT

        return cfg, CONFIG_DICT
    side = path.parent / HF_QUANT_CONFIG
    if not isinstance(cfg, dict) or cfg.get("quantization_config") is not None or not side.is_file():
        return cfg, str(path)
    try:
        raw = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{side}: cannot read it ({exc}); allowed: a JSON object (ModelOpt's {HF_QUANT_CONFIG})"
                        ) from None
    quant = raw.get("quantization") if isinstance(raw, dict) else None
    if not isinstance(quant, dict):
        raise SpecError(f"{side}: quantization: value {_short(quant)} is not allowed; expected a mapping "
                        "(quant_algo, kv_cache_quant_algo, ...)")
    where = f"{side}, its quantization block read as {path.name}'s quantization_config"
    return {**cfg, "quantization_config": {"quant_method": "modelopt", **quant}}, where


@lru_cache(maxsize=64)
def _bundled_weights(model_id: str) -> CheckpointWeights:
    from inferchip.catalog.models import _file_for

    path = _file_for(model_id)
    cfg = json.loads(path.read_text(encoding="utf-8"))
    return _weights_from_config(cfg, f"catalog/models/{path.name}")


def _weights_from_config(cfg: object, where: str) -> CheckpointWeights:
    """The weight format a Hugging Face config states (module doc), with where it was read."""
    if not isinstance(cfg, dict):
        raise SpecError(f"{where}: expected a JSON object (a Hugging Face config.json)")
    q = cfg.get("quantization_config")
    text = cfg.get("text_config")
    key = next((k for k in ("torch_dtype", "dtype") if cfg.get(k) is not None), None)
    owner: dict[str, Any] = cfg
    if key is None and isinstance(text, dict):
        key, owner = next((k for k in ("torch_dtype", "dtype") if text.get(k) is not None), None), text
    both = owner.get("torch_dtype"), owner.get("dtype")
    if all(x is not None for x in both) and both[0] != both[1]:  # newer transformers write dtype, older torch_dtype
        prefix = "" if owner is cfg else "text_config."
        raise SpecError(f"{where}: {prefix}torch_dtype {_short(both[0])} and {prefix}dtype {_short(both[1])} "
                        f"disagree; allowed: one of them, or the same value in both, {_GIVE}")
    if q is not None:
        fmt = _quant_format(_mapping(q, where), where)
        method = q["quant_method"]
        algo = f", quant_algo {q['quant_algo']}" if method == "modelopt" else ""
        stated = owner[key] if key is not None else None
        dtype = _DTYPES.get(stated, DEFAULT_FORMAT) if isinstance(stated, str) else DEFAULT_FORMAT
        return CheckpointWeights(fmt, f"checkpoint quantization_config (quant_method {method}{algo}; {where})", dtype,
                                 _stated_kv(q, where))
    if key is None:
        return CheckpointWeights(DEFAULT_FORMAT, f"default {DEFAULT_FORMAT}: the checkpoint states no "
                                                 f"quantization_config or torch_dtype ({where}); vLLM --dtype auto "
                                                 "serves it 16-bit")
    dtype = owner[key]
    field = key if owner is cfg else f"text_config.{key}"
    half = _DTYPES.get(dtype) if isinstance(dtype, str) else None
    if half is None:
        raise SpecError(f"{where}: {field}: value {_short(dtype)} is not allowed; expected one of "
                        f"{', '.join(_DTYPES)} (or a quantization_config: {ALLOWED_QUANT}), {_GIVE}")
    served = " (served 16-bit, as vLLM --dtype auto does)" if dtype in ("float32", "float") else ""
    return CheckpointWeights(half, f"checkpoint {field} {dtype}, no quantization_config{served} ({where})", half)


def _mapping(q: object, where: str) -> dict[str, Any]:
    if not isinstance(q, dict):
        raise SpecError(f"{where}: quantization_config: value {_short(q)} is not allowed; expected a mapping "
                        "(quant_method, modules_to_not_convert, ...)")
    return q


def _quant_format(q: dict[str, Any], where: str) -> str:
    """The weight format of a ``quantization_config`` (module doc); SpecError for one outside it."""
    method = q.get("quant_method")
    if not isinstance(method, str) or not method:
        raise SpecError(f"{where}: quantization_config.quant_method: value {_short(method)} is not allowed; "
                        f"expected {ALLOWED_QUANT}")
    if method in _METHODS:
        return _METHODS[method]
    if method == "modelopt":
        algo = q.get("quant_algo")
        if isinstance(algo, str) and algo in _MODELOPT_ALGOS:
            return _MODELOPT_ALGOS[algo]
        raise SpecError(f"{where}: quantization_config.quant_algo: value {_short(algo)} is not allowed with "
                        f"quant_method modelopt; expected one of {', '.join(_MODELOPT_ALGOS)}, {_GIVE}")
    if method in _INT4_METHODS:
        bits = q.get("bits")
        if bits == 4 and not isinstance(bits, bool):
            return "int4"
        raise SpecError(f"{where}: quantization_config.bits: value {_short(bits)} is not allowed with quant_method "
                        f"{method}; expected 4 (int4, weight-only), {_GIVE}")
    raise SpecError(f"{where}: quantization_config.quant_method: value {_short(method)} is not allowed; expected "
                    f"{ALLOWED_QUANT}, {_GIVE}")


def _stated_kv(q: dict[str, Any], where: str) -> str | None:
    """The KV cache format a ModelOpt ``quantization_config`` states (module doc), else None (the model dtype).

    Read as vLLM reads it for ``--kv-cache-dtype auto`` (vllm-project/vllm ``vllm/utils/torch_utils.py``
    ``get_kv_cache_quant_algo_string`` @959009b4, PR #29980): quant_method modelopt, the first given of
    ``kv_cache_scheme`` and ``kv_cache_quant_algo`` (at the top or in a ``quantization`` block); ``FP8``, or a scheme
    of 8-bit static floats, is fp8; any other string (``NVFP4``, ``none``) is the model dtype, vLLM's fallback to
    "auto" (TensorRT-LLM would run an NVFP4 cache: ``--kv fp4``). A value neither a string, a mapping nor null is a
    :class:`SpecError` naming the file, the field and what is allowed."""
    if q.get("quant_method") != "modelopt":
        return None
    nested = q.get("quantization")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else q
    stated = [(k, d[k]) for k in _KV_KEYS for d in (inner, q) if d.get(k)]  # the first given, vLLM's order
    if not stated:
        return None
    key, algo = stated[0]
    if isinstance(algo, dict):
        return "fp8" if (algo.get("dynamic") is False and algo.get("num_bits") == 8
                         and algo.get("type") == "float") else None
    if isinstance(algo, str):
        return _MODELOPT_KV.get(algo.lower())
    raise SpecError(f"{where}: quantization_config.{key}: value {_short(algo)} is not allowed; expected a string "
                    "(FP8 for an fp8 KV cache), a kv_cache_scheme mapping or null, or give the KV format (--kv; kv= in "
                    "the Python API)")


def attention_weight_format(model_id: str, weight_format: str, config: UserConfig | None = None) -> str | None:
    """The attention projections' weight format of ``model_id``'s checkpoint when it is served in
    ``weight_format``: ``UNQUANTIZED_FORMAT`` where the checkpoint's quantisation (of method
    ``weight_format``) leaves attention out; None where it says nothing (every layer in
    ``weight_format``) or the model is neither bundled nor a config file. A user's ``config.json`` (or
    its folder) is read the same way as a bundled one, so a checkpoint gets one format map however it
    is named; a ``quantization_config`` of the wrong shape there is a :class:`SpecError` naming the file,
    the field, the value and what is allowed. ``config``: the user's config as already read (as
    :func:`checkpoint_weights`)."""
    from inferchip.catalog.models import _canonical, alias_checkpoints, resolve_alias

    if config is not None:
        mapping, where = _with_sidecar(config.mapping, config.path)
        return _from_config(mapping, weight_format, where)
    canonical = _canonical(model_id)
    if canonical is not None:
        stated = alias_checkpoints().get(canonical)
        if stated is not None and stated.attention_weights is not None:  # the alias checkpoint's own map, if stated
            return stated.attention_weights if stated.weights == weight_format else None
        return _bundled_attention_format(resolve_alias(canonical), weight_format)
    path = user_path(model_id.strip())
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        return None
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable: loading the model itself reports it
    cfg, where = _with_sidecar(cfg, path)
    return _from_config(cfg, weight_format, where)


@lru_cache(maxsize=64)
def _bundled_attention_format(model_id: str, weight_format: str) -> str | None:
    from inferchip.catalog.models import _file_for

    try:
        cfg = json.loads(_file_for(model_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _from_config(cfg, weight_format, model_id)


def _from_config(cfg: object, weight_format: str, where: str) -> str | None:
    """The attention projections' format a Hugging Face config's ``quantization_config`` states (module doc)."""
    q = cfg.get("quantization_config") if isinstance(cfg, dict) else None
    if q is None:
        return None
    q = _mapping(q, where)
    try:  # the format the checkpoint ships; a method outside the module doc's list only by its own name
        ships = _quant_format(q, where)
    except SpecError:
        ships = str(q.get("quant_method", "")).lower()
    if ships != weight_format:
        return None
    for key in _SKIP_KEYS:
        skipped = q.get(key)
        if skipped is None:
            continue
        if not isinstance(skipped, list) or not all(isinstance(m, str) for m in skipped):
            raise SpecError(f"{where}: quantization_config.{key}: value {_short(skipped)} is not allowed; expected "
                            "a list of module names")
        if any(mark in m for m in skipped for mark in _ATTENTION_MARKS):
            return UNQUANTIZED_FORMAT
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
