"""A stand-in vision cost model for the rig and scenario tests: a roofline-like service time from the
chip's own peak, so tests do not depend on the real cost model's calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferchip.catalog.chips import family_defaults
from inferchip.spec.chip import chip_params

GMAC = {"bevformer-tiny": 190.2, "ssd-resnet50-cognata-8mp": 1851.9, "planner": 5.0, "resnet50-v1.5": 4.089}
VIEWS = {"bevformer-tiny": 6}


@dataclass(frozen=True)
class FakeNet:
    name: str
    gmac: float
    cameras: int = 1


@dataclass(frozen=True)
class FakeCost:
    latency_s: np.ndarray
    energy_j: np.ndarray
    power_w: np.ndarray


def load_network(name: str) -> FakeNet:
    from inferchip.errors import UnknownIdError

    if name not in GMAC:
        raise UnknownIdError("model", name, list(GMAC))
    return FakeNet(name, GMAC[name], VIEWS.get(name, 1))


def frame_cost(chip, network, batch, *, precision="int8", chips=1):
    p = chip_params(chip, family_defaults(chip.family))
    peak = max(p.peak_flop_per_s.get(precision, 0.0), max(p.peak_flop_per_s.values()) / 4) * chips
    b = np.asarray(batch, dtype=float)
    lat = 2e-4 + b * network.gmac * 2e9 / (0.5 * peak)
    tdp = p.tdp_w * chips if np.isfinite(p.tdp_w) else 100.0
    power = np.full(b.shape, 0.85 * tdp)
    return FakeCost(lat, power * lat, power)
