"""The MLPerf v5.1 AMD MI300X Llama-2-70B Server rows state the vLLM multi-step scheduling of the submission's
stored Llama-2-70B MI300X harness configuration (``num_scheduler_steps 11``), and the simulator runs them as an
engine that takes new requests every 11 decode steps (docs/serving_journal.md, branch ``calib-tail37``)."""

from __future__ import annotations

from pathlib import Path

from inferchip.sim.engines.polling import PollingReplica
from inferchip.validation.cases import read_cases
from inferchip.validation.stated_engine import replica_factory, stated_scheduling

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "validation_cases.csv"
SERVER = "mlp51-llama2-70b-99-server-mi300xx8-amd"


def _rows() -> dict[str, object]:
    return {c.case_id: c for c in read_cases(CASES)}


def test_the_three_server_rows_state_eleven_steps_with_their_source():
    rows = _rows()
    server = {k: c for k, c in rows.items() if k.startswith(SERVER)}
    assert set(server) == {SERVER, SERVER + "-tpot", SERVER + "-ttft"}
    for c in server.values():
        s = stated_scheduling(c.case_id, c.notes)
        assert s.recv_interval_steps == 11
        assert "offline_mi300x.yaml" in c.notes and "not in any stored copy" in c.notes
        factory, why = replica_factory(s, 1)
        assert factory.func is PollingReplica and factory.keywords == {"recv_interval_steps": 11}
        assert "every 11 decode steps" in why


def test_no_other_row_states_multi_step_scheduling():
    """The Interactive run's configuration is not stored either, and no other submission states the setting."""
    stated = {k for k, c in _rows().items() if stated_scheduling(k, c.notes).recv_interval_steps > 1}
    assert stated == {SERVER, SERVER + "-tpot", SERVER + "-ttft"}


def test_the_runs_own_latencies_fit_a_wait_for_an_eleven_step_block():
    """By hand, from the run's mlperf_log_summary (the rows' values): mean TTFT 918.5 ms over mean TPOT 144.6 ms is
    6.35 TPOTs. A Poisson arrival lands uniformly in a block of N = 11 decode steps (waits N / 2 = 5.5 steps) and
    then takes its own prefill step (about one step more): 6.5 TPOTs, 2.3 % off. Without multi-step scheduling the
    wait is about half a step plus the prefill, 1.5 TPOTs."""
    rows = _rows()
    ratio = rows[SERVER + "-ttft"].value / rows[SERVER + "-tpot"].value
    assert abs(ratio - 918.5 / 144.6) < 1e-9
    n = 11
    assert abs(ratio - (n / 2 + 1)) / ratio < 0.03
    assert abs(ratio - 1.5) / ratio > 0.7
