"""Which server model predicts a server row: the simulator, the analytic model, or ``auto``.

``auto`` picks per metric kind (throughput, TTFT, TPOT) the model with the lower
leave-one-accelerator-out median APE on the MLPerf Server/Interactive rows of the shipped
cases, measured by ``tools/calibration/choose_server_model.py`` (figures in docs/validation.md, "Server
model per metric"); reports say which model each kind used (:func:`server_choice_text`).
"""

from __future__ import annotations

from inferchip.validation.server import SERVER_MODELS

# The server model of each metric kind under ``server_model="auto"``: the one with the lower
# leave-one-accelerator-out median APE on the MLPerf Server/Interactive rows of the shipped cases
# (tools/calibration/choose_server_model.py; figures in docs/validation.md, "Server model per metric").
SERVER_MODEL_BY_METRIC = {"throughput": "analytic", "ttft": "sim", "tpot": "sim"}
SERVER_CHOICES = (*SERVER_MODELS, "auto")


def metric_kind(metric: str) -> str:
    """"ttft", "tpot" (TPOT and ITL) or "throughput" (every other performance metric)."""
    if metric == "ttft_ms":
        return "ttft"
    if metric in ("tpot_ms", "itl_ms"):
        return "tpot"
    return "throughput"


def server_model_for(metric: str, choice: str, offline: bool = False) -> str:
    """The server model that predicts a server row of ``metric`` under ``choice`` (sim, analytic, auto); an
    ``offline`` row (``plan.offline_by_use``: its engine pauses and recomputes) takes the simulated Offline run
    under auto."""
    if offline and choice == "auto":
        return "sim"
    return SERVER_MODEL_BY_METRIC[metric_kind(metric)] if choice == "auto" else choice


def server_choice_text(choice: str) -> str:
    """How ``choice`` reads in a report: "auto (throughput: analytic, ttft: sim, tpot: sim)"."""
    if choice != "auto":
        return choice
    return ("auto (closed loops: the simulated benchmark on the row's engine; other server rows: "
            + ", ".join(f"{k}: {v}" for k, v in SERVER_MODEL_BY_METRIC.items()) + ")")
