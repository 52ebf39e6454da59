"""Decode workers whose expert dispatch routes no CUDA-graph padding row (engines.yaml ``decode_worker``
``padded_rows_routed: false``; SGLang ``--moe-a2a-backend deepep``): their steps are priced at the real rows
(``sim.engines.engine_step.EngineStepModel``), and the shipped entries say which Dynamo + SGLang recipes do so."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.catalog.engines import get_engine
from inferchip.cost.gemm import m_tile
from inferchip.sim.engines import EngineStepModel, padded_batch
from inferchip.sim.step.protocol import LinearStepModel
from inferchip.spec.engine.workers import DecodeWorker

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"
ONE = np.array([0])


def _step(routed: bool, verify: int = 0) -> EngineStepModel:
    # 1 ms per token (GEMM and expert work), 0.1 ms per decoding sequence
    return EngineStepModel(LinearStepModel(per_token_s=1e-3, per_decode_seq_s=1e-4), graph_batch_step=8,
                           graph_max_batch=512, verify_tokens=verify, ranks=4, padded_rows_routed=routed)


@pytest.mark.parametrize(("n", "padded_ms", "real_ms"), [
    (1, 4 * 1.1, 1.1),     # one decode on 4 ranks: every rank runs its 1-row graph; only the real row is routed
    (17, 32 * 1.1, 17 * 1.1),  # 17 on 4 ranks: 5 on the busiest -> the 8-row graph on each, 32 rows
    (32, 32 * 1.1, 32 * 1.1),  # 8 a rank: no padding either way
])
def test_a_step_is_priced_at_its_real_rows_where_padding_reaches_no_expert(n, padded_ms, real_ms):
    for routed, want in ((True, padded_ms), (False, real_ms)):
        t = _step(routed).step_time_s(np.array([n]), np.array([n]), ONE, ONE)
        assert float(t[0]) * 1e3 == pytest.approx(want)


def test_mtp_verify_tokens_ride_on_the_real_rows_only():
    # 3 decodes, 1 draft each, on 4 ranks: routed 4 padded rows x 2 tokens + 4 sequences; else 3 x 2 + 3
    assert float(_step(True, 1).step_time_s(np.array([3]), np.array([3]), ONE, ONE)[0]) * 1e3 == pytest.approx(8.4)
    assert float(_step(False, 1).step_time_s(np.array([3]), np.array([3]), ONE, ONE)[0]) * 1e3 == pytest.approx(6.3)


@pytest.mark.parametrize("ranks", [1, 4, 32, 48])
def test_the_dense_gemms_keep_their_tiles_at_the_real_rows(ranks):
    """The busiest chip's dense rows at the real count (the step model's even share, ``n / min(ranks, n)``)
    and at the captured size fall in the same M tile and the same number of 128-row tiles, so dropping the
    padding moves only the activation bytes of the dense work (the module doc's claim)."""
    for n in range(1, 512 * ranks + 1):
        real = n / min(ranks, n)
        graph = float(padded_batch(np.asarray(-(-n // ranks)), 8, 512))
        assert float(m_tile(real, 128.0)) == float(m_tile(graph, 128.0)), (ranks, n)
        assert np.ceil(real / 128.0) == np.ceil(graph / 128.0), (ranks, n)


def test_the_deepep_recipes_route_no_padding_and_the_others_do():
    dyn = get_engine("dynamo")
    # FP8 1k/1k low latency (1p_4d.sh: 4 decode workers of 4 GPUs, DeepEP low latency)
    assert dyn.decode_worker_on(SGL, "fp8", 1024, 4, 1).padded_rows_routed is False
    # the one-worker attention-DP decode pools (DeepEP low latency in every recipe read)
    for args in (("fp8", 1024, 1, 6), ("fp8", 1024, 1, 4), ("fp8", 8192, 1, 5), ("fp4", 1024, 1, 4),
                 ("fp4", 8192, 1, 6), ("fp4", 8192, 1, 10)):
        assert dyn.decode_worker_on(SGL, *args).padded_rows_routed is False, args
    # TP4 low-latency workers (flashinfer MoE, no DeepEP) and the generic entry keep the padded rows routed
    assert dyn.decode_worker_on(SGL, "fp4", 1024, 2, 1).padded_rows_routed is True
    assert dyn.decode_worker_on(SGL, "fp4", 8192, 4, 1).padded_rows_routed is True
    assert dyn.decode_worker_on(SGL, "fp8", 8192, 1, 1).padded_rows_routed is True
    assert DecodeWorker(software="x").padded_rows_routed is True


def test_a_non_boolean_setting_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="padded_rows_routed"):
        DecodeWorker(software="sglang", padded_rows_routed="sometimes")


def test_the_fp8_low_latency_row_prices_a_lone_decode_at_its_real_row(monkeypatch):
    """The FP8 1k/1k ``p4-d16`` row at 4 clients (one request per 4-rank decode worker): its note names the
    recipe's dispatch, and its TPOT falls against the same row with the padded rows routed (12.9 -> 10.5 ms on
    this branch, 10.0 ms measured), since the experts then read the weights of one token's 8 experts, not 4's."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.spec.engine import EngineSpec
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    case = next(c for c in read_cases("src/inferchip/catalog/inferencemax_cases.csv")
                if "fp8-disagg-p4x1e1dpa-d16x1e1dpa-1024-1024-c4-" in c.case_id and c.metric == "tpot_ms")
    new = Validator(load_calibration(None), server_model="sim", compare=False).predict_case(case)
    assert any("padded_rows_routed" in n for n in new.notes)
    orig = EngineSpec.decode_worker_on
    monkeypatch.setattr(EngineSpec, "decode_worker_on",
                        lambda self, *a: orig(self, *a).model_copy(update={"padded_rows_routed": True}))
    old = Validator(load_calibration(None), server_model="sim", compare=False).predict_case(case)
    assert not any("padded_rows_routed" in n for n in old.notes)
    assert new.predicted < 0.85 * old.predicted
