"""One split-K slice depth and one slice count (review36): the vision layers' split-K
(``cost.vision.layers.split_k``) and the LLM GEMMs' (``cost.gemm.split_slices``) read the same estimate, so a
change to it moves both, and the vision factor is the shared helper's."""

from __future__ import annotations

import numpy as np

from inferchip.catalog.chips import get_chip_params
from inferchip.cost import gemm
from inferchip.cost.vision import layers


def test_the_vision_split_k_depth_is_the_gemm_constant() -> None:
    assert layers.SPLIT_K_MIN_DEPTH is gemm.CUBLAS_SPLIT_K_MIN_DEPTH


def test_the_vision_split_k_factor_is_the_shared_slice_count() -> None:
    chip = get_chip_params("nvidia-h100-sxm-80gb")
    m = np.array([1.0, 8.0, 64.0, 200.0, 4096.0])
    for k in (64.0, 511.0, 512.0, 2880.0, 16384.0):
        for n in (64.0, 1024.0, 12288.0):
            got = layers.split_k(m, np.full_like(m, k), np.full_like(m, n), np.ones_like(m), chip)
            tm = gemm.m_tile(m, float(chip.gemm_tile_m))
            tiles = np.ceil(m / tm) * np.ceil(n / float(chip.gemm_tile_n))
            want = np.maximum(1.0, np.minimum(np.floor(float(chip.gemm_tiles_in_flight) / tiles), np.floor(k / 512.0)))
            np.testing.assert_array_equal(got, want)
