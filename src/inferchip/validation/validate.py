"""Predict every published measurement in its own setting, and the error statistics.

Each case becomes a plan (:mod:`inferchip.validation.plan`: lengths, load, limits, and the analytic evaluation on one
layout). :class:`Validator` picks the parallel layout (the row's, or ``predict``'s choice among those the row allows:
:func:`~inferchip.performance.layout_choice.choose_layout`), converts to the row's metric and caches repeated settings
(each at the rows' prefill chunk, ``mapped.DEFAULT_CHUNK_TOKENS``, stated: not the engine's on the chip that
``resolve_setting`` defaults to, and unpadded: not the default engine's step padding on a TPU or a Gaudi, the rows
ran their own stacks). Errors are percentages: signed ``100 (pred - meas) / meas``, APE its absolute value.

Server rows without a concurrency (MLPerf Server/Interactive, open loops at a stated rate) have two models:
``"analytic"`` (p99 limits scaled to means, Little's law) and ``"sim"`` (the serving simulator on the layout the
analytic search chose, :mod:`inferchip.validation.server`). ``Validator(cal, server_model=...)`` says which one
predicts; with ``compare=True`` both run and each result keeps both values (:func:`server_comparison`).
:class:`Validator` defaults to the analytic model, which ``calibrate`` relies on for speed (its fast path
:func:`evaluate_fixed` is analytic);
:func:`validate_cases` and ``inferchip validate`` default to ``"auto"``: closed-loop rows (a server
row with a concurrency and stated lengths) are simulated as the benchmark ran them, on the row's engine
(:mod:`inferchip.validation.closed_loop`), under ``"sim"`` and ``"auto"``; other server rows take, per metric
kind, the model with the lower leave-one-accelerator-out error (``SERVER_MODEL_BY_METRIC``); static batches
and max-throughput rows stay analytic. Both models run with ``compare``.

Energy rows (``power_w_wall_total``, ``power_w_board_total``, ``output_tokens_per_j_wall``,
``output_tokens_per_j_board``; ``shared/validation/energy_cases.csv``) are predicted by
:func:`inferchip.validation.energy.rows.predict_energy_row` in the row's setting: power from the energy constants of
the assumptions file (the busy power fraction and the host energy per request fitted on energy rows,
:mod:`inferchip.validation.energy.power_fit`), wall power with the stated host model, tokens per joule as predicted
throughput over predicted power. Their statistics are kept apart per scope (:func:`summarize`, ``"kinds"``), never
mixed into the performance figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from inferchip.errors import InvalidSettingError
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.cases import Case, read_cases
from inferchip.validation.plan import (  # re-exported: the validation's public names
    E2E_P99_OVER_MEAN,
    LENGTH_POINTS,
    LENGTH_SIGMA,
    QUEUE_WAIT_STEPS,
    TPOT_P99_OVER_MEAN,
    TTFT_P99_OVER_MEAN,
    LengthDist,
    NotPredictable,
    OperatingPoint,
    Plan,
    case_formats,
    is_closed_loop,
    max_concurrency,
    metric_value,
    operating_point,
    plan_for,
    run_plan,
    uses_simulator,
)
from inferchip.validation.results import CaseResult
from inferchip.validation.server import SERVER_MODELS
from inferchip.validation.server_choice import (  # re-exported: how the server model is chosen
    SERVER_CHOICES,
    SERVER_MODEL_BY_METRIC,
    metric_kind,
    server_choice_text,
    server_model_for,
)
from inferchip.validation.stats import GROUP_KEYS, SERVER_GROUPS, case_kind, error_stats, server_comparison, summarize
from inferchip.validation.validator import Validator, evaluate_fixed  # re-exported: one case's prediction

__all__ = [  # with the statistics' public names above, re-exported
    "E2E_P99_OVER_MEAN", "LENGTH_POINTS", "LENGTH_SIGMA", "QUEUE_WAIT_STEPS", "SERVER_MODELS", "TPOT_P99_OVER_MEAN",
    "TTFT_P99_OVER_MEAN", "CaseResult", "LengthDist", "NotPredictable", "OperatingPoint", "Plan", "Validator",
    "case_formats", "error_stats", "evaluate_fixed", "max_concurrency", "metric_value", "operating_point",
    "plan_for", "server_comparison", "summarize", "uses_simulator", "validate", "validate_cases", "GROUP_KEYS",
    "SERVER_CHOICES", "SERVER_MODEL_BY_METRIC", "metric_kind", "run_plan", "server_choice_text", "server_model_for",
    "SERVER_GROUPS", "case_kind",
]


def validate_cases(cases: Sequence[Case], cal: Calibration, *, lengths: DatasetLengths | None = None,
                   progress: Callable[[int], None] | None = None,
                   validator: Validator | None = None, server_model: str = "auto", compare: bool = True,
                   workers: int = 1, assumptions: str | None = None, engine: str | None = None) -> list[CaseResult]:
    """Predict every case (server rows by ``server_model``, the other one too with ``compare``);
    ``progress`` is called with the number of cases done. With ``workers > 1`` (and no
    ``validator`` given) the rows of each system (accelerator, count, model) go to one of
    ``workers`` processes; every prediction is the same as in one process."""
    if validator is not None or workers <= 1 or len(cases) < 2:
        v = validator or Validator(cal, lengths=lengths, server_model=server_model, compare=compare,
                                   assumptions=assumptions, engine=engine)
        out = []
        for k, case in enumerate(cases, start=1):
            out.append(v.predict_case(case))
            if progress is not None:
                progress(k)
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from inferchip.pools import stopping_pool

    groups: dict[tuple[str | int | float | None, ...], list[int]] = {}
    for i, c in enumerate(cases):
        # closed-loop rows also by engine text and lengths: groups of one configuration's runs (they share
        # a simulation), small enough to keep both workers busy and the progress bar moving
        extra = (c.software, c.input_tokens, c.output_tokens) if is_closed_loop(c) else ()
        groups.setdefault((c.accelerator, c.num_accelerators, c.model, *extra), []).append(i)
    # The simulated rows are the costly ones: largest groups first keeps the workers evenly busy.
    order = sorted(groups.values(), key=lambda g: -sum(1 + 20 * (cases[i].scenario == "server") for i in g))
    slots: list[CaseResult | None] = [None] * len(cases)
    done = 0
    # Ctrl-C, SIGTERM (the CLI's Terminated) or a failed group: the groups not started are cancelled and
    # the workers stopped, not waited for (inferchip.pools)
    with stopping_pool(ProcessPoolExecutor(max_workers=workers)) as pool:
        futures = {pool.submit(_predict_group, [cases[i] for i in g], cal, server_model, compare, assumptions,
                               lengths, engine): g
                   for g in order}
        for fut in as_completed(futures):
            for i, r in zip(futures[fut], fut.result(), strict=True):
                slots[i] = r
            done += len(futures[fut])
            if progress is not None:
                progress(done)
    return [r for r in slots if r is not None]


def validate(*paths: str | Path, calibration: Calibration | str | None = None, server_model: str = "auto",
             compare: bool = True, workers: int = 1, assumptions: str | None = None,
             engine: str | None = None) -> list[CaseResult]:
    """Predict every published measurement in the case files ``paths`` (CSV, one argument each; none: the shipped
    ``validation_cases.csv``) in its own setting. ``calibration``: a Calibration, a YAML path, ``"none"`` or None (the
    shipped one; a file also gives the MLPerf mean input lengths). Each :class:`CaseResult` holds the prediction in the
    row's unit (``predicted``), the measurement, the signed error and APE in percent, the layout and why a row was not
    predicted (a table: ``pandas.DataFrame(r.to_dict() for r in results)``); :func:`summarize` gives the statistics."""
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    for p in paths:  # a list was pathlib's bare TypeError from deep inside (stop 50)
        if not isinstance(p, str | Path):
            raise InvalidSettingError(f"paths: {p!r} ({type(p).__name__}) is no case file; allowed: CSV paths, one "
                                      "argument each (validate('a.csv', 'b.csv'), validate(*files))")
    files = paths or (str(Path(__file__).resolve().parents[1] / "catalog" / "validation_cases.csv"),)
    cases = [c for p in files for c in read_cases(p)]
    if isinstance(calibration, Calibration):  # the data-set lengths: the defaults, as predict_energy_row
        cal, lengths = calibration, DatasetLengths()
    else:
        cal, lengths = load_calibration(calibration), load_dataset_lengths(calibration)
    return validate_cases(cases, cal, lengths=lengths, server_model=server_model, compare=compare, workers=workers,
                          assumptions=assumptions, engine=engine)


def _predict_group(cases: list[Case], cal: Calibration, server_model: str, compare: bool,
                   assumptions: str | None = None, lengths: DatasetLengths | None = None,
                   engine: str | None = None) -> list[CaseResult]:
    v = Validator(cal, lengths=lengths, server_model=server_model, compare=compare, assumptions=assumptions,
                  engine=engine)
    return [v.predict_case(c) for c in cases]
