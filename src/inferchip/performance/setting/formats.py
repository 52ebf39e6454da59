"""A setting's number formats: the weights', activations' and KV's with the defaults filled in, the format its GEMMs
run in on the chip, and the notes that say how they were chosen (one rule for predict and for validate's rows)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from inferchip.cost.peaks import executed_format, executed_note, four_bit_gemm_rate_text
from inferchip.errors import InvalidSettingError, named_as
from inferchip.mapping.format_defaults import FOUR_BIT_FLOAT, kv_format_note
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.chip import ChipParams
from inferchip.spec.formats import NAME_FIELDS, FormatNames, check_format, check_names, compute_format

if TYPE_CHECKING:
    from inferchip.catalog.models import UserConfig


def dequantises_four_bit(chip: ChipParams | None, weights: str) -> bool:
    """True when ``chip`` has no 4-bit float units for ``weights`` (an NVFP4/MXFP4 checkpoint): the
    engines then run it weight-only, W4A16, the kernel dequantising each 4-bit weight tile to bf16
    in registers and multiplying at the 16-bit tensor-core rate (vLLM's MXFP4 MoE paths on Hopper,
    Marlin and triton ``matmul_ogs``: vllm ``model_executor/layers/quantization/mxfp4.py``), not
    W4A8. False without a chip, for other weights, or where the chip has the 4-bit units."""
    return chip is not None and weights in FOUR_BIT_FLOAT and executed_format(chip, weights) not in FOUR_BIT_FLOAT


def resolve_formats(weights: str, activations: str | None, kv: str | None,
                    attention_weights: str | None = None, chip: ChipParams | None = None,
                    attention_out_weights: str | None = None) -> Formats:
    """Number formats of a setting from the CLI choices, with the defaults filled in.

    Defaults: activations fp16 for fp16 weights (the one dtype a float16 checkpoint is served in),
    bf16 for other 16-bit/fp32 and weight-only int4 weights, fp8 for fp4/mxfp4
    weights (W4A8), else the weight format; KV as the activations (fp8 for 4-bit activations),
    bf16 otherwise. ``--activations fp4`` / ``mxfp4`` (W4A4, NVFP4 or MXFP4) needs 4-bit float
    weights; its GEMMs run at the 4-bit peak (``spec.formats.compute_format``) and attention
    at 16 bit (``cost.step``: fp8 attention needs fp8 activations and KV). On a chip with no
    4-bit units the GEMMs run at the next wider format it has (``spec.formats.WIDER``; on a chip with none as wide,
    emulated on its narrower units: ``cost.peaks``), said in the setting's notes. ``int4`` is weight-only
    (W4A16, ``spec.formats``): int4 activations are refused.
    ``attention_weights``: the attention projections' weight format where a checkpoint quantises
    only some layers (:class:`~inferchip.mapping.memory_fit.Formats`); None = ``weights``.
    ``attention_out_weights``: the output projection's where it differs from them; None = as they are.
    ``chip``: where given and it has no 4-bit float units, 4-bit float weights default to bf16
    activations and KV (W4A16, :func:`dequantises_four_bit`) instead of W4A8. Names: ``check_names``, once.
    """
    return _filled(check_names(weights, activations, kv, attention_weights, attention_out_weights), chip)


def _filled(names: FormatNames, chip: ChipParams | None) -> Formats:
    """:func:`resolve_formats` of names already checked (``spec.formats.check_names``): the defaults filled in."""
    weights, activations, kv = names.weights, names.activations, names.kv
    attention_weights, attention_out_weights = names.attention_weights, names.attention_out_weights
    if activations is None:
        activations = "bf16" if weights in ("int4", "fp4", "mxfp4", "bf16", "fp32") else weights
        if weights in FOUR_BIT_FLOAT and not dequantises_four_bit(chip, weights):
            activations = "fp8"
    if activations == "int4":
        raise InvalidSettingError(f"{named_as('activations', 'int4')}: int4 is weight-only here (W4A16, activations "
                                  f"stay wider); for 4-bit activations use {named_as('activations', 'fp4')} or mxfp4 "
                                  "(W4A4), else fp8 or bf16")
    if activations in FOUR_BIT_FLOAT and weights not in FOUR_BIT_FLOAT:
        raise InvalidSettingError(f"{named_as('activations', activations)}: 4-bit activations need 4-bit float "
                                  f"weights (W4A4: {named_as('weights', 'fp4')} or mxfp4), got "
                                  f"{named_as('weights', weights)}")
    if kv is None:
        kv = activations if activations in ("fp8", "bf16", "fp16") else ("fp8" if activations in FOUR_BIT_FLOAT
                                                                        else "bf16")
    attn = None if attention_weights == weights else attention_weights
    return Formats(weights=weights, activations=activations, kv=kv, attention_weights=attn,
                   attention_out_weights=None if attention_out_weights == (attn or weights) else attention_out_weights)


def format_choice(weights: str, activations: str | None, kv: str | None, attention_weights: str | None, *,
                  chip: ChipParams | None, model_id: str | None, attention_out_weights: str | None = None,
                  config: UserConfig | None = None,
                  expert_activations: str | None = None) -> tuple[Formats, str, list[str]]:
    """The formats of a setting (:func:`resolve_formats`), the format its GEMMs run in on ``chip`` and the
    notes that say how they were chosen; one rule for predict and for validate's rows.

    ``attention_weights`` None: the attention projections' format from ``model_id``'s checkpoint
    (:func:`~inferchip.catalog.checkpoints.attention_weight_format`: NVFP4/MXFP4 checkpoints leave attention in
    bf16; ``config``: a user's config file as already read). Notes: that per-layer map, weight-only W4A16 on a chip
    without 4-bit float units (activations not given), a GEMM format the chip lacks and the next wider one it runs,
    W4A4. ``chip`` None (an unknown chip, reported elsewhere): the wanted GEMM format is returned as is.
    ``expert_activations``: the activations the engine's expert kernel takes (its ``moe_kernels`` entry:
    ``Calibration.moe_activations`` for a setting, the launch recipe's kernel for a row), the default of 4-bit float
    weights where ``activations`` is not given."""
    notes: list[str] = []
    # the names checked once (spec.formats.check_names: NVFP4 is fp4), before the per-layer map compares
    names = check_names(weights, activations, kv, attention_weights, attention_out_weights)
    weights, activations = names.weights, names.activations
    if attention_weights is None and model_id is not None:
        from inferchip.catalog.checkpoints import attention_weight_format

        attention_weights = attention_weight_format(model_id, weights, config)
        if attention_weights is not None:  # the checkpoint's, a name not yet checked
            names = replace(names, attention_weights=check_format(attention_weights, NAME_FIELDS["attention_weights"]))
            notes.append(f"per-layer formats from the checkpoint's quantization_config: {weights} weights except "
                         f"the attention projections, {attention_weights}")
    kernel_act = expert_activations if activations is None and weights in FOUR_BIT_FLOAT else None
    fmt = _filled(replace(names, activations=activations or kernel_act), chip)
    name = "this chip" if chip is None else chip.id
    if activations is None and dequantises_four_bit(chip, weights):
        notes.append(f"{name} has no 4-bit float units: {weights} weights run weight-only (W4A16, dequantised "
                     f"to bf16 in the GEMM kernel, at the bf16 rate), KV {fmt.kv}")
    want = compute_format(fmt.weights, fmt.activations)
    got = want if chip is None else executed_format(chip, want)
    said = None if chip is None else executed_note(name, want, chip)
    if said is not None:
        notes.append(said)
    if fmt.activations in FOUR_BIT_FLOAT:
        notes.append(f"W4A4 ({fmt.weights}/{fmt.activations}): {four_bit_gemm_rate_text(chip, got)}, attention at 16 "
                     f"bit, KV {fmt.kv}")
    kv_note = kv_format_note(name, fmt.kv, chip is None or executed_format(chip, "fp4") in FOUR_BIT_FLOAT)
    return fmt, got, notes + ([kv_note] if kv_note else [])

