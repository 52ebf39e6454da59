"""One exploration run: the space, the search, the executor and the store together.

Each batch the search asks for is looked up in the store first: designs whose rows are all
there are read back (a resumed run does no work twice), the others are evaluated by the
executor and committed as one transaction. The run's rows are therefore the same whether it
ran through or was killed and started again with the same command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inferchip.explore.evaluate import suite_objectives
from inferchip.explore.executor import Executor, make_executor
from inferchip.explore.search import check_budget, grid, search, to_minimise
from inferchip.explore.store import Store
from inferchip.spec.design_space import DesignSpace, design_ids

Progress = Callable[[int, int], None]  # (designs done in this call, evaluated for the first time)


@dataclass
class RunResult:
    store_path: Path
    mode: str  # "grid" or "nsga2"
    designs: int  # distinct designs evaluated or read
    new_designs: int  # evaluated in this run (not read back)
    rows: int  # rows in the store


class StoreEvaluator:
    """Index vectors -> objectives to minimise, through the store and the executor."""

    def __init__(self, space: DesignSpace, store: Store, executor: Executor, models: list[str] | None,
                 progress: Progress | None = None):
        self.space, self.store, self.executor, self.models = space, store, executor, models
        self.progress = progress or (lambda done, new: None)
        self.space_json = space.to_json()
        self.new = 0
        self.ids: set[int] = set()

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, np.int64)
        params = self.space.decode(idx)
        ids = design_ids(params)
        done = self.store.done(ids)
        todo = np.flatnonzero(~done)
        if len(todo):
            _, first = np.unique(ids[todo], return_index=True)
            todo_u = todo[np.sort(first)]
            design, got = self.executor.run(self.space_json, self.models, idx[todo_u])
            sub = {p: v[todo_u] for p, v in params.items()}
            self.store.write(ids[todo_u], sub, design, got)
            self.new += len(todo_u)
        metrics = self.store.metrics_of(ids)  # read back: a resumed run scores exactly what it stored
        self.ids.update(int(i) for i in ids)
        self.progress(len(idx), len(todo))
        return to_minimise(suite_objectives(metrics))


def explore(space: DesignSpace, out_dir: str | Path, budget: int, seed: int = 0, *, workers: int | None = None,
            use_ray: bool = False, ray_address: str | None = None, models: list[str] | None = None,
            progress: Progress | None = None, on_start: Callable[[str, int], None] | None = None) -> RunResult:
    """Search ``space`` within ``budget`` designs and keep every evaluation in ``out_dir``."""
    from inferchip.explore.evaluate import default_suite

    check_budget(budget)
    suite_ids = default_suite(models).workload_ids
    executor = make_executor(use_ray, ray_address, workers)
    store = Store(out_dir, space, suite_ids)
    finished = False
    try:
        ev = StoreEvaluator(space, store, executor, models, progress)
        mode = "grid" if space.size <= budget else "nsga2"
        if on_start:
            on_start(mode, min(space.size, budget))
        if mode == "grid":
            grid(space, ev)
        else:
            search(space, budget, seed, ev)
        result = RunResult(store.path, mode, len(ev.ids), ev.new, store.count())
        finished = True
        return result
    finally:
        executor.close(abort=not finished)  # Ctrl-C, SIGTERM or an error: the queued chunks are not run
        store.close()
