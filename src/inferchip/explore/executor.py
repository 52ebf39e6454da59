"""Where evaluations run: in this process, a local process pool (default), or a Ray cluster.

Every executor evaluates chunks of designs with the same function (:func:`evaluate_chunk`)
and returns the chunks in order, so a batch's results do not depend on the executor or the
number of workers. Ray is optional (``pip install inferchip[ray]``): without it ``--ray``
says so; an address that cannot be reached is refused with the address named.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from inferchip.errors import InferchipError, InvalidSettingError

Result = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]  # (design physics, metrics)
_CACHE: dict[str, Any] = {}


class RayUnavailableError(InferchipError):
    """--ray asked for but Ray is not installed, or its address cannot be reached."""


def evaluate_chunk(task: tuple[str, list[str] | None, np.ndarray]) -> Result:
    """Physics and metrics of the designs at index vectors ``idx`` of the space given as JSON.
    The suite and assumptions are built once per process and kept."""
    import json

    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.explore.designs import designs_from_index
    from inferchip.explore.evaluate import default_suite, evaluate
    from inferchip.spec.design_space import DesignSpace

    space_json, models, idx = task
    key = json.dumps([space_json, models])
    if _CACHE.get("key") != key:
        raw = json.loads(space_json)
        _CACHE.update(key=key, space=DesignSpace(raw["values"], raw["name"], raw["max_dies"]),
                      suite=default_suite(models), a=load_assumptions())
    ch = designs_from_index(_CACHE["space"], idx, _CACHE["a"])
    metrics = evaluate(_CACHE["suite"], ch)
    design = {"ids": ch.ids, "area_mm2": ch.area_mm2, "dies": ch.dies, "tdp_w": ch.tdp_w, "cost_usd": ch.cost_usd,
              "feasible": ch.feasible}
    return design, metrics


def _merge(parts: list[Result]) -> Result:
    design = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    metrics = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    return design, metrics


def _chunks(idx: np.ndarray, n: int) -> list[np.ndarray]:
    return [c for c in np.array_split(idx, max(1, n)) if len(c)]


class Executor:
    """Runs :func:`evaluate_chunk` over a batch split into chunks; results in batch order."""

    name = "inline"
    workers = 1

    def map(self, fn: Callable[[Any], Result], tasks: list[Any]) -> list[Result]:
        return [fn(t) for t in tasks]

    def run(self, space_json: str, models: list[str] | None, idx: np.ndarray) -> Result:
        tasks = [(space_json, models, c) for c in _chunks(idx, self.workers)]
        return _merge(self.map(evaluate_chunk, tasks))

    def close(self, abort: bool = False) -> None:
        """Release the workers; ``abort`` (Ctrl-C, SIGTERM, a failed batch): stop them without waiting."""
        return None


class LocalExecutor(Executor):
    """A pool of ``workers`` processes (capped at the cores); one worker runs inline."""

    name = "local"

    def __init__(self, workers: int | None = None):
        cores = os.cpu_count() or 1
        if workers is not None and workers < 1:
            raise InvalidSettingError(f"--workers: must be at least 1, got {workers}")
        self.workers = min(workers or cores, cores)
        self._pool: Any = None

    def map(self, fn: Callable[[Any], Result], tasks: list[Any]) -> list[Result]:
        if self.workers == 1 or len(tasks) == 1:
            return [fn(t) for t in tasks]
        if self._pool is None:
            import multiprocessing as mp

            from inferchip.errors import current_spelling, use_spelling

            # spawned workers start fresh: they name settings as the command that started them (--tp, not tp=)
            self._pool = mp.get_context("spawn").Pool(self.workers, initializer=use_spelling,
                                                      initargs=(current_spelling(),))
        return list(self._pool.map(fn, tasks))

    def close(self, abort: bool = False) -> None:
        if self._pool is not None:
            if abort:  # the chunks queued are dropped and the workers ended (close + join would run them all)
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None


class RayExecutor(Executor):
    """The same chunks as Ray tasks, on a local Ray instance or the cluster at ``address``."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ModuleNotFoundError as exc:
            raise RayUnavailableError("--ray: Ray is not installed; install the extra with "
                                      "`pip install 'inferchip[ray]'` (or run without --ray)") from exc
        self._ray = ray
        self._started = not ray.is_initialized()  # shut down at close only what this executor started
        try:
            if self._started:
                ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError or its own types
            raise RayUnavailableError(f"--ray-address {address}: cannot connect to a Ray cluster there ({exc})") \
                from exc
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(workers or cpus, cpus))
        self._remote = ray.remote(evaluate_chunk)

    def map(self, fn: Callable[[Any], Result], tasks: list[Any]) -> list[Result]:
        return list(self._ray.get([self._remote.remote(t) for t in tasks]))

    def close(self, abort: bool = False) -> None:
        if self._started:  # Ray's shutdown ends this driver's tasks either way
            self._ray.shutdown()


def make_executor(use_ray: bool, address: str | None, workers: int | None) -> Executor:
    if address is not None and not use_ray:
        raise InvalidSettingError("--ray-address: needs --ray")
    return RayExecutor(address, workers) if use_ray else LocalExecutor(workers)
