"""One set of run bounds (inferchip.workload.limits): the command line and the API accept and refuse
the same seeds, request counts and users, each refusal naming the option or argument."""

from __future__ import annotations

import json

import pytest

import inferchip as ic
from cli_in_process import run_main
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli_options import options as opts
from inferchip.sim.load import arrivals
from inferchip.workload import limits

CHIP, MODEL = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.2-1B"
SMALL = {"input_tokens": 64, "output_tokens": 8}
SMALL_ARGS = ["--input-tokens", "64", "--output-tokens", "8"]


def test_the_cli_and_the_simulator_read_one_definition():
    for name in ("MAX_SEED", "MAX_REQUESTS", "MAX_CONCURRENCY"):
        assert getattr(opts, name) is getattr(limits, name) is getattr(arrivals, name, getattr(limits, name))
    assert limits.MAX_SEED == 2**63 - 1  # the largest signed 64-bit integer: a seed is stored as one


# (CLI arguments, the option the CLI names, API keywords, the argument the API names)
OUT_OF_RANGE = [
    (["--rate", "1", "--requests", "5", "--seed", str(limits.MAX_SEED + 1)], "--seed",
     {"rate_per_s": 1.0, "num_requests": 5, "seed": limits.MAX_SEED + 1}, "seed"),
    (["--rate", "1", "--requests", "5", "--seed", "-1"], "--seed", {"rate_per_s": 1.0, "num_requests": 5, "seed": -1},
     "seed"),
    (["--rate", "1", "--requests", str(limits.MAX_REQUESTS + 1)], "--requests",
     {"rate_per_s": 1.0, "num_requests": limits.MAX_REQUESTS + 1}, "num_requests"),
    (["--rate", "1", "--requests", "0"], "--requests", {"rate_per_s": 1.0, "num_requests": 0}, "num_requests"),
    (["--concurrency", str(limits.MAX_CONCURRENCY + 1)], "--concurrency",
     {"concurrency": limits.MAX_CONCURRENCY + 1, "num_requests": 5}, "concurrency"),
    # a Poisson load expecting more requests than the cap: rate x duration
    (["--rate", "100", "--duration", "86400"], "--duration", {"rate_per_s": 100.0, "duration_s": 86400.0},
     "duration_s"),
]


@pytest.mark.parametrize("args, option, kwargs, argument", OUT_OF_RANGE,
                         ids=[c[1] + " " + c[0][-1] for c in OUT_OF_RANGE])
def test_the_cli_and_the_api_refuse_the_same_value_naming_it(args, option, kwargs, argument):
    code, text = run_main(["serve", "--chip", CHIP, "--model", MODEL, *SMALL_ARGS, *args])
    assert code == 2, text
    assert text.startswith("error:") and option in text and "Traceback" not in text, text
    with pytest.raises(InvalidSettingError, match=argument):
        ic.serve(CHIP, MODEL, **SMALL, **kwargs)


def test_the_largest_seed_runs_in_both_with_the_same_result():
    code, text = run_main(["serve", "--chip", CHIP, "--model", MODEL, *SMALL_ARGS, "--rate", "2", "--requests", "8",
                           "--seed", str(limits.MAX_SEED), "--format", "json"])
    assert code == 0, text
    api = ic.serve(CHIP, MODEL, **SMALL, rate_per_s=2.0, num_requests=8, seed=limits.MAX_SEED)
    cli = json.loads(text)
    assert cli["num_completed"] == api["num_completed"] == 8
    assert cli["ttft_s_p50"] == pytest.approx(api["ttft_s_p50"], rel=1e-12)
