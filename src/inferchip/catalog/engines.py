"""The serving-engine catalogue (``catalog/engines.yaml``, with ``engine_hardware.yaml``: which engines run where):
load, look up by id, match a case's ``software`` text (:func:`row_engine`, the one reading of that column for every
row). An unknown engine is a clear error naming what is allowed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from inferchip.catalog.chips import family_names
from inferchip.catalog.moe_kernels import MoeKernel, check_moe_kernels, check_recipe_kernels
from inferchip.catalog.yaml_io import read_mapping, validate
from inferchip.errors import InvalidSettingError, SpecError, UnknownIdError
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine import EngineSpec, RecipeKernelEfficiency, RecipeMoeKernel, chip_entry_covers
from inferchip.spec.engine.hardware import EngineHardware, VendorStack, engines_on, platform_of, runs_on
from inferchip.spec.formats import ALL_FORMATS, BYTES_PER_ELEMENT
from inferchip.spec.tokenizer import TokenizerSpec

ENGINES_FILE = Path(__file__).resolve().parent / "engines.yaml"
HARDWARE_FILE = ENGINES_FILE.with_name("engine_hardware.yaml")  # hardware and vendor_stack, read with it
NOT_STATED = ("", "-")  # a software cell that states no software: the catalogue's default engine


class OtherSoftware(BaseModel):
    """Software a measured row may state that is no serving engine of the catalogue (an MLPerf harness,
    a vendor's stack): such a row is predicted by the analytic model, which reads no engine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    match: tuple[str, ...] = Field(min_length=1, description="Lower-case fragments of a case's `software` text.")
    source: str = Field(min_length=1)


class EngineCatalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    engines: tuple[EngineSpec, ...]
    default: str
    mtp_source: str = ""
    other_software: tuple[OtherSoftware, ...] = ()
    tokenizers: tuple[TokenizerSpec, ...] = ()
    hardware: tuple[EngineHardware, ...] = ()
    vendor_stack: VendorStack
    moe_kernels: tuple[MoeKernel, ...] = ()


def moe_kernel_entry(engine: str, weights: str, kernel: str, family: str, where: str) -> MoeKernel:
    """The ``moe_kernels`` entry of ``engine``'s ``kernel`` for ``weights`` experts on chips of ``family``: the one
    record of the widths the kernel pads each expert to, read by the launch recipes' kernels
    (``recipe_moe_kernel``), a user's ``--moe-kernel`` and the energy rows' stated kernels alike. An
    InvalidSettingError naming ``where`` and the families the table lists the kernel on where it lists none."""
    table = [k for k in load_engines().moe_kernels if (k.engine, k.weights, k.kernel) == (engine, weights, kernel)]
    found = next((k for k in table if family in k.families), None)
    if found is None:
        on = sorted({f for k in table for f in k.families})
        raise InvalidSettingError(f"{where}: catalog/engines.yaml moe_kernels lists no {engine} {weights} {kernel} "
                                  f"kernel on chip family {family!r}; allowed: {', '.join(on) or 'none'}")
    return found


def recipe_moe_kernel_entry(engine: EngineSpec, accelerator: str, weights: str, family: str,
                            where: str) -> tuple[RecipeMoeKernel, MoeKernel] | None:
    """The expert kernel ``engine``'s launch recipe runs on ``accelerator`` for ``weights`` experts
    (:meth:`~inferchip.spec.engine.EngineSpec.moe_kernel_on`) with its ``moe_kernels`` record on chips of ``family``
    (:func:`moe_kernel_entry`, ``where`` naming the row in its error); None where the recipe names no kernel."""
    recipe = engine.moe_kernel_on(accelerator, weights)
    if recipe is None:
        return None
    return recipe, moe_kernel_entry(engine.id, weights, recipe.kernel, family, where)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, hardware_mtime_ns: int) -> EngineCatalog:
    data: dict[str, Any] = read_mapping(Path(path))
    for key, value in read_mapping(HARDWARE_FILE).items():  # an engines file stating one (a test's) keeps its own
        data.setdefault(key, value)
    cat = validate(EngineCatalog, data, path)
    ids = [e.id for e in cat.engines]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{path}: engines: an id appears twice ({', '.join(ids)})")
    if cat.default not in ids:
        raise SpecError(f"{path}: default = {cat.default!r}: not an engine id; allowed: {', '.join(ids)}")
    fronts = {e.id for e in cat.engines if e.worker_request_paths}
    families = family_names()
    check_moe_kernels(path, cat.moe_kernels, ids, list(families))
    check_recipe_kernels(path, cat.engines, cat.moe_kernels)
    seen: set[tuple[str, str]] = set()
    for h in cat.hardware:
        if h.engine not in ids:
            raise SpecError(f"{path}: hardware engine = {h.engine!r}: not an engine id; allowed: {', '.join(ids)}")
        unknown = [f for f in h.families if f not in families]
        if unknown:
            raise SpecError(f"{path}: hardware of {h.engine}: family {unknown[0]!r}: not a chip family; allowed: "
                            f"{', '.join(families)} (catalog/families.yaml)")
        for f in h.families:
            if (h.engine, f) in seen:
                raise SpecError(f"{path}: hardware of {h.engine} ({h.backend}): family {f!r} is listed twice for "
                                "the engine; allowed: each family once, under one back end")
            seen.add((h.engine, f))
    for e in cat.engines:
        listed = [("split_k_16bit_families", e.split_k_16bit_families),
                  ("mla_prefill_16bit_families", e.mla_prefill_16bit_families)]
        listed += [("prefill_worker_scheduling mla_context_fp8_families", w.mla_context_fp8_families)
                   for w in e.prefill_worker_scheduling]
        listed += [("device_batch excluded_families", e.device_batch.excluded_families)] if e.device_batch else []
        for ck in e.checkpoint_attention:
            bad = [f for f in (ck.weights, ck.attention_weights, ck.attention_out_weights, ck.q_b_weights)
                   if f and f not in BYTES_PER_ELEMENT]
            if bad:
                raise SpecError(f"{path}: engine {e.id}: checkpoint_attention entry of {ck.model!r}: format "
                                f"{bad[0]!r} is not a number format; allowed: {', '.join(sorted(BYTES_PER_ELEMENT))}")
            odd = [c for c in ck.checkpoints if not re.fullmatch(r"[\w.-]+/[\w.-]+", c)]
            if odd:
                raise SpecError(f"{path}: engine {e.id}: checkpoint_attention entry of {ck.model!r}: checkpoints "
                                f"{odd[0]!r} is not a published checkpoint name; allowed: owner/name (letters, "
                                "digits, '.', '_', '-'), as the rows' notes name it")
        for field, names in listed:
            unknown = [f for f in names if f not in families]
            if unknown:
                raise SpecError(f"{path}: engine {e.id}: {field} entry {unknown[0]!r}: not a chip family; "
                                f"allowed: {', '.join(families)} (catalog/families.yaml)")
        _check_entry_weights(path, e)
        for w in e.worker_request_paths:
            if w.engine not in ids or w.engine in fronts:
                allowed = ", ".join(i for i in ids if i not in fronts)
                raise SpecError(f"{path}: engine {e.id}: worker_request_paths engine = {w.engine!r} (software "
                                f"{w.software!r}): not a worker engine id; allowed: {allowed} (an engine of the "
                                "catalogue without worker_request_paths of its own)")
        ordered: list[tuple[str, Sequence[Any]]] = [("run_length", e.run_length), ("decode_worker", e.decode_worker),
                                                    ("first_use_waits", e.first_use_waits),
                                                    ("prefill_worker_scheduling", e.prefill_worker_scheduling),
                                                    ("recipe_batch", e.recipe_batch)]
        chip_read = {"recipe_all_reduce": e.recipe_all_reduce, "recipe_moe_kernel": e.recipe_moe_kernel,
                     "recipe_kernel_efficiency": e.recipe_kernel_efficiency}  # first_on_chip: chip and weights
        for field, entries in ordered + list(chip_read.items()):
            for j, later in enumerate(entries):
                first = next((i for i, x in enumerate(entries[:j]) if (
                    chip_entry_covers(x, later) if field in chip_read else x.covers(later))), None)
                if first is not None:
                    raise SpecError(f"{path}: engine {e.id}: {field} entry {j} ({later.model_dump()}) is never "
                                    f"reached: entry {first} matches every row it does (first match wins: put the "
                                    "narrower first)")
    return cat


def _check_entry_weights(path: str, e: EngineSpec) -> None:
    """Refuse an entry of ``e`` whose ``weights`` names no number format (a typo would match no row: the
    entries match a row's weight format by equality, blank for any)."""
    allowed = ", ".join(sorted(ALL_FORMATS))
    for field, value in e:
        for j, entry in enumerate(value if isinstance(value, tuple) else ()):
            fmt = getattr(entry, "weights", "") if isinstance(entry, BaseModel) else ""
            if fmt and fmt not in ALL_FORMATS:
                raise SpecError(f"{path}: engine {e.id}: {field} entry {j}: weights {fmt!r}: not a number format; "
                                f"allowed: {allowed} (blank: any)")


def load_engines(path: str | Path | None = None) -> EngineCatalog:
    """The engine catalogue (the shipped one by default)."""
    p = Path(path) if path is not None else ENGINES_FILE
    try:
        mtime, hardware_mtime = p.stat().st_mtime_ns, HARDWARE_FILE.stat().st_mtime_ns
    except OSError as exc:
        raise SpecError(f"{exc.filename}: cannot read file ({exc.strerror})") from None
    return _load(str(p), mtime, hardware_mtime)


def tokenizer_rate_s(model: str) -> float:
    """Encode time per prompt token (s) of ``model``'s tokenizer: the first ``tokenizers`` record one of whose
    fragments the model text contains; 0 for a model with none (its front-end time stays in request_overhead_s)."""
    for t in load_engines().tokenizers:
        if t.fits(model):
            return t.s_per_prompt_token
    return 0.0


def engine_ids() -> list[str]:
    return [e.id for e in load_engines().engines]


def get_engine(engine_id: str | None) -> EngineSpec:
    """The engine with this id (None: the catalogue's default); unknown, or no string (engine=3), -> UnknownIdError."""
    cat = load_engines()
    wanted = cat.default if engine_id is None else engine_id.strip().lower() if isinstance(engine_id, str) else None
    for e in cat.engines:
        if e.id == wanted:
            return e
    err = UnknownIdError("engine", str(engine_id), [e.id for e in cat.engines])
    kind = "" if wanted is not None else f" (type {type(engine_id).__name__}: an engine is given by its id)"
    err.args = (f"unknown engine {engine_id!r}{kind}; allowed: {', '.join(e.id for e in cat.engines)} "
                "(catalog/engines.yaml)",)
    raise err


def check_engine_runs_on(engine: EngineSpec, chip_id: str, family: str, option: str = "--engine") -> None:
    """Refuse ``engine`` on a chip of a family its ``hardware`` records do not list (vLLM on a Groq LPU): an
    InvalidSettingError naming the option, the engine, the chip, its family, the engine's back ends and families,
    and the engines that run on the chip (none: the vendor stack). A ``generic`` chip takes any engine."""
    cat = load_engines()
    if runs_on(cat.hardware, engine.id, family):
        return
    on = "; ".join(f"{h.backend}: {', '.join(h.families)}" for h in cat.hardware if h.engine == engine.id)
    fit = engines_on(cat.hardware, [e.id for e in cat.engines], family)
    without = option if option.endswith("=") else "--engine"  # the API's keyword (engine=), else the option
    instead = (", ".join(fit) if fit else f"none of the catalogue (without {without} the run takes the "
               "vendor-stack record: the chip vendor's own stack, no engine record's host times, CUDA graphs or GEMM "
               "library)")
    given = f"{option}{engine.id}" if option.endswith("=") else f"{option} {engine.id}"  # engine=vllm, --engine vllm
    raise InvalidSettingError(
        f"{given}: {engine.name} runs on the chip families of its back ends ({on}), not on {chip_id} "
        f"(family {family}); allowed on this chip: {instead} (catalog/engine_hardware.yaml, with the sources)")


def default_engine_on(family: str) -> EngineSpec | None:
    """The catalogue's default engine where it runs on a chip of ``family`` (:func:`runs_on`), else None: a run that
    names no engine there takes the ``vendor_stack`` record (:attr:`EngineCatalog.vendor_stack`)."""
    engine = get_engine(None)
    return engine if runs_on(load_engines().hardware, engine.id, family) else None


def engine_platform(engine: EngineSpec, family: str) -> EngineHardware | None:
    """The ``hardware`` record (its back end and source) under which ``engine`` runs on a chip of ``family``."""
    return platform_of(load_engines().hardware, engine.id, family)


def row_request_times_s(engine: EngineSpec, accelerator: str = "", weights: str = "", software: str = "",
                        model: str = "") -> tuple[float, EngineSpec | None, float]:
    """A row's time per request before its first token, in its parts: (the engine's own,
    :meth:`EngineSpec.request_overhead_on`; the worker engine whose request path the row also crosses,
    :meth:`EngineSpec.worker_engine_on`, or None; that worker engine's own time on the row, 0 without one). The
    row waits the sum."""
    own = engine.request_overhead_on(accelerator, weights, software, model)
    wid = engine.worker_engine_on(software)
    if wid is None:
        return own, None, 0.0
    worker = get_engine(wid)
    return own, worker, worker.request_overhead_on(accelerator, weights, software, model)


@dataclass(frozen=True)
class RequestHostTime:
    """An engine's host time per request before its first token (s), resolved once for a row or a setting and
    passed down, so that every path (``validate``'s closed loop, ``serve``, ``curve``, ``predict``) adds the same
    number: the engine's own request time (:meth:`EngineSpec.request_overhead_on`), the worker engine's where the
    row crosses one (:func:`row_request_times_s`), and the front end's prompt tokenisation
    (:meth:`EngineSpec.tokenize_s` at the model's tokenizer rate, where the engine's front end encodes the prompt
    text; sources in engines.yaml), and the intake its prompts' engine loop spends in series with its steps
    (``intake_s``, :attr:`EngineSpec.request_intake_s`: the simulated paths run it inside the loop and add
    :attr:`outside_loop_s`; ``predict``, with no loop, adds :attr:`total_s`)."""

    engine: str
    own_s: float
    worker: str  # the worker engine's id, "" without one
    worker_s: float
    tokenize_s: float
    prompt_tokens: int
    s_per_prompt_token: float = 0.0  # the model's tokenizer rate (s per token; :func:`tokenizer_rate_s`)
    intake_s: float = 0.0  # the worker engine's (else the engine's) request_intake_s

    @property
    def request_s(self) -> float:
        """The fitted request time (s): the engine's own plus its worker engine's."""
        return self.own_s + self.worker_s

    @property
    def outside_loop_s(self) -> float:
        """The host time per request outside the engine loop (s): request time plus tokenisation."""
        return self.request_s + self.tokenize_s

    @property
    def total_s(self) -> float:
        """The whole host time per request (s): outside the loop plus the loop's intake of a lone request."""
        return self.outside_loop_s + self.intake_s

    def text(self) -> str:
        """One line for the output's notes."""
        return (f"engine host time per request: {self.total_s * 1e3:.3g} ms (request {self.request_s * 1e3:.3g} ms"
                f" + tokenisation {self.tokenize_s * 1e3:.3g} ms of {self.prompt_tokens} prompt tokens"
                + (f" + the engine loop's intake {self.intake_s * 1e3:.3g} ms)" if self.intake_s else ")"))

    def as_dict(self) -> dict[str, Any]:
        return {"request_host_s": self.total_s, "request_s": self.request_s, "tokenize_s": self.tokenize_s,
                "prompt_tokens": self.prompt_tokens, "worker_engine": self.worker, "note": self.text()}


def request_host_time(engine: EngineSpec, prompt_tokens: float, accelerator: str = "", weights: str = "",
                      software: str = "", model: str = "") -> RequestHostTime:
    """The one resolution of ``engine``'s host time per request for a prompt of ``prompt_tokens`` tokens on
    ``accelerator`` with ``weights``, ``software`` and ``model`` (the arguments of :func:`row_request_times_s`)."""
    own, worker, worker_s = row_request_times_s(engine, accelerator, weights, software, model)
    rate = tokenizer_rate_s(model)
    return RequestHostTime(engine.id, own, worker.id if worker is not None else "", worker_s,
                           engine.tokenize_s(prompt_tokens, rate), int(prompt_tokens), rate,
                           (engine if worker is None else worker).request_intake_s)


def kernel_engine(engine: EngineSpec, software: str = "") -> EngineSpec:
    """The engine whose kernels a row runs: the worker engine its ``software`` names where ``engine`` is a front
    end with ``worker_request_paths`` (Dynamo's TensorRT-LLM or SGLang workers), else ``engine`` itself."""
    wid = engine.worker_engine_on(software)
    return engine if wid is None else get_engine(wid)


def family_kernel_calibration(cal: Calibration, engine: EngineSpec, family: str) -> Calibration:
    """``cal`` with the kernel choices ``engine`` (the engine whose kernels run: :func:`kernel_engine`) makes on a chip
    of ``family``: ``gemm_split_k_16bit`` set where the engine lists the family in ``split_k_16bit_families``
    (cuBLASLt under ``F.linear``), ``mla_prefill_attention_16bit`` where it lists it in
    ``mla_prefill_16bit_families``; each cleared elsewhere."""
    return cal.model_copy(update={"gemm_split_k_16bit": engine.splits_16bit_k_on(family),
                                  "mla_prefill_attention_16bit": family in engine.mla_prefill_16bit_families})


def default_gemm_calibration(cal: Calibration, family: str) -> Calibration:
    """``cal`` for a run that names no engine on a chip of ``family``: the 16-bit GEMM library of the catalogue's
    default engine (:func:`get_engine` of None, the engine a closed-loop row of blank software runs:
    :func:`row_engine`) added to the calibration's, ``gemm_split_k_16bit`` set where that engine lists the family in
    ``split_k_16bit_families`` (vLLM: cuBLASLt under ``F.linear`` on Hopper and Blackwell) and kept as given
    elsewhere; nothing else of the engine (its host time, its attention kernels) is taken. A calibration that says
    ``gemm_split_k_16bit: false`` does not turn it off here (the field is the engine's library, not a fitted figure):
    to price the full-wave rule, name an engine that does not split on the family (``--engine trtllm``). Without it a
    Hopper bf16 decode step is
    charged a full wave of the chip's one 128 x 256 tile, a kernel no engine runs there: Qwen3-32B on H200 steps
    +29 % from 32 to 33 rows and +44 % from 64 to 65 (docs/serving_journal.md, branch decodestep46)."""
    engine = default_engine_on(family)  # none on a chip of a vendor's own stack: the calibration as given
    split = cal.gemm_split_k_16bit or (engine is not None and engine.splits_16bit_k_on(family))
    return cal if split == cal.gemm_split_k_16bit else cal.model_copy(update={"gemm_split_k_16bit": split})


def loaded_calibration(calibration: str | None, family: str) -> Calibration:
    """A calibration given by name (a YAML path, ``"none"``, or None: the shipped one) for a run on a chip of
    ``family`` that names no engine: loaded, with :func:`default_gemm_calibration`. The one rule of the API
    (``performance.setting.resolve_setting``) and the CLI without ``--engine``; a :class:`Calibration` object is a
    resolved one and is used as given (validate's rows, ``--engine``)."""
    from inferchip.catalog.calibration_file import load_calibration

    return default_gemm_calibration(load_calibration(calibration), family)


def engine_for_software(software: str) -> EngineSpec | None:
    """The first engine whose ``match`` fragment occurs in ``software`` (case-insensitive), else None."""
    low = software.lower()
    for e in load_engines().engines:
        if any(m in low for m in e.match):
            return e
    return None


def row_engine(software: str, where: str) -> EngineSpec | None:
    """The engine a row's ``software`` column names, read the same way for every row: blank -> the
    catalogue's default (so is a lone "-", the CSV's "not stated"); else the first engine one of whose
    fragments occurs (:func:`engine_for_software`); else None where it names software the catalogue lists
    as no serving engine (``other_software``); else an :class:`InvalidSettingError` naming ``where`` (the
    row's line), the column, the value and what is allowed."""
    if software.strip() in NOT_STATED:
        return get_engine(None)
    engine = engine_for_software(software)
    if engine is not None:
        return engine
    cat = load_engines()
    low = software.lower()
    if any(m in low for o in cat.other_software for m in o.match):
        return None
    others = "; ".join(f"{o.name} ({', '.join(o.match)})" for o in cat.other_software)
    raise InvalidSettingError(
        f"{where}, column software: {software!r} names no engine of catalog/engines.yaml; allowed: a text naming "
        f"one of the engines {', '.join(e.id for e in cat.engines)} (or blank: {cat.default}; --engine overrides), "
        f"or software listed there as no serving engine: {others or 'none'}")


def engine_calibration(cal: Calibration, engine: EngineSpec,
                       recipe: RecipeKernelEfficiency | None = None, software: str = "") -> Calibration:
    """The calibration as ``engine`` runs: its host time per step replaces ``step_overhead_s``, its
    kernel efficiencies (times the recipe's on the row's chip, ``recipe``, where given) multiply the
    attainable fractions (each product at most 1), and the prefill attention follows the attention projections'
    format where the engine whose kernels run (:func:`kernel_engine` of ``software``) says so
    (``context_attention_follows_projections``)."""
    k = engine.kernel_efficiency
    gemm, attn, mem = (recipe.gemm, recipe.attention, recipe.memory) if recipe is not None else (1.0, 1.0, 1.0)
    return cal.model_copy(update={
        "step_overhead_s": engine.step_overhead_s,
        "gemm_compute_fraction": min(1.0, cal.gemm_compute_fraction * k.gemm * gemm),
        "attention_compute_fraction": min(1.0, cal.attention_compute_fraction * k.attention * attn),
        "prefill_attention_compute_fraction": min(1.0, cal.prefill_attention_compute_fraction * k.attention * attn),
        "memory_bandwidth_fraction": min(1.0, cal.memory_bandwidth_fraction * k.memory * mem),
        "link_bandwidth_fraction": min(1.0, cal.link_bandwidth_fraction * k.link),
        "kernel_overhead_scale": cal.kernel_overhead_scale * (recipe.kernel_overhead if recipe is not None else 1.0),
        "prefill_attention_follows_projections": kernel_engine(engine, software).context_attention_follows_projections,
        "dense_gemm_cap_flop_per_s": (recipe.dense_gemm_flop_per_s if recipe is not None
                                      else cal.dense_gemm_cap_flop_per_s),
        "expert_gemm_cap_flop_per_s": (recipe.expert_gemm_flop_per_s if recipe is not None
                                       else cal.expert_gemm_cap_flop_per_s),
    })
