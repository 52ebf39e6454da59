"""The public API's vector and tool calls (``ic.sweep``, ``ic.chip_cost``, ``ic.curve``, ``ic.find_count``,
``ic.drive``): what a
notebook reaches for beside ``ic.predict``, answered as pandas DataFrames and records, never printed.

``sweep`` predicts every combination of chips, lengths and batch sizes, one DataFrame row each, the setting of each
chip resolved once (``ic.predict``'s cache of recent settings) and each point on the fast path; a point that does not
fit memory (or the latency limits) is a row with ``fits`` False, its figures NaN and ``refusal`` saying why, so a
sweep across the memory limit answers instead of stopping at the first batch that does not fit. ``chip_cost`` is
``inferchip cost``'s record and ``curve`` the throughput-interactivity curve ``ic.serve`` would simulate point by
point (its scheduler: the same running-batch cap and step budget, :func:`inferchip.performance.serving.serve`), its
points judged against an SLO at a percentile as ``inferchip curve`` judges them; ``find_count`` the fewest chips
whose ``ic.serve`` run meets an SLO, ``inferchip serve --find-count``'s search (:mod:`inferchip.sim.runs.slo`);
``drive`` a camera rig, ``inferchip drive``'s record.
"""

from inferchip.interfaces.api.serving import curve, find_count
from inferchip.interfaces.api.sweep import MAX_SWEEP_POINTS, sweep
from inferchip.interfaces.api.sweep_columns import recent_fast_layout
from inferchip.interfaces.api.tools import chip_cost, drive

__all__ = ["MAX_SWEEP_POINTS", "chip_cost", "curve", "drive", "find_count", "recent_fast_layout", "sweep"]
