"""``ic.chip_cost`` (``inferchip cost``'s record) and ``ic.drive`` (``inferchip drive``'s record)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inferchip.catalog.chips import ChipInput
from inferchip.errors import InvalidSettingError
from inferchip.spec.chip import ChipSpec

if TYPE_CHECKING:
    from inferchip.cost.chip_cost import ChipCost


def chip_cost(chip: ChipInput, *, estimate: str = "central", assumptions: str | None = None) -> ChipCost:
    """``inferchip cost``'s answer as a record: dies per wafer, yield, wafer, HBM and packaging cost against the
    chip's price (``ChipCost``; ``.to_dict()``). ``chip``: an id, a chip YAML's path or a ChipSpec; ``estimate``:
    low, central or high for estimated figures; ``assumptions``: a YAML merged over the bundled cost constants."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.chip_cost import chip_cost as cost_of
    from inferchip.performance.setting import estimate_level

    return cost_of(load_chip(chip), load_assumptions(assumptions), estimate_level(estimate))


def drive(chip: ChipInput, cameras: int, fps: float, models: Sequence[str] | None = None, *, count: int = 1,
          weights: str = "int8", deadline_ms: float | None = None, power_budget_w: float | None = None,
          duration_s: float = 60.0, seed: int = 0, batching: str = "tick", max_batch: int | None = None,
          phase_spread: float = 0.1, own_views: bool = False) -> dict[str, Any]:
    """``inferchip drive --format json`` as a call: ``cameras`` cameras at ``fps`` frames/s through ``models``
    (vision network ids or ONNX paths, ``@camera`` / ``@rig``; default BEVFormer-tiny over the rig, rebuilt at
    ``cameras`` views unless ``own_views``, as ``--own-views``) on ``count``
    chips at the number format ``weights``, the options named as ``ic.predict``'s and the keys as the JSON's
    (``chip_id``, ``num_chips``, ``weights``). At the rig's rate: ``average_power_w``, ``energy_per_frame_j`` (per
    camera frame) and ``rig_energy_per_cycle_j`` (a frame of every camera) = the networks'
    ``networks[i]["energy_per_cycle_j"]`` + ``idle_energy_per_cycle_j`` (:mod:`inferchip.sim.vision.rig_energy`).
    A bad argument raises InvalidSettingError naming it."""
    from pathlib import Path

    from inferchip.catalog.chips import load_chip
    from inferchip.interfaces.cmd_drive import JSON_KEYS
    from inferchip.performance.vision_drive import drive as simulate
    from inferchip.spec.formats import check_format

    check_format(weights, "weights")  # named as this call's keyword (the layer's is precision=)
    if not isinstance(chip, ChipSpec | str | Path):
        load_chip(chip)  # None or a number named as every call names it (str(None) was "unknown chip 'None'")
    if isinstance(models, str | bytes):  # iterated letter by letter: "unknown vision network 'r'"
        raise InvalidSettingError(f"models = {models!r} is one string; allowed: a list of network ids or ONNX paths "
                                  f"(models=[{models!r}]), or None for bevformer-tiny@rig")
    r = simulate(chip if isinstance(chip, ChipSpec) else str(chip), cameras, fps, models, chips=count,
                 precision=weights, deadline_ms=deadline_ms, power_budget_w=power_budget_w, duration_s=duration_s,
                 seed=seed, batching=batching, max_batch=max_batch, phase_spread=phase_spread, own_views=own_views)
    return {JSON_KEYS.get(k, k): v for k, v in r.items()}
