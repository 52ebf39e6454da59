"""The run's store: ``DIR/explore.duckdb``, one row per (design, workload), committed in batches.

Table ``evaluations`` is keyed by (``design_id``, ``workload_id``): the design's parameters,
its area, dies, TDP and cost, then the workload's metrics. Table ``meta`` holds the space
(its hash and JSON) and the suite's workloads. A store is for one space: opening it with
another space is refused (:class:`ForeignStoreError`), so runs never mix. A batch is written in
one transaction: a run killed at any point keeps every batch it committed, and a rerun skips
the designs whose rows are all there (:meth:`Store.done`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from inferchip.errors import InferchipError, OutputError
from inferchip.explore.evaluate import METRICS
from inferchip.input_files import is_regular_file
from inferchip.spec.design_space import CATEGORICAL, PARAMETERS, DesignSpace

STORE_FILE = "explore.duckdb"
DESIGN_COLUMNS = ("area_mm2", "dies", "tdp_w", "cost_usd", "feasible")


class ForeignStoreError(InferchipError):
    """``--out`` holds another run's store (a different space or suite)."""


def _sql_type(p: str) -> str:
    return "VARCHAR" if p in CATEGORICAL else "DOUBLE"


class Store:
    def __init__(self, out_dir: str | Path, space: DesignSpace, workload_ids: list[str]):
        import duckdb

        self.dir = Path(out_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--out {self.dir}: cannot create the folder ({exc.strerror or exc})") from exc
        self.path = self.dir / STORE_FILE
        self.workload_ids = list(workload_ids)
        if self.path.exists() and not is_regular_file(self.path):  # duckdb.connect blocks for ever on a pipe
            what = "a folder" if self.path.is_dir() else "a pipe or a device"
            raise OutputError(f"--out {self.dir}: {self.path.name} is {what}, not a store; allowed: a folder "
                              f"without {self.path.name}, or one holding a store of this space")
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise OutputError(f"--out {self.dir}: {self.path.name} cannot be opened as a store ({exc})") from exc
        self._check_or_init(space)

    def _check_or_init(self, space: DesignSpace) -> None:
        con = self.con
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "meta" in tables:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("space_hash") != space.space_hash:
                raise ForeignStoreError(
                    f"--out {self.dir}: holds the store of another space (its hash {meta.get('space_hash')}, "
                    f"this space's {space.space_hash}); choose another --out folder (nothing was changed)")
            stored = json.loads(meta.get("workloads", "[]"))
            if stored != self.workload_ids:  # a workload costed otherwise has another id (driving: its views)
                gone = [w for w in stored if w not in self.workload_ids] or ["none"]
                new = [w for w in self.workload_ids if w not in stored] or ["none (their order differs)"]
                raise ForeignStoreError(f"--out {self.dir}: holds a run over other workloads (stored, not in this "
                                        f"suite: {', '.join(gone)}; this suite's, not stored: {', '.join(new)}); "
                                        "choose another --out folder (nothing was changed)")
            return
        if tables:
            raise ForeignStoreError(f"--out {self.dir}: {self.path.name} is a database inferchip did not write as an "
                                    "explore store; choose another --out folder (nothing was changed)")
        cols = ", ".join(f'"{p}" {_sql_type(p)}' for p in PARAMETERS)
        dcols = ", ".join(f"{c} DOUBLE" if c != "feasible" else "feasible BOOLEAN" for c in DESIGN_COLUMNS)
        mcols = ", ".join(f"{m} DOUBLE" for m in METRICS)
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(f"CREATE TABLE evaluations (design_id UBIGINT, workload_id VARCHAR, {cols}, {dcols}, {mcols}, "
                    "PRIMARY KEY (design_id, workload_id))")
        con.executemany("INSERT INTO meta VALUES (?, ?)", [("space_hash", space.space_hash),
                                                           ("space", space.to_json()),
                                                           ("workloads", json.dumps(self.workload_ids))])
        con.execute("COMMIT")

    def done(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` have a row for every workload (bool per id)."""
        if len(ids) == 0:
            return np.zeros(0, bool)
        import pandas as pd

        q = pd.DataFrame({"design_id": np.asarray(ids, dtype=np.uint64)})
        self.con.register("q", q)
        rows = self.con.execute("SELECT e.design_id, count(*) FROM evaluations e JOIN (SELECT DISTINCT design_id "
                                "FROM q) q USING (design_id) GROUP BY e.design_id").fetchall()
        self.con.unregister("q")
        full = {int(i) for i, n in rows if n == len(self.workload_ids)}
        return np.array([int(i) in full for i in ids], dtype=bool)

    def metrics_of(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Stored metrics of designs (all done) as (designs x workloads) arrays, in ``ids`` order."""
        import pandas as pd

        q = pd.DataFrame({"design_id": np.asarray(ids, dtype=np.uint64)})
        self.con.register("q", q)
        df = self.con.execute("SELECT * FROM evaluations WHERE design_id IN (SELECT design_id FROM q)").df()
        self.con.unregister("q")
        w = {wid: j for j, wid in enumerate(self.workload_ids)}
        pos = {int(i): k for k, i in enumerate(ids)}
        out = {m: np.zeros((len(ids), len(w))) for m in METRICS}
        r = np.array([pos[int(i)] for i in df["design_id"]], dtype=np.intp)
        c = np.array([w[x] for x in df["workload_id"]], dtype=np.intp)
        for m in METRICS:
            out[m][r, c] = df[m].to_numpy(dtype=float)
        return out

    def write(self, ids: np.ndarray, params: dict[str, np.ndarray], design: dict[str, np.ndarray],
              metrics: dict[str, np.ndarray]) -> int:
        """Insert the rows of these designs (skipping any already stored), in one transaction."""
        import pandas as pd

        n, w = len(ids), len(self.workload_ids)
        if n == 0:
            return 0
        cols: dict[str, Any] = {"design_id": np.repeat(np.asarray(ids, dtype=np.uint64), w),
                                "workload_id": np.tile(np.asarray(self.workload_ids, dtype=object), n)}
        for p in PARAMETERS:
            v = np.asarray(params[p])
            cols[p] = np.repeat(v.astype(object) if p in CATEGORICAL else v.astype(float), w)
        for c in DESIGN_COLUMNS:
            cols[c] = np.repeat(np.asarray(design[c]), w)
        for m in METRICS:
            cols[m] = np.asarray(metrics[m], dtype=float).reshape(-1)
        df = pd.DataFrame(cols)
        self.con.register("batch", df)
        try:
            self.con.execute("BEGIN TRANSACTION")
            before = self.count()
            self.con.execute("INSERT OR IGNORE INTO evaluations SELECT * FROM batch")
            added = self.count() - before
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("batch")
        return added

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM evaluations").fetchone()
        return int(row[0]) if row else 0

    def frame(self) -> Any:
        """Every row, ordered by key (a pandas DataFrame)."""
        return self.con.execute("SELECT * FROM evaluations ORDER BY design_id, workload_id").df()

    def close(self) -> None:
        self.con.close()
