"""The expert (MoE) kernel an engine serves a user's prediction with, and the calibration it is predicted with.

Which kernel serves a MoE model's experts is the engine's choice on the chip, the weight format and the launch's
environment (vLLM ``get_mxfp4_backend``); its weight layout pads each routed expert's hidden and per-rank widths
(``Calibration.moe_pad_hidden_to`` / ``moe_pad_intermediate_to``, applied by ``performance.mapped.map_model``
through ``mapping.sharding.pad_experts``). ``catalog/engines.yaml`` ``moe_kernels`` lists, per engine and weight
format, the kernels each chip family can run, their padding and the one the engine picks where the launch names
none (with sources). A user's ``--engine`` prediction takes the kernel ``--moe-kernel`` names, else that default;
where the engine's ``recipe_moe_kernel`` entry for the chip states the same kernel's MMA issue share and read rate
(Marlin on H100 and H200), those too, so the prediction prices the kernel as the validated closed-loop rows do;
where the entry says the kernel is vLLM's untuned Triton MoE (``token_vector_work``), its per-token work
(``Calibration.moe_token_vector_flop``), as the validated energy rows that state those kernels are priced.
"""

from __future__ import annotations

from inferchip.catalog.engines import load_engines
from inferchip.catalog.moe_kernels import MoeKernel
from inferchip.cost.constants import TRITON_MOE_TOKEN_VECTOR_FLOP
from inferchip.cost.gemm import expert_stream_cap_bytes_per_s
from inferchip.errors import InvalidSettingError, SpecError, named, named_as
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine import EngineSpec
from inferchip.spec.model import ModelSpec
from inferchip.spec.params import ChipParams


def _chosen(engine: EngineSpec, chip: ChipParams, weights: str, model: ModelSpec, choice: str | None
            ) -> MoeKernel | None:
    """The ``moe_kernels`` entry of ``engine`` for ``weights`` on ``chip``'s family: the one ``choice`` names, or
    (None) the engine's default there, None where it has none; a choice it cannot run is an InvalidSettingError
    naming the option, the value and the kernels allowed."""
    table = [k for k in load_engines().moe_kernels if k.engine == engine.id]
    if choice is None:
        return next((k for k in table if k.weights == weights and chip.family in k.default_on), None)
    option, given = named("moe_kernel"), named_as("moe_kernel", choice)  # moe_kernel=, or --moe-kernel
    if not model.is_moe:
        raise InvalidSettingError(f"{given}: model {model.id} has no routed experts; drop {option}")
    if not table:
        engines = sorted({k.engine for k in load_engines().moe_kernels})
        raise InvalidSettingError(f"{given}: {engine.name} has no expert-kernel entries "
                                  f"(catalog/engines.yaml moe_kernels lists {', '.join(engines)}); drop {option}")
    for_weights = [k for k in table if k.weights == weights]
    if not for_weights:
        listed = sorted({k.weights for k in table})
        raise InvalidSettingError(
            f"{given}: {engine.name} lists expert kernels for {named('weights')} {', '.join(listed)}, "
            f"not {weights} (catalog/engines.yaml moe_kernels); allowed: one of those weights, or drop {option}")
    found = next((k for k in for_weights if k.kernel == choice and chip.family in k.families), None)
    if found is None:
        allowed = sorted({k.kernel for k in for_weights if chip.family in k.families})
        elsewhere = sorted({f for k in for_weights if k.kernel == choice for f in k.families})
        default = next((k.kernel for k in for_weights if chip.family in k.default_on), None)
        why = (f"; the table lists {choice} on {', '.join(elsewhere)} only"
               + (f", and on {chip.family} {engine.name} picks {default}" if default else "") if elsewhere else "")
        raise InvalidSettingError(
            f"{given}: {engine.name} cannot serve {weights} experts with it on {chip.id} (family "
            f"{chip.family}){why}; allowed there: {', '.join(allowed) or f'none (drop {option})'} "
            "(catalog/engines.yaml moe_kernels, with their sources)")
    return found


def moe_kernel_calibration(cal: Calibration, engine: EngineSpec | None, chip: ChipParams, weights: str,
                           model: ModelSpec, choice: str | None = None) -> tuple[Calibration, str | None]:
    """``cal`` as ``engine`` serves ``model``'s experts in ``weights`` on ``chip`` with the kernel ``choice`` names
    (None: the engine's default on the chip's family; see the module doc), and a note naming the kernel and its
    padding (None where the engine has no kernel entry there, ``cal`` unchanged). ``choice`` without ``engine`` is
    an InvalidSettingError: the kernels are an engine's."""
    if engine is None:
        if choice is not None:
            raise InvalidSettingError(f"{named_as('moe_kernel', choice)}: the expert kernel is an engine's; give "
                                      f"{named('engine')} too")
        return cal, None
    fmt = weights.strip().lower()
    kernel = _chosen(engine, chip, fmt, model, choice)
    if kernel is None or not model.is_moe:
        return cal, None
    update: dict[str, float | int | str] = {"moe_pad_hidden_to": kernel.pad_hidden_to,
                                      "moe_pad_intermediate_to": kernel.pad_intermediate_to}
    if kernel.activations is not None:  # the activations the kernel takes: the setting's default (format_choice)
        update["moe_activations"] = kernel.activations
    if kernel.token_vector_work:  # untuned Triton MoE: the per-token work the energy rows stating it carry
        update["moe_token_vector_flop"] = TRITON_MOE_TOKEN_VECTOR_FLOP  # set, as validation.moe_kernels does
    recipe = engine.moe_kernel_on(chip.id, fmt)
    if recipe is not None and recipe.kernel == kernel.kernel:  # the record's measured issue share and read rate
        update["moe_mma_peak_fraction"] = recipe.mma_peak_fraction
        if recipe.read_gb_per_s_per_sm is not None:
            if not chip.sm_count:
                raise SpecError(f"recipe_moe_kernel {recipe.kernel} on {chip.id}: a per-SM read rate needs the chip "
                                f"file's compute.sm_count, which {chip.id} does not state")
            update["moe_stream_cap_bytes_per_s"] = expert_stream_cap_bytes_per_s(chip.sm_count,
                                                                                 recipe.read_gb_per_s_per_sm)
    how = named_as("moe_kernel", choice) if choice is not None else f"{engine.name}'s default on {chip.family}"
    note = (f"experts served by {engine.name}'s {kernel.kernel} kernel ({how}): each routed expert's hidden width "
            f"padded to a multiple of {kernel.pad_hidden_to}, its per-rank width to {kernel.pad_intermediate_to}"
            + (", MMA and read rate as the engine's launch recipe for this chip" if "moe_mma_peak_fraction" in update
               else "")
            + (", with untuned Triton's per-token work beyond the MMA" if kernel.token_vector_work else "")
            + (f"; it takes {kernel.activations} activations (the default where {named('activations')} is not given)"
               if kernel.activations else ""))
    return cal.model_copy(update=update), note
