"""Ctrl-C in a command says so on stderr and exits 130, as the CLI's docstring and the README say (stop 36: typer
turns the KeyboardInterrupt into a silent return of 130, so an interrupted `inferchip validate` said nothing)."""

from __future__ import annotations

import pytest

from cli_in_process import run_main


@pytest.mark.parametrize("where", ["predict", "serve"])
def test_an_interrupted_command_says_interrupted_and_exits_130(monkeypatch, where):
    def interrupt(*_args, **_kwargs):
        raise KeyboardInterrupt

    if where == "predict":
        import inferchip.performance.predict

        monkeypatch.setattr(inferchip.performance.predict, "predict_on", interrupt)  # what the command asks
        argv = ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--batch", "1"]
    else:
        import inferchip.sim

        monkeypatch.setattr(inferchip.sim, "simulate_client", interrupt)
        argv = ["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--tp", "1",
                "--rate", "5", "--requests", "10"]
    code, out = run_main(argv)
    assert code == 130 and "interrupted" in out, out[-300:]
